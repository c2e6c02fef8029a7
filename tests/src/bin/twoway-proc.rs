//! The `twoway` command line (host/src/main.rs) linked into the tests
//! crate, so its integration tests can run real `twoway sim` and `twoway
//! serve` processes (`env!("CARGO_BIN_EXE_twoway-proc")`): a package's own
//! binaries are the only ones cargo builds for its tests.
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = twoway::cli::Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match twoway::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
