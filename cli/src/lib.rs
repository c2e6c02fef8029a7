//! Command-line interface: clap definitions and the glue from each command
//! to the library, one module per command group ([`local`]: pki, sim,
//! serve, config; [`tenant`]: login, call; [`cert`]: the certificate
//! doctor; [`plugin`]: new, build, up, check, run, with [`scaffold`] for
//! `new` and [`devloop`] for `build` and `up`), what `call` and `plugin
//! run` share ([`request`]), and the exit codes ([`exit`]). Nothing else
//! lives here.

mod allocator;
mod cert;
mod devloop;
pub mod exit;
mod local;
mod logging;
mod plugin;
mod request;
mod scaffold;
mod start_pages;
mod tenant;

use clap::{Parser, Subcommand};

pub use cert::{CertBundleArgs, CertCheckArgs, CertCommand};
pub use exit::{Reported, exit_code, finish};
pub use local::{ConfigCommand, PkiCommand, ServeArgs, SimArgs};
pub use plugin::{PluginCommand, RunArgs};
pub use tenant::{CallArgs, LoginArgs, TenantArgs};

/// twoway: a gateway for Salesforce-style APIs that demand mutual TLS.
///
/// Environment: TWOWAY_CONFIG is the default for --config (and `config
/// check`'s FILE); TWOWAY_LOG (else RUST_LOG) sets the log level, e.g.
/// `info`, `debug`, `twoway=debug,warn`. Exit codes: 0 ok, 1 other
/// failure, 2 usage, 3 config, 4 network or TLS, 5 the API refused (login
/// refused, a fault, an HTTP error); `cert` commands: 0 ok, 6 warnings, 7 errors.
#[derive(Debug, Parser)]
#[command(name = "twoway", version = version_line(), about, long_about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// The git commit this program was built from (`build.rs`), or `unknown`.
pub const COMMIT: &str = env!("TWOWAY_COMMIT");

/// `twoway --version`: the version, the commit and the plugin contract.
pub fn version_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "{} (commit {COMMIT}, plugins: WIT twoway:gateway@{})",
            twoway::version::VERSION,
            twoway::version::WIT
        )
    })
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Test certificates: a CA chain, client identities, and broken ones on purpose.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Run the Salesforce simulator (login, standard and mutual-auth ports).
    Sim(SimArgs),
    /// Run the gateway: callers' listener, admin listener, hot reload.
    Serve(ServeArgs),
    /// Check a gateway config without starting anything.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Log a tenant in and check its session on the API (mutual TLS included).
    Login(LoginArgs),
    /// Call the API as a tenant: mutual TLS, port and session handled.
    Call(CallArgs),
    /// The certificate doctor: check a client identity, or bundle one (docs/cert-check.md).
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Workflows: start one (Rust, JavaScript, Python), build it, serve it against a simulator, check a component, run one call.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Print the shell completion script for SHELL on stdout, e.g.
    /// `twoway completions bash > /etc/bash_completion.d/twoway`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, e.g. `twoway man | man -l -`.
    Man,
    /// Compiles the component on stdin into the code cache: `twoway serve`
    /// runs this itself so that compiling never swells the gateway.
    #[command(name = twoway::plugin::COMPILE_HELPER_SUBCOMMAND, hide = true)]
    CompilePlugin {
        #[arg(long)]
        cache_dir: std::path::PathBuf,
        /// CPU seconds the compile may take.
        #[arg(long, default_value_t = twoway::plugin::CompileLimits::default().cpu_seconds)]
        max_cpu_seconds: u64,
        /// Memory the compile may allocate, in MiB.
        #[arg(long, default_value_t = twoway::plugin::CompileLimits::default().memory_mb)]
        max_memory_mb: u64,
    },
}

impl Cli {
    /// True when the command was asked for JSON on stdout (`--json`), so
    /// that its errors go there as JSON too.
    pub fn json_output(&self) -> bool {
        match &self.command {
            Command::Login(a) => a.json,
            Command::Call(a) => a.request.json,
            Command::Config {
                command: ConfigCommand::Check { json, .. },
            } => *json,
            Command::Plugin { command } => command.json(),
            _ => false,
        }
    }
}

/// The whole `twoway` program: parse the command line, set up logging on
/// stderr ([`logging`]), run, and map the outcome to an exit code.
pub async fn main() -> std::process::ExitCode {
    allocator::configure();
    twoway::version::set_commit(COMMIT);
    let cli = Cli::parse();
    // `serve` exports traces when its config says so (read again, and any
    // problem in it reported, when it starts).
    let telemetry = match &cli.command {
        Command::Serve(args) => twoway::config::load(&args.config).ok().map(|c| c.telemetry),
        _ => None,
    };
    // `serve` writes its log in batches: no request waits on stderr.
    let batching = matches!(cli.command, Command::Serve(_));
    let logging = logging::init(cli.log_format, telemetry.as_ref(), batching);
    let json = cli.json_output();
    let log_json = cli.log_format == LogFormat::Json;
    let result = run(cli).await;
    drop(logging);
    finish(result, json, log_json)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let log_format = cli.log_format;
    match cli.command {
        Command::Pki { command } => local::run_pki(command),
        Command::Sim(args) => local::run_sim(args).await,
        Command::Serve(args) => local::run_serve(args, log_format).await,
        Command::Config { command } => local::run_config(command).await,
        Command::Login(args) => tenant::run_login(args).await,
        Command::Call(args) => tenant::run_call(args).await,
        Command::Cert { command } => cert::run_cert(command).await,
        Command::Plugin { command } => plugin::run_plugin(command).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "twoway", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::CompilePlugin {
            cache_dir,
            max_cpu_seconds,
            max_memory_mb,
        } => {
            use twoway::plugin::{
                COMPILE_HELPER_REFUSED_EXIT, CompileLimits, HelperError, run_compile_helper,
            };
            let limits = CompileLimits {
                cpu_seconds: max_cpu_seconds,
                memory_mb: max_memory_mb,
            };
            match run_compile_helper(&cache_dir, limits, std::io::stdin().lock()) {
                Ok(()) => Ok(()),
                // The component's verdict: its own exit code for the gateway.
                Err(HelperError::Compile(reason)) => {
                    eprintln!("error: {reason}");
                    Err(exit::Reported(COMPILE_HELPER_REFUSED_EXIT).into())
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
