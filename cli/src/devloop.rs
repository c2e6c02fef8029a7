//! `twoway plugin build | up`, the author's loop. `build` runs the
//! project's toolchain: cargo for wasm32-wasip2, or componentize-js /
//! componentize-py through a twoway checkout's scripts/build-js-plugins and
//! build-py-plugins (which install them). `up` builds, then serves the
//! workflow from a gateway in this process against an embedded simulator,
//! with a config it writes itself into the project's `.twoway/`, prints the
//! curl command that calls it, and rebuilds and reloads it when a source
//! changes (the gateway's own plugin watcher picks the new component up).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use notify::Watcher as _;

use super::exit::CliError;
use super::scaffold::{Lang, check_name};
use twoway::{config, gateway, plugin};
use twoway_sim as sim;
use twoway_testkit::tenants::{ACME_PASSWORD, ACME_TOKEN, ACME_USER};

/// The twoway checkout this binary was built from (its scripts/ and wit/).
const BUILT_CHECKOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// The tenant `up` serves the workflow in.
const TENANT: &str = "dev";
/// Quiet time after the last change before a rebuild.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    #[error("{tool} failed ({status}); its output is above")]
    Failed {
        tool: String,
        status: std::process::ExitStatus,
    },
    #[error(
        "no twoway checkout at {0} (JavaScript and Python workflows are built with its scripts/): set TWOWAY_CHECKOUT to one"
    )]
    NoCheckout(PathBuf),
    #[error("{0} built, but no component came out of it")]
    NoComponent(String),
}

/// A workflow project: its folder, language and name.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub lang: Lang,
    pub name: String,
}

