//! Command-line interface: clap definitions and the glue from each command
//! to the library. Nothing else lives here.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::salesforce::Api;
use crate::upstream::{Outbound, TenantUpstream};
use crate::{config, gateway, pki, sim};

/// twoway: a gateway for Salesforce-style APIs that demand mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "twoway", version, about)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
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
    Login(TenantArgs),
    /// Call the API as a tenant: mutual TLS, port and session handled.
    Call(CallArgs),
    /// The certificate doctor: check a client identity, or bundle one (docs/cert-check.md).
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Check a client identity: every problem with a fix; exit 0 ok, 1 warnings only, 2 errors.
    Check(CertCheckArgs),
    /// Write the seed's fullcert.pem (key, leaf, intermediates; no root) after the same checks.
    Bundle(CertBundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct CertCheckArgs {
    /// Combined PEM, a certificate (PEM or DER), or PKCS#12 (.p12/.pfx).
    pub identity: PathBuf,
    /// The private key, when IDENTITY does not hold it.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Intermediate CA certificates (repeatable).
    #[arg(long)]
    pub chain: Vec<PathBuf>,
    /// Environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Try a real mutual-TLS handshake with HOST:PORT (e.g. the instance's port 8443).
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// Extra trusted CA certificates besides the system roots (repeatable).
    #[arg(long, value_name = "CA")]
    pub cacert: Vec<PathBuf>,
    /// Print the report as JSON (schema in docs/cert-check.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CertBundleArgs {
    /// The private key.
    #[arg(long)]
    pub key: PathBuf,
    /// The client certificate.
    #[arg(long)]
    pub cert: PathBuf,
    /// Intermediate CA certificates, any order (a root given here is left out).
    #[arg(long, num_args = 1..)]
    pub chain: Vec<PathBuf>,
    /// The file to write.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Replace OUTPUT when it exists.
    #[arg(long)]
    pub force: bool,
    /// Extra trusted CA certificates besides the system roots (repeatable).
    #[arg(long, value_name = "CA")]
    pub cacert: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The gateway config (twoway.toml); reloaded when it changes or on SIGHUP.
    #[arg(long)]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE: every problem listed with its key path; exit 1 if any.
    Check {
        /// The config file.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    /// The gateway config (twoway.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// The tenant's name in it.
    #[arg(long)]
    pub tenant: String,
}

#[derive(Debug, clap::Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub tenant: TenantArgs,
    /// Which API: the host adds its base path and the session.
    #[arg(long, value_enum)]
    pub api: ApiArg,
    /// HTTP method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Path relative to the API's base (e.g. `query?q=SELECT+Id+FROM+Account` for rest).
    #[arg(long, default_value = "")]
    pub path: String,
    /// Request body, or @FILE to read it from a file.
    #[arg(long)]
    pub data: Option<String>,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
}

/// `--api` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ApiArg {
    SoapPartner,
    SoapEnterprise,
    SoapMetadata,
    Rest,
    Bulk,
    ApexRest,
}

impl From<ApiArg> for Api {
    fn from(a: ApiArg) -> Self {
        match a {
            ApiArg::SoapPartner => Api::SoapPartner,
            ApiArg::SoapEnterprise => Api::SoapEnterprise,
            ApiArg::SoapMetadata => Api::SoapMetadata,
            ApiArg::Rest => Api::Rest,
            ApiArg::Bulk => Api::Bulk,
            ApiArg::ApexRest => Api::ApexRest,
        }
    }
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

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Pki {
            command: PkiCommand::Init { dir, force },
        } => {
            let pki = pki::init(&dir, force)?;
            println!("Wrote a test PKI to {}:", dir.display());
            print_pki(&pki);
            Ok(())
        }
        Command::Sim(args) => run_sim(args).await,
        Command::Serve(args) => run_serve(args).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => run_config_check(&file),
        Command::Login(args) => run_login(args).await,
        Command::Call(args) => run_call(args).await,
        Command::Cert { command } => run_cert(command).await,
    }
}

/// `twoway cert ...`: prints the report and exits 0 / 1 / 2.
async fn run_cert(command: CertCommand) -> anyhow::Result<()> {
    use crate::identity::{bundle, doctor};
    let (text, code) = match command {
        CertCommand::Check(args) => {
            let mut options = doctor::Options::new(args.identity);
            options.key = args.key;
            options.chain = args.chain;
            options.password = args
                .password_env
                .as_ref()
                .and_then(|v| std::env::var(v).ok())
                .map(crate::secret::Secret::new);
            options.password_env = args.password_env;
            options.cacert = args.cacert;
            options.connect = args.connect;
            let report = doctor::check(&options).await;
            (
                if args.json {
                    report.to_json() + "\n"
                } else {
                    report.to_text()
                },
                report.exit_code(),
            )
        }
        CertCommand::Bundle(args) => {
            let outcome = bundle::bundle(&bundle::BundleOptions {
                key: args.key,
                cert: args.cert,
                chain: args.chain,
                output: args.output,
                force: args.force,
                cacert: args.cacert,
                now: time::OffsetDateTime::now_utc(),
            });
            (outcome.to_text(), outcome.exit_code())
        }
    };
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if code != 0 {
        std::process::exit(i32::from(code));
    }
    Ok(())
}

