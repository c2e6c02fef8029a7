//! The `twoway` binary: parse the command line, set up logging, run.
//!
//! Logs go to stderr, at the level of `TWOWAY_LOG` (else `RUST_LOG`, else
//! `info`), in colour only when stderr is a terminal. Exit codes are listed
//! in `twoway::cli::exit` and the README.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = twoway::cli::Cli::parse();
    let filter = EnvFilter::try_from_env("TWOWAY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cli.log_format {
        twoway::cli::LogFormat::Json => logs.json().init(),
        twoway::cli::LogFormat::Text => logs.init(),
    }
    let json = cli.json_output();
    twoway::cli::finish(twoway::cli::run(cli).await, json)
}
