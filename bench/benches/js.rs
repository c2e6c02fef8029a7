//! Workflows written in JavaScript and Python next to the same workflow in
//! Rust: soql-query (plugins/js/soql-query, built by
//! `scripts/build-js-plugins` with componentize-js; plugins/python/soql-query,
//! built by `scripts/build-py-plugins` with componentize-py; and
//! plugins/soql-query). Printed once: the
//! component sizes, the compile time with a cold and a warm artifact cache,
//! and the smallest `memory_mb` each one runs in. Then criterion: one call,
//! a fresh instance from the cached `InstancePre` and `handle`, on input the
//! workflow refuses before any upstream call (an empty query, a 400), so the
//! figure is the per-call cost of the runtime itself, not of the API.
//!
//! `cargo bench -p twoway-bench --bench js`. Without a release build at hand,
//! `cargo bench -p twoway-bench --bench js --profile dev` reuses the test
//! build: wasmtime and Cranelift are optimised there too (the dev profile
//! builds dependencies at opt-level 2), only twoway's own code is not.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use twoway::plugin::{CallContext, PluginError, Runtime, Version};
use twoway::upstream::TenantUpstream;

mod common;
use common::{config, refused_request};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (label, path, how to build it, required): Rust is required, the others
/// are measured when built.
fn components() -> [(&'static str, PathBuf, &'static str, bool); 3] {
    [
        (
            "Rust",
            root().join("plugins/target/wasm32-wasip2/release/soql_query.wasm"),
            "cd plugins && cargo build --release --target wasm32-wasip2",
            true,
        ),
        (
            "JavaScript",
            root().join("target/plugins-js/soql-query.wasm"),
            "scripts/build-js-plugins",
            false,
        ),
        (
            "Python",
            root().join("target/plugins-py/soql-query.wasm"),
            "scripts/build-py-plugins",
            false,
        ),
    ]
}

fn js_next_to_rust(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path());
    let settings = twoway::gateway::upstream_settings(&config.tenants[0], &config.upstream);
    let upstream = Arc::new(TenantUpstream::new(settings).expect("tenant upstream"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut loaded: Vec<(&str, Runtime, Version, CallContext)> = Vec::new();
    for (label, path, build, required) in components() {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if required => panic!("{}: {e} (build it: {build})", path.display()),
            Err(e) => {
                println!(
                    "soql-query ({label}): skipped, {}: {e} (build it: {build})",
                    path.display()
                );
                continue;
            }
        };
        let cache = dir.path().join(format!("cache-{label}"));
        let id = twoway::plugin::version_id(&bytes);
        let started = Instant::now();
        let runtime = Runtime::new(&cache).expect("plugin runtime");
        runtime
            .load(&path, &bytes, id.clone(), twoway::plugin::World::Workflow)
            .unwrap_or_else(|e| panic!("{e}"));
        let cold = started.elapsed();
        // A second runtime on the same cache: what a restart pays.
        let started = Instant::now();
        let runtime = Runtime::new(&cache).expect("plugin runtime");
        let version = runtime
            .load(&path, &bytes, id, twoway::plugin::World::Workflow)
            .unwrap_or_else(|e| panic!("{e}"));
        let warm = started.elapsed();
        let call = common::soql_call(&version, upstream.clone());
        let smallest = smallest_memory_mb(&rt, &runtime, &version, &call, &config);
        println!(
            "soql-query ({label}): component {} KiB; compile {:.2} s with a cold cache, load {:.0} ms \
             with a warm one; runs in memory_mb = {smallest}",
            bytes.len() / 1024,
            cold.as_secs_f64(),
            warm.as_secs_f64() * 1000.0,
        );
        loaded.push((label, runtime, version, call));
    }
    for (label, runtime, version, call) in &loaded {
        let limits = twoway::config::PluginLimits {
            memory_bytes: 256 << 20,
            ..config.plugins.limits
        };
        c.bench_function(
            &format!(
                "plugin: soql-query ({label}), fresh instance + handle, refused before upstream"
            ),
            |b| {
                b.iter(|| {
                    let outcome =
                        rt.block_on(runtime.call(version, call.clone(), limits, refused_request()));
                    assert!(
                        matches!(outcome, Err(PluginError::Workflow(_))),
                        "{outcome:?}"
                    );
                })
            },
        );
    }
}

/// The smallest whole `memory_mb` (1 to 1024) in which the refused call
/// answers its 400 rather than running out of memory.
fn smallest_memory_mb(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    version: &Version,
    call: &CallContext,
    config: &twoway::config::Config,
) -> u64 {
    let fits = |mb: u64| {
        let limits = twoway::config::PluginLimits {
            memory_bytes: mb << 20,
            ..config.plugins.limits
        };
        let outcome = rt.block_on(runtime.call(version, call.clone(), limits, refused_request()));
        matches!(outcome, Err(PluginError::Workflow(_)))
    };
    let (mut low, mut high) = (0, 1024);
    assert!(fits(high), "the workflow fails even with 1024 MiB");
    while high - low > 1 {
        let mid = (low + high) / 2;
        if fits(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    high
}

criterion_group!(benches, js_next_to_rust);
criterion_main!(benches);
