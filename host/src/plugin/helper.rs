//! Compiling components in a helper process. The gateway runs its own
//! program (`twoway __compile-plugin --cache-dir DIR`, the component on
//! stdin); the helper compiles into the code cache and exits, and the
//! gateway then loads the compiled code from the cache. The compiler's code
//! and the memory a compile takes never become the gateway's own resident
//! memory (about 15 MB at rest, docs/performance.md), and a compiler that
//! crashes on a hostile component ends the helper, not the gateway.
//! Without a helper, or when it fails, the gateway compiles in process.
//!
//! The helper runs under [`CompileLimits`] (CPU seconds by `setrlimit`,
//! resident memory watched by the helper itself): a
//! component that would take minutes or gigabytes to compile is refused
//! with a load error naming the limit, and the version that serves keeps
//! serving.

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

/// What one compile in the helper may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileLimits {
    /// CPU time, all compiler threads together (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Resident memory the compile may add to what the engine holds once
    /// built.
    pub memory_mb: u64,
}

impl Default for CompileLimits {
    /// 60 s of CPU and 2 GiB: the largest components we know (a 19 MB
    /// Python component) take about 13 s and 400 MB in a debug build.
    fn default() -> Self {
        Self {
            cpu_seconds: 60,
            memory_mb: 2048,
        }
    }
}

impl CompileLimits {
    /// Limits this process's CPU time (the helper, before it reads).
    #[cfg(unix)]
    fn apply_cpu(self) -> Result<(), HelperError> {
        // Past the soft limit the kernel sends SIGXCPU, past the hard one SIGKILL.
        set_limit(
            nix::sys::resource::Resource::RLIMIT_CPU,
            self.cpu_seconds,
            self.cpu_seconds + 1,
        )
    }

    /// Watches this process's resident memory from now on: once the
    /// compile holds `memory_mb` more than the engine did, the helper says
    /// so and exits with [`REFUSED_EXIT`]. (An address-space or data limit
    /// does not work here: the engine reserves terabytes of address space
    /// up front, and the allocator reuses what it reserved.)
    #[cfg(target_os = "linux")]
    fn apply_memory(self) -> Result<(), HelperError> {
        let base = resident_bytes()
            .ok_or_else(|| HelperError::Failed("cannot read /proc/self/statm".into()))?;
        let limit = base.saturating_add(self.memory_mb.saturating_mul(1024 * 1024));
        let memory_mb = self.memory_mb;
        std::thread::spawn(move || {
            loop {
                if resident_bytes().is_some_and(|now| now > limit) {
                    eprintln!(
                        "error: compiling it needed more than {memory_mb} MiB, the compile helper's limit: the component is refused (one that needs this much is hostile or broken; the version that serves keeps serving)"
                    );
                    std::process::exit(i32::from(REFUSED_EXIT));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        Ok(())
    }

    #[cfg(not(unix))]
    fn apply_cpu(self) -> Result<(), HelperError> {
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn apply_memory(self) -> Result<(), HelperError> {
        Ok(())
    }
}

/// This process's resident memory, from `/proc/self/statm`.
#[cfg(target_os = "linux")]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Lowers `resource` to `soft`/`hard` (never above the current hard limit).
#[cfg(unix)]
fn set_limit(
    resource: nix::sys::resource::Resource,
    soft: u64,
    hard: u64,
) -> Result<(), HelperError> {
    use nix::sys::resource::{getrlimit, setrlimit};
    let (_, current_hard) =
        getrlimit(resource).map_err(|e| HelperError::Failed(format!("getrlimit: {e}")))?;
    setrlimit(resource, soft.min(current_hard), hard.min(current_hard))
        .map_err(|e| HelperError::Failed(format!("setrlimit: {e}")))
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
    /// The compile ran past one of the helper's [`CompileLimits`].
    #[error("{0}")]
    OverLimit(String),
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
pub(super) fn compile(
    program: &Path,
    cache_dir: &Path,
    limits: CompileLimits,
    bytes: &[u8],
) -> Result<(), HelperError> {
    let mut command = Command::new(program);
    command
        .arg(SUBCOMMAND)
        .arg("--cache-dir")
        .arg(cache_dir)
        .arg("--max-cpu-seconds")
        .arg(limits.cpu_seconds.to_string())
        .arg("--max-memory-mb")
        .arg(limits.memory_mb.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Nothing of the gateway's environment (which may hold secrets) is
        // needed to compile; the engine's settings must match the gateway's.
        .env_clear()
        .env("TWOWAY_LOG", "warn");
    for name in [engine::PERF_MAP_ENV, engine::ALLOCATOR_ENV] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
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
    if let Some(limit) = over_limit(&output.status, limits) {
        return Err(HelperError::OverLimit(limit));
    }
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

/// The helper's CPU limit, when that is what ended it (SIGXCPU past the
/// soft limit, SIGKILL past the hard one). Its memory limit it reports
/// itself, as a refusal.
fn over_limit(status: &std::process::ExitStatus, limits: CompileLimits) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let cpu = [libc_signal::SIGXCPU, libc_signal::SIGKILL];
        if status.signal().is_some_and(|s| cpu.contains(&s)) {
            return Some(format!(
                "compiling it took more than {} s of CPU, the compile helper's limit: the component is refused (one that needs this much is hostile or broken; the version that serves keeps serving)",
                limits.cpu_seconds
            ));
        }
    }
    None
}

/// The signal numbers [`over_limit`] looks for (Linux and the BSDs agree).
#[cfg(unix)]
mod libc_signal {
    pub const SIGKILL: i32 = 9;
    pub const SIGXCPU: i32 = 24;
}

/// The helper's side: under `limits`, compiles the component read from
/// `input` into the cache at `cache_dir` with the gateway's engine
/// settings. The caller exits with [`REFUSED_EXIT`] on
/// [`HelperError::Compile`], else 1.
pub fn run(cache_dir: &Path, limits: CompileLimits, input: impl Read) -> Result<(), HelperError> {
    limits.apply_cpu()?;
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
    limits.apply_memory()?;
    Component::new(&engine, &bytes).map_err(|e| HelperError::Compile(format!("{e:#}")))?;
    Ok(())
}
