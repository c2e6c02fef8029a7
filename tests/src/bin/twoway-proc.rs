//! The `twoway` program (the same [`twoway_cli::main`] as cli/src/main.rs)
//! built as a binary of the tests crate, so that its tests can run real
//! `twoway` processes (`env!("CARGO_BIN_EXE_twoway-proc")`): a package's own
//! binaries are the only ones cargo builds for its tests.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    twoway_cli::main().await
}
