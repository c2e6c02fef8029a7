//! Command-line interface: clap definitions and the glue from each command
//! to the library. Nothing else lives here.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{pki, sim};

/// twoway: a gateway for Salesforce-style APIs that demand mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "twoway", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    }
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
