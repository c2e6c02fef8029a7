//! `twoway plugin new | build | up | check | run`: the commands, then
//! checking a component against the world and running one call of a
//! tenant's workflow through the real host path (its session, mutual TLS and
//! limits) without serving. `new` is [`super::scaffold`]'s, `build` and `up`
//! [`super::devloop`]'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Subcommand;

use super::devloop::{self, UpArgs};
use super::exit::CliError;
use super::request::{self, RequestArgs};
use super::scaffold::{self, Lang};
use super::tenant::{TenantArgs, find_tenant, upstream_of};
use twoway::config;
use twoway::gateway::IntoResponse;
use twoway::plugin::{self, CallContext, Header, InboundRequest, Runtime, version_id};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write a new workflow project NAME in Rust, JavaScript or Python: an
    /// example that answers from the API, with a test on a fake host
    /// (`cargo test`, `npm test`, `python3 -m unittest`); `twoway plugin
    /// build` and `up` take it as written.
    New {
        /// The workflow's name: lower case letters, digits, `-` and `_`.
        name: String,
        /// The language.
        #[arg(long, value_enum, default_value_t = Lang::Rust)]
        lang: Lang,
        /// Where to write it [default: ./NAME]; must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: the plugin SDK (`plugins/sdk` of a twoway checkout)
        /// [default: the one this binary was built from, when it is still there].
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build the workflow project in DIR into a component and print its
    /// path: cargo for Rust; componentize-js / componentize-py through the
    /// twoway checkout's scripts (TWOWAY_CHECKOUT, default the one this
    /// binary was built from), which install them when missing.
    Build {
        /// The project [default: the current folder].
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Serve the workflow project in DIR for trying it: build it, start a
    /// Salesforce simulator and a gateway with a config of their own (in
    /// DIR/.twoway), print the curl command that calls it, and rebuild and
    /// reload it whenever a source changes.
    Up(UpArgs),
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
            Self::New { .. } | Self::Build { .. } | Self::Up(_) => false,
        }
    }
}

pub async fn run_plugin(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::New {
            name,
            lang,
            dir,
            sdk,
        } => scaffold::new(&name, lang, dir, sdk),
        PluginCommand::Build { dir } => devloop::run_build(&dir),
        PluginCommand::Up(args) => devloop::run_up(args).await,
        PluginCommand::Check { file, json } => check(&file, json).await,
        PluginCommand::Run(args) => run(args).await,
    }
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
        inspection.wit,
        inspection.size,
        inspection.version
    );
    println!("  exports: {}", inspection.exports.join(", "));
    println!("  imports: {}", inspection.imports.join(", "));
    println!(
        "  memory image: {} bytes of data, mapped by every live instance",
        inspection.memory_image
    );
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
