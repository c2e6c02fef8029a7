//! The outer build's variables a cargo that builds wasm guests must not
//! inherit (its flags are for the host): shared by build.rs, which builds
//! plugins/, and the tests that run cargo on a plugin.

/// Removed from the environment of a cargo that builds guests.
pub const HOST_ONLY_ENV: [&str; 5] = [
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "RUSTC_WORKSPACE_WRAPPER",
];