fn tenant_upstream(args: &TenantArgs) -> anyhow::Result<TenantUpstream> {
    let config = config::load(&args.config)?;
    let tenant = config.tenant(&args.tenant).cloned().with_context(|| {
        let names: Vec<_> = config.tenants.iter().map(|t| t.name.as_str()).collect();
        format!(
            "no tenant {:?} in {} (tenants: {})",
            args.tenant,
            args.config.display(),
            names.join(", ")
        )
    })?;
    // The same settings the gateway builds: `twoway login` logs in exactly
    // as `twoway serve` would.
    Ok(TenantUpstream::new(crate::gateway::upstream_settings(
        &tenant,
        &config.upstream,
    ))?)
}

async fn run_login(args: TenantArgs) -> anyhow::Result<()> {
    let upstream = tenant_upstream(&args)?;
    let session = upstream.sessions().session().await?;
    let tenant = upstream.settings();
    println!("tenant        {}", tenant.tenant);
    println!("auth          {}", tenant.session.auth.kind());
    println!("org id        {}", session.instance.org_id);
    println!("user id       {}", session.user_id);
    println!("instance      {}", session.instance.base_url);
    if tenant.mutual_auth {
        println!(
            "API calls go  to port {} (mutual TLS)",
            tenant.mutual_auth_port
        );
    }
    let expires = time::OffsetDateTime::from(session.expires_at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!("expires       {expires}");
    if let Some(id) = upstream.identity() {
        let days = id.days_to_expiry(time::OffsetDateTime::now_utc());
        println!(
            "certificate   {} (expires in {days} days, SHA-256 {})",
            id.leaf.subject, id.leaf.sha256_fingerprint
        );
    }
    // One getUserInfo proves the session works where the API is (mutual TLS
    // included) and tells the API usage.
    let check = Outbound {
        api: Api::SoapPartner,
        method: http::Method::POST,
        path: String::new(),
        headers: soap_headers(),
        body: bytes::Bytes::from_static(GET_USER_INFO.as_bytes()),
    };
    let answer = upstream.send(&check).await?;
    if answer.status != 200 {
        anyhow::bail!(
            "getUserInfo answered HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    let (used, limit) = upstream.usage();
    println!("API usage     {used}/{limit} requests today");
    Ok(())
}

const GET_USER_INFO: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn soap_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml; charset=UTF-8"),
    );
    headers.insert("soapaction", http::HeaderValue::from_static("\"\""));
    headers
}

async fn run_call(args: CallArgs) -> anyhow::Result<()> {
    let upstream = tenant_upstream(&args.tenant)?;
    let api: Api = args.api.into();
    let body = match &args.data {
        Some(data) => match data.strip_prefix('@') {
            Some(file) => std::fs::read(file).with_context(|| format!("reading --data @{file}"))?,
            None => data.clone().into_bytes(),
        },
        None => Vec::new(),
    };
    let mut headers = match api {
        Api::SoapPartner | Api::SoapEnterprise | Api::SoapMetadata => soap_headers(),
        _ => {
            let mut h = http::HeaderMap::new();
            if !body.is_empty() {
                h.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
            }
            h
        }
    };
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("--header {header:?}: write it as 'Name: value'"))?;
        headers.insert(
            http::HeaderName::from_bytes(name.trim().as_bytes())
                .with_context(|| format!("header name {name:?}"))?,
            http::HeaderValue::from_str(value.trim())
                .with_context(|| format!("header value of {name:?}"))?,
        );
    }
    let method = http::Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("--method {:?}", args.method))?;
    let out = Outbound {
        api,
        method,
        path: args.path.clone(),
        headers,
        body: body.into(),
    };
    let answer = upstream.send(&out).await?;
    println!("HTTP {}", answer.status);
    println!("{}", String::from_utf8_lossy(&answer.body));
    if answer.status >= 400 {
        std::process::exit(1);
    }
    Ok(())
}

fn print_pki(pki: &pki::Pki) {
    for (path, what) in pki.describe() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("  {name:<30} {what}");
    }
}

/// Opens the PKI in `dir`, creating it when it does not exist yet.
fn ensure_pki(dir: &Path) -> anyhow::Result<()> {
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

async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
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
            "  instance, standard {}   (the seed's port 443)",
            endpoints.standard_url()
        );
        println!(
            "  instance, mutual   {}   (the seed's port 8443; asks for a client certificate)",
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

fn run_config_check(file: &Path) -> anyhow::Result<()> {
    let config = config::load(file)?;
    // Identities are loaded too: a bad certificate is a config problem.
    let mut problems = Vec::new();
    for tenant in &config.tenants {
        if let Some(source) = &tenant.identity
            && let Err(e) = crate::identity::load(source)
        {
            problems.push(format!("tenant[{}].client_identity: {e}", tenant.name));
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{}: {} problem(s):\n  - {}",
            file.display(),
            problems.len(),
            problems.join("\n  - ")
        );
    }
    println!(
        "{}: ok ({} tenant(s), {} workflow(s))",
        file.display(),
        config.tenants.len(),
        config
            .tenants
            .iter()
            .map(|t| t.workflows.len())
            .sum::<usize>()
    );
    Ok(())
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = config::load(&args.config)?;
    let shared = gateway::prepare(config, Some(args.config.clone())).await?;
    let running = gateway::start(shared).await?;
    println!(
        "twoway gateway listening on {} (admin on http://{})",
        running.addr, running.admin_addr
    );
    wait_for_stop().await;
    eprintln!("twoway: stopping; finishing in-flight requests");
    running.shutdown().await;
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
