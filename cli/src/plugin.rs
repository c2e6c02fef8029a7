//! `twoway plugin new | check | run`: start a workflow crate from a
//! template, check a component against the world, and run one call of a
//! tenant's workflow through the real host path (its session, mutual TLS and
//! limits) without serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;

use super::exit::CliError;
use super::request::{self, RequestArgs};
use super::tenant::{TenantArgs, find_tenant, upstream_of};
use twoway::config;
use twoway::gateway::IntoResponse;
use twoway::plugin::{self, CallContext, Header, InboundRequest, Runtime, version_id};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a new workflow crate NAME: a getUserInfo example with a test on
    /// the SDK's fake host; `cargo test` and `cargo build --release --target
    /// wasm32-wasip2` work in it as written.
    New {
        /// The crate's name: lower case letters, digits, `-` and `_`.
        name: String,
        /// Where to write it [default: ./NAME]; must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The plugin SDK (`plugins/sdk` of a twoway checkout) [default: the
        /// one this binary was built from, when it is still there].
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Compile FILE and link it against the world `twoway:gateway/workflow`,
    /// as the gateway would; show its size, version id, imports and exports.
    Check {
        /// The component (.wasm).
        file: PathBuf,
        /// Print the result as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run one call of a tenant's workflow (as configured: component, config
    /// and limits) with the tenant's session, without serving; prints the
    /// workflow's answer (the status line on stderr).
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// The workflow's name in the tenant.
    #[arg(long)]
    pub workflow: String,
    /// The path the workflow sees (the route's rest).
    #[arg(long, default_value = "/")]
    pub path: String,
    /// The query string the workflow sees, without `?`.
    #[arg(long, default_value = "")]
    pub query: String,
    #[command(flatten)]
    pub request: RequestArgs,
}

impl PluginCommand {
    /// True when the command prints JSON on stdout.
    pub fn json(&self) -> bool {
        match self {
            Self::Check { json, .. } => *json,
            Self::Run(args) => args.request.json,
            Self::New { .. } => false,
        }
    }
}

pub async fn run_plugin(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New { name, dir, sdk } => new(&name, dir, sdk),
        PluginCommand::Check { file, json } => check(&file, json).await,
        PluginCommand::Run(args) => run(args).await,
    }
}

const CARGO_TOML: &str = include_str!("../template/Cargo.toml.in");
const LIB_RS: &str = include_str!("../template/lib.rs.in");
const GITIGNORE: &str = include_str!("../template/gitignore.in");

/// Where this binary's SDK was, when it was built from a checkout.
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/sdk");

fn new(name: &str, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> anyhow::Result<()> {
    check_crate_name(name)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(CliError::Usage(format!(
            "{} exists and is not empty: pick another --dir or remove it",
            dir.display()
        ))
        .into());
    }
    let sdk = sdk.unwrap_or_else(|| PathBuf::from(BUILT_SDK));
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no plugin SDK at {}: pass --sdk PATH (the plugins/sdk folder of a twoway checkout)",
                sdk.display()
            ))
        })?;
    let sdk_text = sdk.to_str().ok_or_else(|| {
        CliError::Usage(format!("--sdk {}: the path is not UTF-8", sdk.display()))
    })?;
    let crate_name = name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_name}}", &crate_name)
            .replace("{{type_name}}", &type_name(name))
            .replace(
                "{{sdk}}",
                &sdk_text.replace('\\', "\\\\").replace('"', "\\\""),
            )
    };
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), fill(CARGO_TOML))?;
    std::fs::write(dir.join("src/lib.rs"), fill(LIB_RS))?;
    std::fs::write(dir.join(".gitignore"), GITIGNORE)?;
    // The versions the SDK is tested with, so the first build resolves the
    // same dependencies (cargo drops what the new crate does not use).
    if let Some(lock) = sdk.parent().map(|p| p.join("Cargo.lock"))
        && lock.is_file()
    {
        std::fs::copy(&lock, dir.join("Cargo.lock"))?;
    }
    println!("Wrote workflow crate {name} to {}.", dir.display());
    println!("  cargo test                                    # handle() on the fake host");
    println!("  cargo build --release --target wasm32-wasip2  # the component:");
    println!("    target/wasm32-wasip2/release/{crate_name}.wasm");
    println!("  twoway plugin check target/wasm32-wasip2/release/{crate_name}.wasm");
    Ok(())
}

/// A crate name cargo accepts and a file name without surprises.
fn check_crate_name(name: &str) -> Result<(), CliError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{name:?} is not a workflow name: use lower case letters, digits, `-` and `_`, \
             starting with a letter (at most 64), e.g. contact-dedupe"
        )))
    }
}

