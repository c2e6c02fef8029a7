//! The `twoway` binary: everything is in the library ([`twoway_cli::main`]).
//! Logs go to stderr, at the level of `TWOWAY_LOG` (else `RUST_LOG`, else
//! `info`), in colour only when stderr is a terminal. Exit codes are listed
//! in `twoway_cli::exit` and the README.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    twoway_cli::main().await
}
