//! Embeds the git commit the program is built from (`TWOWAY_COMMIT`, shown
//! by `twoway --version` and in `twoway_build_info`): `git rev-parse`, else
//! `TWOWAY_COMMIT` from the environment (a build outside a checkout, e.g.
//! an image build from a copied tree), else `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// Rebuilds when `file` (a path in the git directory) changes, if it exists
/// (cargo would otherwise rebuild every time).
fn watch(file: Option<String>) {
    if let Some(file) = file.filter(|f| std::path::Path::new(f).exists()) {
        println!("cargo:rerun-if-changed={file}");
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=TWOWAY_COMMIT");
    let commit = git(&["rev-parse", "--short=12", "HEAD"])
        .or_else(|| {
            std::env::var("TWOWAY_COMMIT")
                .ok()
                .filter(|c| !c.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    // A new commit (HEAD moves, or the branch it names does) builds again.
    for path in ["HEAD", "packed-refs"] {
        watch(git(&["rev-parse", "--git-path", path]));
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(git(&["rev-parse", "--git-path", &branch]));
    }
    println!("cargo:rustc-env=TWOWAY_COMMIT={commit}");
}