/// `contact-dedupe` -> `ContactDedupe`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Reads a component file (bounded, naming the likely fix when missing).
fn read_component(path: &Path) -> Result<Vec<u8>, CliError> {
    plugin::read_component(path).map_err(|e| CliError::Config(e.to_string()))
}

/// A runtime like the gateway's, its code cache in the default place.
async fn runtime(cache_dir: PathBuf) -> anyhow::Result<Runtime> {
    tokio::task::spawn_blocking(move || Runtime::new(&cache_dir))
        .await?
        .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e:#}"))
}

async fn check(file: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = read_component(file)?;
    let cache = config::default_cache_dir(&|k| std::env::var(k).ok());
    let runtime = runtime(cache).await?;
    let path = file.to_path_buf();
    let inspection = tokio::task::spawn_blocking(move || runtime.inspect(&path, &bytes))
        .await?
        .map_err(|e| CliError::Config(e.to_string()))?;
    if json {
        let mut out = serde_json::to_value(&inspection)?;
        out["file"] = file.display().to_string().into();
        out["ok"] = true.into();
        println!("{out}");
        return Ok(());
    }
    println!(
        "{}: ok, a {} for twoway:gateway@{} ({} bytes, version {})",
        file.display(),
        inspection.world,
        twoway::plugin::WIT_VERSION,
        inspection.size,
        inspection.version
    );
    println!("  exports: {}", inspection.exports.join(", "));
    println!("  imports: {}", inspection.imports.join(", "));
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = config::load(&args.tenant.config)?;
    let tenant = find_tenant(&config, &args.tenant)?;
    let Some(workflow) = tenant.workflows.iter().find(|w| w.name == args.workflow) else {
        let names: Vec<_> = tenant.workflows.iter().map(|w| w.name.as_str()).collect();
        return Err(CliError::Config(format!(
            "tenant {:?} has no workflow {:?} (workflows: {})",
            tenant.name,
            args.workflow,
            names.join(", ")
        ))
        .into());
    };
    let body = args.request.body()?;
    let method = args.request.method()?;
    let headers = args
        .request
        .headers()?
        .into_iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_string(),
            value: value.to_str().unwrap_or_default().to_string(),
        })
        .collect();
    let path = if args.path.starts_with('/') {
        args.path.clone()
    } else {
        format!("/{}", args.path)
    };
    let inbound = InboundRequest {
        method: method.as_str().to_string(),
        path,
        query: args.query.clone(),
        headers,
        body,
    };

    let bytes = read_component(&workflow.plugin)?;
    let runtime = runtime(config.plugins.cache_dir.clone()).await?;
    let id = version_id(&bytes);
    let (runtime, version) = {
        let path = workflow.plugin.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || {
            let version = runtime.load(&path, &bytes, id, twoway::plugin::World::Workflow);
            (runtime, version)
        })
        .await?
    };
    let version = version.map_err(|e| CliError::Config(e.to_string()))?;
    let call = CallContext {
        tenant: tenant.name.clone(),
        workflow: workflow.name.clone(),
        version: id.clone(),
        upstream: Arc::new(upstream_of(&config, tenant)?),
        config: Arc::new(workflow.config.clone()),
    };
    match runtime.call(&version, call, workflow.limits, inbound).await {
        Ok(answer) => request::print_answer(
            &format!(
                "HTTP {} (workflow {}, version {id})",
                answer.status, workflow.name
            ),
            answer.status,
            answer
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_bytes())),
            &answer.body,
            args.request.json,
        ),
        Err(e) => {
            // What a caller of the gateway would get: the same problem document.
            let problem = e.problem().at(Some(&tenant.name), Some(&workflow.name));
            let status = problem.status;
            let status_line = format!(
                "HTTP {status} {} (workflow {}, version {id})",
                problem.code, workflow.name
            );
            let response = problem.into_response("twoway-plugin-run");
            let (parts, body) = response.into_parts();
            let body = http_body_util::BodyExt::collect(body).await?.to_bytes();
            request::print_answer(
                &status_line,
                status,
                parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_bytes())),
                &body,
                args.request.json,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_crate_name("contact-dedupe").is_ok());
        assert!(check_crate_name("a1_b").is_ok());
        for bad in ["", "Contact", "1x", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(check_crate_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(type_name("contact-dedupe"), "ContactDedupe");
        assert_eq!(type_name("a__b-c"), "ABC");
    }
}
