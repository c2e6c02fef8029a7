//! Plugins compiled in a helper process (`twoway __compile-plugin`, what
//! `twoway serve` does): the gateway then finds the code in its cache and
//! compiles nothing itself; a component the helper refuses or crashes on is
//! refused with the reason and never compiled in the gateway; a helper that
//! cannot start, or fails for reasons of its own, leaves the gateway
//! compiling in process.

use std::path::{Path, PathBuf};

use twoway::plugin::{LoadError, Runtime, read_component, version_id};
use twoway_tests::plugins::PASSTHROUGH;
use twoway_tests::process::twoway_bin;

/// Loads `bytes` (named `path`) in a runtime with a fresh code cache that
/// compiles through the helper `helper(dir)` names (`None`: in process);
/// the outcome and the cache's `(hits, misses)` after it.
fn load(
    path: &Path,
    bytes: &[u8],
    helper: impl FnOnce(&Path) -> Option<PathBuf>,
) -> (Result<(), LoadError>, Option<(usize, usize)>) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(&dir.path().join("cache"))
        .expect("a runtime")
        .with_compile_helper(helper(dir.path()));
    let outcome = runtime
        .load(
            path,
            bytes,
            version_id(bytes),
            twoway::plugin::World::Workflow,
        )
        .map(|_| ());
    (outcome, runtime.cache_counts())
}

/// [`load`] of the passthrough component.
fn load_passthrough(
    helper: impl FnOnce(&Path) -> Option<PathBuf>,
) -> (Result<(), LoadError>, Option<(usize, usize)>) {
    let path = Path::new(PASSTHROUGH);
    load(path, &read_component(path).unwrap(), helper)
}

#[test]
fn the_helper_compiles_and_the_gateway_loads_from_the_cache() {
    let (outcome, counts) = load_passthrough(|_| Some(twoway_bin()));
    outcome.expect("the component loads");
    assert_eq!(
        counts,
        Some((1, 0)),
        "(hits, misses): the gateway found the helper's code and compiled nothing"
    );
}

#[test]
fn without_a_helper_the_gateway_compiles_itself() {
    let (outcome, counts) = load_passthrough(|_| None);
    outcome.expect("the component loads");
    assert_eq!(counts, Some((0, 1)));
}

#[test]
fn a_component_the_helper_refuses_is_refused_with_its_reason() {
    let (outcome, counts) = load(Path::new("broken.wasm"), b"\0asm but not really", |_| {
        Some(twoway_bin())
    });
    let error = outcome.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, LoadError::Compile { .. }), "{text}");
    assert!(
        text.starts_with("broken.wasm is not a valid component: "),
        "{text}"
    );
    // wasmtime's own words about the bytes, as an in-process compile gives.
    assert!(text.contains("WebAssembly"), "{text}");
    assert!(!text.contains("error: "), "{text}");
    assert_eq!(counts, Some((0, 0)), "not compiled in the gateway");
}

#[cfg(unix)]
#[test]
fn a_helper_that_crashes_is_not_followed_by_a_compile_in_the_gateway() {
    use std::os::unix::fs::PermissionsExt;
    let (outcome, counts) = load_passthrough(|dir| {
        let crashing = dir.join("crashing-helper");
        std::fs::write(&crashing, "#!/bin/sh\ncat >/dev/null\nkill -SEGV $$\n").unwrap();
        std::fs::set_permissions(&crashing, std::fs::Permissions::from_mode(0o755)).unwrap();
        Some(crashing)
    });
    let text = outcome.unwrap_err().to_string();
    assert!(text.contains("signal"), "{text}");
    assert!(text.contains("may crash the compiler"), "{text}");
    assert_eq!(counts, Some((0, 0)), "not compiled in the gateway");
}

/// A helper script that reads the component, prints `stderr` and exits
/// with `code`.
#[cfg(unix)]
fn script(dir: &Path, stderr: &str, code: i32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("helper.sh");
    let body = format!("#!/bin/sh\ncat >/dev/null\necho '{stderr}' >&2\nexit {code}\n");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[cfg(unix)]
#[test]
fn a_helper_that_fails_for_its_own_reasons_leaves_the_compile_to_the_gateway() {
    let (outcome, counts) =
        load_passthrough(|dir| Some(script(dir, "error: the code cache is not usable", 1)));
    outcome.expect("the component loads");
    assert_eq!(counts, Some((0, 1)), "compiled in the gateway");
}

#[cfg(unix)]
#[test]
fn a_helper_that_panics_is_not_followed_by_a_compile_in_the_gateway() {
    let (outcome, counts) = load_passthrough(|dir| Some(script(dir, "thread panicked", 101)));
    let text = outcome.unwrap_err().to_string();
    assert!(text.contains("may crash the compiler"), "{text}");
    assert!(text.contains("thread panicked"), "{text}");
    assert_eq!(counts, Some((0, 0)), "not compiled in the gateway");
}

#[test]
fn a_helper_that_cannot_start_leaves_the_compile_to_the_gateway() {
    let (outcome, counts) = load_passthrough(|dir| Some(dir.join("no-such-program")));
    outcome.expect("the component loads");
    assert_eq!(counts, Some((0, 1)));
}

/// The largest component the tests have (the Python workflow, built by
/// scripts/build-py-plugins), when it is built.
fn large_component() -> Option<PathBuf> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plugins-py/soql-query.wasm");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("TWOWAY_REQUIRE_PY").is_ok_and(|v| v == "1") {
        panic!(
            "{} is missing and TWOWAY_REQUIRE_PY=1: run scripts/build-py-plugins",
            path.display()
        );
    }
    eprintln!(
        "note: skipped, {} is not built (scripts/build-py-plugins)",
        path.display()
    );
    None
}

#[cfg(target_os = "linux")]
#[test]
fn a_compile_over_the_helper_s_limits_is_refused_naming_the_limit() {
    use twoway::plugin::CompileLimits;
    let Some(path) = large_component() else {
        return;
    };
    let bytes = read_component(&path).unwrap();
    // It takes about 13 s of CPU and 400 MB to compile in a debug build.
    for (limits, expected) in [
        (
            CompileLimits {
                cpu_seconds: 1,
                memory_mb: 4096,
            },
            "more than 1 s of CPU, the compile helper's limit",
        ),
        (
            CompileLimits {
                cpu_seconds: 600,
                memory_mb: 32,
            },
            "more than 32 MiB, the compile helper's limit",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(&dir.path().join("cache"))
            .expect("a runtime")
            .with_compile_helper(Some(twoway_bin()))
            .with_compile_limits(limits);
        let e = runtime
            .load(
                &path,
                &bytes,
                version_id(&bytes),
                twoway::plugin::World::Workflow,
            )
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(e, LoadError::Compile { .. }), "{e}");
        assert!(e.to_string().contains(expected), "{expected}: {e}");
        assert_eq!(
            runtime.cache_counts(),
            Some((0, 0)),
            "never compiled in the gateway after the helper's refusal"
        );
    }
}
