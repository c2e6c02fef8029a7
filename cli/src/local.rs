//! Commands that need no tenant session: `pki init`, `sim`, `serve` and
//! `config check`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use super::LogFormat;
use super::exit::{self, Reported};
use twoway::{config, gateway, plugin};
use twoway_sim as sim;
use twoway_testkit::pki;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The gateway config (twoway.toml); reloaded when it changes or on SIGHUP.
    #[arg(long, env = "TWOWAY_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE: every problem listed with its key path; exit 3 if any.
    Check {
        /// The config file.
        #[arg(env = "TWOWAY_CONFIG")]
        file: PathBuf,
        /// Print the result as JSON on stdout: {"file", "ok", "tenants",
        /// "workflows"} or {"file", "ok": false, "problems": [...]}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Write a test PKI into DIR (root and issuing CA, client, server, negative material).
    Init {
        /// Directory to write (created if missing).
        dir: PathBuf,
        /// Replace an existing PKI in DIR.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Simulator config (see examples/sim.toml); built-in defaults without it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Test PKI to use with the built-in defaults; created when missing.
    #[arg(long, default_value = "twoway-pki", conflicts_with = "config")]
    pub pki: PathBuf,
    /// Print the endpoints as one line of JSON on stdout (for scripts).
    #[arg(long)]
    pub print_endpoints: bool,
}

pub fn run_pki(command: PkiCommand) -> anyhow::Result<()> {
    let PkiCommand::Init { dir, force } = command;
    let pki = pki::init(&dir, force)?;
    println!("Wrote a test PKI to {}:", dir.display());
    for (path, what) in pki.describe() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("  {name:<30} {what}");
    }
    Ok(())
}

/// Opens the PKI in `dir`, creating it when it does not exist yet.
pub(super) fn ensure_pki(dir: &Path) -> anyhow::Result<()> {
    if dir.join("root-ca.pem").exists() {
        pki::open(dir)?;
        return Ok(());
    }
    eprintln!(
        "No test PKI in {}; creating one (twoway pki init {}).",
        dir.display(),
        dir.display()
    );
    pki::init(dir, false)?;
    Ok(())
}

pub async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => sim::SimConfig::load(path)?,
        None => sim::SimConfig::defaults(&args.pki)?,
    };
    ensure_pki(&config.pki_dir)
        .with_context(|| format!("test PKI in {}", config.pki_dir.display()))?;
    let pki_dir = config.pki_dir.clone();
    let simulator = sim::Sim::start(config).await?;
    let endpoints = simulator.endpoints();
    if args.print_endpoints {
        println!("{}", endpoints.to_json());
    } else {
        let pki = pki::Pki::at(&pki_dir);
        println!("twoway simulator is up.");
        println!(
            "  login service      {}   (SOAP /services/Soap/u/62.0, OAuth /services/oauth2/token)",
            endpoints.login_url()
        );
        println!(
            "  instance, standard {}   (Salesforce's port 443)",
            endpoints.standard_url()
        );
        println!(
            "  instance, mutual   {}   (Salesforce's mutual-auth port 8443; asks for a client certificate)",
            endpoints.mutual_url()
        );
        println!("  admin              {}/counters", endpoints.admin_url());
        println!(
            "Trust {} (--cacert) and present {} (-E) on the mutual-auth port.",
            pki.root_ca.display(),
            pki.fullcert.display()
        );
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("stopping the simulator"),
        _ = simulator.stopped() => {}
    }
    Ok(())
}

pub async fn run_config(command: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Check { file, json } = command;
    let problems = match config::load(&file) {
        Ok(config) => {
            // Identities are loaded too: a bad certificate is a config problem.
            let mut problems: Vec<String> = config
                .tenants
                .iter()
                .filter_map(|t| {
                    let source = t.identity.as_ref()?;
                    let e = twoway::identity::load(source).err()?;
                    Some(format!("tenant[{}].client_identity: {e}", t.name))
                })
                .collect();
            // And every workflow's component: compiled and linked as at serve.
            problems.extend(workflow_problems(&config).await?);
            if problems.is_empty() {
                let workflows: usize = config.tenants.iter().map(|t| t.workflows.len()).sum();
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "file": file.display().to_string(),
                            "ok": true,
                            "tenants": config.tenants.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
                            "workflows": workflows,
                        })
                    );
                } else {
                    println!(
                        "{}: ok ({} tenant(s), {workflows} workflow(s))",
                        file.display(),
                        config.tenants.len(),
                    );
                }
                return Ok(());
            }
            problems
        }
        Err(e) => e.problems,
    };
    let text = format!(
        "{}: {} problem(s):\n  - {}",
        file.display(),
        problems.len(),
        problems.join("\n  - ")
    );
    eprintln!("{text}");
    if json {
        println!(
            "{}",
            serde_json::json!({
                "file": file.display().to_string(),
                "ok": false,
                "problems": problems,
            })
        );
    }
    Err(Reported(exit::CONFIG).into())
}

