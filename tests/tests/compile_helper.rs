//! Plugins compiled in a helper process (`twoway __compile-plugin`, what
//! `twoway serve` does): the gateway then finds the code in its cache and
//! compiles nothing itself; a component the helper refuses or crashes on is
//! refused with the reason and never compiled in the gateway; a helper that
//! cannot start leaves the gateway compiling in process.

use std::path::{Path, PathBuf};

use twoway::plugin::{LoadError, Runtime, read_component, version_id};
use twoway_tests::plugins::PASSTHROUGH;
use twoway_tests::process::twoway_bin;

/// A runtime with its own code cache, compiling through `helper`.
fn runtime(cache: &Path, helper: Option<PathBuf>) -> Runtime {
    Runtime::new(cache)
        .expect("a runtime")
        .with_compile_helper(helper)
}

fn load(runtime: &Runtime, path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    runtime.load(path, bytes, version_id(bytes)).map(|_| ())
}

#[test]
fn the_helper_compiles_and_the_gateway_loads_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("cache"), Some(twoway_bin()));
    let path = Path::new(PASSTHROUGH);
    let bytes = read_component(path).unwrap();
    load(&runtime, path, &bytes).expect("the component loads");
    assert_eq!(
        runtime.cache_counts(),
        Some((1, 0)),
        "(hits, misses): the gateway found the helper's code and compiled nothing"
    );
}

#[test]
fn without_a_helper_the_gateway_compiles_itself() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("cache"), None);
    let path = Path::new(PASSTHROUGH);
    let bytes = read_component(path).unwrap();
    load(&runtime, path, &bytes).expect("the component loads");
    assert_eq!(runtime.cache_counts(), Some((0, 1)));
}

#[test]
fn a_component_the_helper_refuses_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("cache"), Some(twoway_bin()));
    let path = Path::new("broken.wasm");
    let error = load(&runtime, path, b"\0asm but not really").unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, LoadError::Compile { .. }), "{text}");
    assert!(
        text.starts_with("broken.wasm is not a valid component: "),
        "{text}"
    );
    // wasmtime's own words about the bytes, as an in-process compile gives.
    assert!(text.contains("WebAssembly"), "{text}");
    assert!(!text.contains("error: "), "{text}");
    assert_eq!(
        runtime.cache_counts(),
        Some((0, 0)),
        "not compiled in the gateway"
    );
}

#[cfg(unix)]
#[test]
fn a_helper_that_crashes_is_not_followed_by_a_compile_in_the_gateway() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let crashing = dir.path().join("crashing-helper");
    std::fs::write(&crashing, "#!/bin/sh\ncat >/dev/null\nkill -SEGV $$\n").unwrap();
    std::fs::set_permissions(&crashing, std::fs::Permissions::from_mode(0o755)).unwrap();
    let runtime = runtime(&dir.path().join("cache"), Some(crashing));
    let path = Path::new(PASSTHROUGH);
    let bytes = read_component(path).unwrap();
    let text = load(&runtime, path, &bytes).unwrap_err().to_string();
    assert!(text.contains("signal"), "{text}");
    assert!(text.contains("may crash the compiler"), "{text}");
    assert_eq!(
        runtime.cache_counts(),
        Some((0, 0)),
        "not compiled in the gateway"
    );
}

#[test]
fn a_helper_that_cannot_start_leaves_the_compile_to_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-program");
    let runtime = runtime(&dir.path().join("cache"), Some(missing));
    let path = Path::new(PASSTHROUGH);
    let bytes = read_component(path).unwrap();
    load(&runtime, path, &bytes).expect("the component loads");
    assert_eq!(runtime.cache_counts(), Some((0, 1)));
}
