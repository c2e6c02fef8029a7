//! Exit codes, distinct per kind of failure so scripts can tell them
//! apart, and how an error is printed (text on stderr; with `--json`, also
//! a JSON object on stdout).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (I/O, internal) |
//! | 2 | usage: bad arguments (clap's own code) |
//! | 3 | configuration: the config file, a secret, an identity, an unknown tenant |
//! | 4 | network or TLS: connect, handshake, proxy, timeout, no session |
//! | 5 | the API refused: login refused or rate limited, a fault, an HTTP error |
//!
//! | 6 | `cert check` / `cert bundle`: warnings only |
//! | 7 | `cert check` / `cert bundle`: at least one error (docs/cert-check.md) |

use std::process::ExitCode;

use twoway::config::ConfigError;
use twoway::session::SessionError;
use twoway::transport::TransportError;
use twoway::upstream::{SetupError, UpstreamError};

pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const CONFIG: u8 = 3;
pub const NETWORK: u8 = 4;
pub const REFUSED: u8 = 5;

/// A failure already reported on stdout/stderr: exit with `0` quietly.
#[derive(Debug, thiserror::Error)]
#[error("exit {0}")]
pub struct Reported(pub u8);

/// Errors of the command line itself.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A value clap cannot check (a header, a method, a `--data @FILE`).
    #[error("{0}")]
    Usage(String),
    /// A config problem found by the command (an unknown tenant).
    #[error("{0}")]
    Config(String),
    /// The API answered with an HTTP error status.
    #[error("the API answered HTTP {0}")]
    HttpStatus(u16),
}

/// The exit code for `e`: the first error in its chain that says.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(Reported(code)) = cause.downcast_ref::<Reported>() {
            return *code;
        }
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return match e {
                CliError::Usage(_) => USAGE,
                CliError::Config(_) => CONFIG,
                CliError::HttpStatus(_) => REFUSED,
            };
        }
        if cause.is::<ConfigError>() || cause.is::<SetupError>() {
            return CONFIG;
        }
        if cause.is::<TransportError>() {
            return NETWORK;
        }
        if let Some(e) = cause.downcast_ref::<SessionError>() {
            return session_code(e);
        }
        if let Some(e) = cause.downcast_ref::<UpstreamError>() {
            return match e {
                UpstreamError::Session(s) => session_code(s),
                UpstreamError::Transport(TransportError::TooLarge { .. }) => REFUSED,
                UpstreamError::Transport(_) | UpstreamError::ClientCertificateRejected { .. } => {
                    NETWORK
                }
                _ => REFUSED,
            };
        }
    }
    FAILURE
}

fn session_code(e: &SessionError) -> u8 {
    match e {
        SessionError::Unavailable { .. } => NETWORK,
        _ => REFUSED,
    }
}

/// Turns a command's result into the process's exit code, printing the
/// error (`error: ...` on stderr, or a JSON log line with `log_json`
/// (`--log-format json`); with `json`, also `{"error", "exit_code"}` on
/// stdout).
pub fn finish(result: anyhow::Result<()>, json: bool, log_json: bool) -> ExitCode {
    let Err(e) = result else {
        return ExitCode::from(OK);
    };
    let code = exit_code(&e);
    if e.downcast_ref::<Reported>().is_none() {
        if log_json {
            tracing::error!(error = format!("{e:#}"), exit_code = code, "failed");
        } else {
            eprintln!("error: {e:#}");
        }
        if json {
            println!(
                "{}",
                serde_json::json!({ "error": format!("{e:#}"), "exit_code": code })
            );
        }
    }
    ExitCode::from(code)
}
