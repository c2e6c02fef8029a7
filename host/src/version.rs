//! What this build is: the package version, the git commit it was built
//! from (the program that embeds the library knows it and says so with
//! [`set_commit`]) and the plugin contract's WIT version.

use std::sync::OnceLock;

/// The package version (`Cargo.toml`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The version of the WIT package `twoway:gateway` plugins are built against.
pub const WIT: &str = crate::plugin::WIT_VERSION;

static COMMIT: OnceLock<&'static str> = OnceLock::new();

/// Records the commit this program was built from (once; later calls are ignored).
pub fn set_commit(commit: &'static str) {
    let _ = COMMIT.set(commit);
}

/// The commit set by [`set_commit`], else `unknown`.
pub fn commit() -> &'static str {
    COMMIT.get().copied().unwrap_or("unknown")
}