/// Loads every workflow's and policy's component as `serve` would; one
/// line per failure.
async fn workflow_problems(config: &config::Config) -> anyhow::Result<Vec<String>> {
    let workflows: Vec<(String, String, PathBuf, plugin::World)> = config
        .tenants
        .iter()
        .flat_map(|t| {
            let workflows = t.workflows.iter().map(|w| {
                let key = format!("workflow[{}]", w.name);
                (
                    t.name.clone(),
                    key,
                    w.plugin.clone(),
                    plugin::World::Workflow,
                )
            });
            let policy = (t.policy.iter()).map(|p| {
                (
                    t.name.clone(),
                    "policy".to_string(),
                    p.plugin.clone(),
                    plugin::World::Policy,
                )
            });
            workflows.chain(policy).collect::<Vec<_>>()
        })
        .collect();
    if workflows.is_empty() {
        return Ok(Vec::new());
    }
    let cache_dir = config.plugins.cache_dir.clone();
    tokio::task::spawn_blocking(move || {
        let runtime = plugin::Runtime::new(&cache_dir)
            .map_err(|e| anyhow::anyhow!("starting the plugin runtime: {e:#}"))?;
        Ok(workflows
            .into_iter()
            .filter_map(|(tenant, key, path, world)| {
                let loaded = plugin::read_component(&path).and_then(|bytes| {
                    runtime.load(&path, &bytes, plugin::version_id(&bytes), world)
                });
                let e = loaded.err()?;
                Some(format!("tenant[{tenant}].{key}.plugin: {e}"))
            })
            .collect())
    })
    .await?
}

/// Serves until SIGTERM or ctrl-c, then drains. Its one line on stdout
/// says where it listens (for scripts): text, or with `--log-format json`
/// a JSON object `{"listening", "admin"}`, like every line it writes.
pub async fn run_serve(args: ServeArgs, log_format: LogFormat) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    // Plugins are compiled by this program in helper processes (see
    // plugin::compile_in_helper).
    if let Ok(program) = std::env::current_exe() {
        plugin::compile_in_helper(program);
    }
    let shared = gateway::prepare(config, Some(args.config.clone())).await?;
    let running = gateway::start(shared).await?;
    let mut signals = StopSignals::new();
    match log_format {
        LogFormat::Text => println!(
            "twoway gateway listening on {} (admin on http://{})",
            running.addr, running.admin_addr
        ),
        LogFormat::Json => println!(
            "{}",
            serde_json::json!({
                "listening": running.addr.to_string(),
                "admin": format!("http://{}", running.admin_addr),
            })
        ),
    }
    tokio::spawn(notify_ready(running.shared.clone()));
    signals.next().await;
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopping: draining (a second SIGTERM or ctrl-c stops at once)");
    match running.drain(signals.next()).await {
        gateway::Drained::Interrupted => {
            tracing::warn!("second signal: stopped at once, in-flight requests cut");
            // Nothing waits for blocked plugin calls: the process ends now,
            // with what the log holds written.
            crate::logging::flush();
            std::process::exit(1);
        }
        gateway::Drained::TimedOut | gateway::Drained::Clean => {
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// Tells systemd (`Type=notify`, `$NOTIFY_SOCKET`) that the gateway is
/// ready once `/readyz` would say so: listening, every plugin loaded; the
/// pages of code only start-up used are given back then.
async fn notify_ready(shared: std::sync::Arc<gateway::Shared>) {
    while !shared.registry.ready() {
        if shared.drain.draining() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // What start-up alone ran is done with: its pages of code go back.
    crate::start_pages::release();
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("serving"),
    ]);
}

/// Sends `states` to systemd when it started us with `$NOTIFY_SOCKET`.
fn notify(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd ($NOTIFY_SOCKET)");
    }
}

/// SIGTERM and ctrl-c (SIGINT), as often as they come: held from the
/// start, so a signal between two waits is not lost.
struct StopSignals {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                .inspect_err(
                    |e| tracing::warn!(error = %e, "cannot handle SIGTERM; ctrl-c still stops"),
                )
                .ok();
            Self { signals }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGTERM or ctrl-c.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = self.signals.as_mut() {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
