//! The program's log on stderr: text or JSON (`--log-format`), the level
//! from `TWOWAY_LOG` (else `RUST_LOG`, else `info`), colour only on a
//! terminal and never with `NO_COLOR`, and panics logged as errors so that
//! with `--log-format json` every line is JSON.

use std::io::IsTerminal as _;

use super::LogFormat;

/// Installs the logger and the panic hook (once, at start).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TWOWAY_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        tracing::error!(panic = %message, location, "internal error (a bug: please report it)");
    }));
}

/// Colour on stderr: only on a terminal, and not when `NO_COLOR` is set
/// to anything but the empty string (no-color.org).
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