impl Project {
    /// The project in `dir`; its name is the folder's unless `name` is given.
    pub fn open(dir: &Path, name: Option<String>) -> Result<Self, CliError> {
        let dir = dir
            .canonicalize()
            .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        let lang = Lang::detect(&dir)?;
        let name = match name {
            Some(name) => name,
            None => (dir.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        check_name(&name).map_err(|e| CliError::Usage(format!("{e} (or pass --name)")))?;
        Ok(Self { dir, lang, name })
    }
}

/// The checkout whose scripts build JavaScript and Python workflows.
fn checkout() -> Result<PathBuf, BuildError> {
    let dir = std::env::var_os("TWOWAY_CHECKOUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BUILT_CHECKOUT));
    match dir.canonicalize() {
        Ok(dir) if dir.join("scripts/build-js-plugins").is_file() => Ok(dir),
        _ => Err(BuildError::NoCheckout(dir)),
    }
}

/// Runs `command` with its output on this terminal's stderr (stdout stays
/// the caller's); fails with its status.
fn run(tool: &str, command: &mut Command) -> Result<(), BuildError> {
    let status = command
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|source| BuildError::Spawn {
            tool: tool.to_string(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed {
            tool: tool.to_string(),
            status,
        })
    }
}

/// Builds the project's component; its path.
pub fn build(project: &Project) -> Result<PathBuf, BuildError> {
    let (script, output) = match project.lang {
        Lang::Rust => return cargo_build(&project.dir),
        Lang::Js => ("build-js-plugins", "target/workflow.wasm"),
        Lang::Python => ("build-py-plugins", "target/app.wasm"),
    };
    let program = checkout()?.join("scripts").join(script);
    run(
        &format!("scripts/{script}"),
        Command::new(&program).arg("--project").arg(&project.dir),
    )?;
    let wasm = project.dir.join(output);
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(BuildError::NoComponent(format!("scripts/{script}")))
    }
}

/// `cargo build --release --target wasm32-wasip2`: the component is the
/// artifact cargo names (wherever CARGO_TARGET_DIR puts it).
fn cargo_build(dir: &Path) -> Result<PathBuf, BuildError> {
    let tool = "cargo build --release --target wasm32-wasip2";
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| BuildError::Spawn {
            tool: tool.to_string(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            tool: tool.to_string(),
            status: output.status,
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    (stdout.lines())
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| {
            let files = message["filenames"].as_array().cloned().unwrap_or_default();
            files
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .rfind(|file| file.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| BuildError::NoComponent(tool.to_string()))
}

pub fn run_build(dir: &Path) -> anyhow::Result<()> {
    let project = Project::open(dir, None)?;
    let wasm = build(&project)?;
    println!("{}", wasm.display());
    Ok(())
}

/// Writes `bytes` to `dest` aside, then renames it over (the gateway never
/// reads half a component).
fn replace(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let aside = dest.with_extension("wasm.tmp");
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, dest)
}

/// The generated gateway config: one tenant logging in to the simulator
/// with mutual TLS, serving the workflow.
fn gateway_config(name: &str, listen: SocketAddr, endpoints: &sim::Endpoints) -> String {
    format!(
        r#"# Written by `twoway plugin up` for this run (rewritten on every start).
[server]
listen = "{listen}"
admin_listen = "127.0.0.1:0"

[plugins]
dir = "plugins"

[[tenant]]
name = "{TENANT}"
api_keys_file = "dev-key.txt"
login_url = "{login}"
mutual_auth = true
mutual_auth_port = {mutual}
client_identity = {{ pem = "pki/fullcert.pem" }}
extra_roots = ["pki/root-ca.pem"]
[tenant.auth]
kind = "soap-login"
username = "{ACME_USER}"
password_file = "sf-password.txt"
security_token_file = "sf-token.txt"

[[tenant.workflow]]
name = "{name}"
plugin = "{name}.wasm"
"#,
        login = endpoints.login_url(),
        mutual = endpoints.mutual.port(),
    )
}

/// A caller key for this project, made once and kept in `.twoway/`.
fn dev_key(state: &Path) -> std::io::Result<String> {
    let path = state.join("dev-key.txt");
    if let Ok(key) = std::fs::read_to_string(&path)
        && key.trim().len() >= 32
    {
        return Ok(key.trim().to_string());
    }
    let key = format!("dev-{:032x}", rand::random::<u128>());
    std::fs::write(&path, &key)?;
    Ok(key)
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The workflow project [default: the current folder].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where callers reach the gateway (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The workflow's name in the gateway [default: the folder's name].
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn run_up(args: UpArgs) -> anyhow::Result<()> {
    let project = Project::open(&args.dir, args.name)?;
    eprintln!("building {} ({:?})", project.name, project.lang);
    let wasm = {
        let project = project.clone();
        tokio::task::spawn_blocking(move || build(&project)).await??
    };
    let state = project.dir.join(".twoway");
    let pki_dir = state.join("pki");
    std::fs::create_dir_all(state.join("plugins"))?;
    super::local::ensure_pki(&pki_dir).context("the simulator's test PKI")?;
    let simulator = sim::Sim::start(sim::SimConfig::defaults(&pki_dir)?).await?;
    let endpoints = simulator.endpoints();

    dev_key(&state)?;
    std::fs::write(state.join("sf-password.txt"), ACME_PASSWORD)?;
    std::fs::write(state.join("sf-token.txt"), ACME_TOKEN)?;
    let plugin_file = state.join("plugins").join(format!("{}.wasm", project.name));
    let mut served = std::fs::read(&wasm)?;
    replace(&plugin_file, &served)?;
    let config_path = state.join("twoway.toml");
    std::fs::write(
        &config_path,
        gateway_config(&project.name, args.listen, &endpoints),
    )?;

    let config = config::load(&config_path)?;
    if let Ok(program) = std::env::current_exe() {
        plugin::compile_in_helper(program);
    }
    eprintln!("starting the gateway (the first load of a version compiles it)");
    let shared = gateway::prepare(config, Some(config_path)).await?;
    let running = gateway::start(shared.clone()).await?;
    if let Err(error) = loaded(&shared, &project.name, &plugin::version_id(&served), 0).await {
        eprintln!("the component did not load (fix it and save: it is rebuilt): {error}");
    }
    let url = format!(
        "http://{}/tenants/{TENANT}/workflows/{}",
        running.addr, project.name
    );
    println!("Serving workflow {} at {url}", project.name);
    println!(
        "  (tenant {TENANT}, logged in to a local Salesforce simulator with mutual TLS; dashboard http://{}/dashboard)",
        running.admin_addr
    );
    println!("Call it:");
    // The key stays in its file: the command reads it, the terminal never shows it.
    println!(
        "  curl -H \"Authorization: Bearer $(cat {})\" {url}",
        state.join("dev-key.txt").display()
    );
    println!(
        "Watching {} for changes: each one rebuilds and reloads the workflow. Ctrl-C stops.",
        project.dir.display()
    );

    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel::<()>();
    let root = project.dir.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && (event.kind.is_modify() || event.kind.is_create() || event.kind.is_remove())
            && event.paths.iter().any(|p| is_source(&root, p))
        {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&project.dir, notify::RecursiveMode::Recursive)?;

    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            change = changes.recv() => {
                if change.is_none() {
                    break;
                }
                while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {}
                eprintln!("a source changed: rebuilding {}", project.name);
                let built = {
                    let project = project.clone();
                    tokio::task::spawn_blocking(move || build(&project)).await?
                };
                let bytes = match built.map_err(anyhow::Error::from).and_then(|w| Ok(std::fs::read(w)?)) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        eprintln!("the build failed, still serving the previous version: {e:#}");
                        continue;
                    }
                };
                if bytes == served {
                    eprintln!("the component did not change");
                    continue;
                }
                let before = slot(&shared, &project.name).1;
                replace(&plugin_file, &bytes)?;
                served = bytes;
                match loaded(&shared, &project.name, &plugin::version_id(&served), before).await {
                    Ok(version) => println!("Reloaded {}: version {version} is served.", project.name),
                    Err(e) => eprintln!("the new version did not load, still serving the previous one: {e}"),
                }
            }
        }
    }
    eprintln!("stopping");
    running.shutdown().await;
    drop(simulator);
    Ok(())
}

/// Whether a changed path is one of the project's sources (not a build
/// output, the state of `up`, dependencies or version control).
fn is_source(root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let skipped = ["target", ".twoway", "node_modules", ".git", "__pycache__"];
    !relative.components().any(|c| {
        let part = c.as_os_str().to_string_lossy();
        skipped.contains(&part.as_ref()) || part.ends_with('~') || part.starts_with(".#")
    })
}

/// The workflow's slot: its live version, load failures so far and last error.
fn slot(shared: &gateway::Shared, workflow: &str) -> (Option<String>, u64, Option<String>) {
    (shared.registry.status().into_iter())
        .find(|s| s.tenant == TENANT && s.workflow == workflow)
        .map(|s| (s.version, s.failures, s.last_error))
        .unwrap_or_default()
}

/// Waits until the workflow serves `version`, or a load failed after the
/// `before`th (the registry's error).
async fn loaded(
    shared: &gateway::Shared,
    workflow: &str,
    version: &str,
    before: u64,
) -> Result<String, String> {
    loop {
        match slot(shared, workflow) {
            (Some(v), ..) if v == version => return Ok(v),
            (_, failed, Some(error)) if failed > before => return Err(error),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_trigger_a_rebuild() {
        let root = Path::new("/p");
        for source in [
            "/p/workflow.js",
            "/p/src/lib.rs",
            "/p/app.py",
            "/p/test/x.test.js",
        ] {
            assert!(is_source(root, Path::new(source)), "{source}");
        }
        for other in [
            "/p/target/workflow.wasm",
            "/p/.twoway/plugins/x.wasm",
            "/p/node_modules/a/b.js",
            "/p/.git/index",
            "/p/__pycache__/app.pyc",
            "/p/src/lib.rs~",
            "/elsewhere/lib.rs",
        ] {
            assert!(!is_source(root, Path::new(other)), "{other}");
        }
    }
}
