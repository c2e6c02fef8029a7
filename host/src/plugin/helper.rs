//! Compiling components in a helper process. The gateway runs its own
//! program (`twoway __compile-plugin --cache-dir DIR`, the component on
//! stdin); the helper compiles into the code cache and exits, and the
//! gateway then loads the compiled code from the cache. The compiler's code
//! and the memory a compile takes never become the gateway's own resident
//! memory (about 15 MB at rest, docs/performance.md), and a compiler that
//! crashes on a hostile component ends the helper, not the gateway.
//! Without a helper, or when it fails, the gateway compiles in process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use wasmtime::component::Component;

use super::engine;
use super::registry::MAX_COMPONENT_BYTES;

/// The hidden subcommand the helper runs as.
pub const SUBCOMMAND: &str = "__compile-plugin";

/// The helper's exit code when the component itself is refused (sysexits'
/// `EX_DATAERR`); its stderr then ends with `error: {reason}`.
pub const REFUSED_EXIT: u8 = 65;

/// The helper's exit code when it could not do its work (the cache, its
/// input): the gateway compiles in process instead.
const FAILED_EXIT: i32 = 1;

/// Most bytes of the helper's stderr kept for an error message.
const MAX_STDERR: usize = 2000;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Makes every [`super::Runtime`] built from now on compile in helper
/// processes running `program` (the `twoway` executable). `twoway serve`
/// calls it once at start; a second call changes nothing.
pub fn compile_in_helper(program: PathBuf) {
    let _ = PROGRAM.set(program);
}

/// The helper program, when one was set.
pub(super) fn program() -> Option<PathBuf> {
    PROGRAM.get().cloned()
}

/// Why the helper did not put a component's compiled code in the cache.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("cannot start the compile helper {program}: {reason}")]
    Start { program: String, reason: String },
    /// The helper could not do its work (not about the component).
    #[error("the compile helper failed: {0}")]
    Failed(String),
    /// The helper ran and refused the component (its own words).
    #[error("{0}")]
    Refused(String),
    /// The helper died of a signal or a panic (the compiler crashed or was
    /// killed).
    #[error("the compile helper {status}: the component may crash the compiler{stderr}")]
    Crashed { status: String, stderr: String },
    #[error("the component is over the {MAX_COMPONENT_BYTES}-byte limit")]
    TooLarge,
    #[error("cannot read the component: {0}")]
    Read(String),
    #[error("the code cache {0} is not usable (see the gateway's log)")]
    NoCache(String),
    #[error("{0}")]
    Compile(String),
}

/// The gateway's side: runs `program` on `bytes`; `Ok` once the compiled
/// code is in the cache at `cache_dir`. [`HelperError::Start`] and
/// [`HelperError::Failed`] leave the component untried; `Refused` and
/// `Crashed` are its verdict.
pub(super) fn compile(program: &Path, cache_dir: &Path, bytes: &[u8]) -> Result<(), HelperError> {
    let mut command = Command::new(program);
    command
        .arg(SUBCOMMAND)
        .arg("--cache-dir")
        .arg(cache_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Nothing of the gateway's environment (which may hold secrets) is
        // needed to compile; the engine's settings must match the gateway's.
        .env_clear()
        .env("TWOWAY_LOG", "warn");
    if let Some(value) = std::env::var_os(engine::PERF_MAP_ENV) {
        command.env(engine::PERF_MAP_ENV, value);
    }
    let mut child = command.spawn().map_err(|e| HelperError::Start {
        program: program.display().to_string(),
        reason: e.to_string(),
    })?;
    // A helper that dies early closes its stdin: the wait below says why.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(bytes);
    }
    let output = child.wait_with_output().map_err(|e| HelperError::Start {
        program: program.display().to_string(),
        reason: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail = stderr.trim();
    let tail = &tail[tail.floor_char_boundary(tail.len().saturating_sub(MAX_STDERR))..];
    let said = || {
        tail.lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(tail)
            .to_string()
    };
    Err(match output.status.code() {
        Some(code) if code == i32::from(REFUSED_EXIT) => HelperError::Refused(said()),
        Some(FAILED_EXIT) => HelperError::Failed(said()),
        _ => HelperError::Crashed {
            status: output.status.to_string(),
            stderr: if tail.is_empty() {
                String::new()
            } else {
                format!(" ({tail})")
            },
        },
    })
}

/// The helper's side: compiles the component read from `input` into the
/// cache at `cache_dir` with the gateway's engine settings. The caller exits
/// with [`REFUSED_EXIT`] on [`HelperError::Compile`], else 1.
pub fn run(cache_dir: &Path, input: impl Read) -> Result<(), HelperError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_COMPONENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| HelperError::Read(e.to_string()))?;
    if bytes.len() as u64 > MAX_COMPONENT_BYTES {
        return Err(HelperError::TooLarge);
    }
    let (engine, cache) =
        engine::build(cache_dir).map_err(|e| HelperError::Compile(format!("{e:#}")))?;
    if cache.is_none() {
        return Err(HelperError::NoCache(cache_dir.display().to_string()));
    }
    Component::new(&engine, &bytes).map_err(|e| HelperError::Compile(format!("{e:#}")))?;
    Ok(())
}
