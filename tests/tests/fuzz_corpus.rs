//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) on stable
//! Rust through the very bodies the cargo-fuzz targets run
//! (`twoway_testkit::fuzzing`), so an input that once crashed the host stays fixed
//! and the targets cannot drift from what is tested. `scripts/fuzz` grows
//! the corpus; each input must run without a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fuzz)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, body) = twoway_testkit::fuzzing::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    let files = corpus(target);
    assert!(
        !files.is_empty(),
        "fuzz/corpus/{target} is empty: run scripts/fuzz"
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).expect("corpus file");
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs panicked: {failed:?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn every_target_has_a_corpus() {
    for (name, _) in twoway_testkit::fuzzing::TARGETS {
        assert!(!corpus(name).is_empty(), "fuzz/corpus/{name}");
        let target = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(target.is_file(), "{} is missing", target.display());
    }
}

#[test]
fn xml_inject_classify() {
    replay("xml_inject_classify");
}

#[test]
fn login_response() {
    replay("login_response");
}

#[test]
fn identity() {
    replay("identity");
}

#[test]
fn config() {
    replay("config");
}

#[test]
fn route() {
    replay("route");
}
