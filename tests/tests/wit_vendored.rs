//! The plugin SDK carries its own copy of the WIT (plugins/sdk/wit/) so a
//! plugin builds outside this repository and the SDK packages; the host
//! binds the repository's wit/. The two must not drift: this test fails,
//! naming the file and the fix, when they differ in any byte or file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the repository root")
        .to_path_buf()
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|e| panic!("reading {}: {e}", current.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                let relative = path.strip_prefix(dir).expect("under dir").to_path_buf();
                out.insert(relative, bytes);
            }
        }
    }
    out
}

#[test]
fn the_sdk_carries_an_identical_copy_of_the_wit() {
    let root = root();
    let upstream = files(&root.join("wit"));
    let vendored = files(&root.join("plugins/sdk/wit"));
    assert!(!upstream.is_empty(), "wit/ has no files");
    let fix = "the plugin SDK's copy of the WIT differs from wit/; after editing wit/, run \
               `rm -r plugins/sdk/wit && cp -r wit plugins/sdk/wit` from the repository root";
    for (path, bytes) in &upstream {
        match vendored.get(path) {
            None => panic!("plugins/sdk/wit/{} is missing: {fix}", path.display()),
            Some(copy) if copy != bytes => {
                panic!("plugins/sdk/wit/{} differs: {fix}", path.display())
            }
            Some(_) => {}
        }
    }
    if let Some(path) = vendored.keys().find(|p| !upstream.contains_key(*p)) {
        panic!("plugins/sdk/wit/{} is not in wit/: {fix}", path.display());
    }
}

#[test]
fn the_sdk_generates_its_bindings_from_its_own_copy() {
    let lib = std::fs::read_to_string(root().join("plugins/sdk/src/lib.rs")).expect("sdk lib.rs");
    assert!(
        lib.contains(r#"path: "wit","#),
        "plugins/sdk/src/lib.rs must generate its bindings from its own wit/ (path: \"wit\"), \
         not from outside the crate, or the SDK cannot be packaged"
    );
}
