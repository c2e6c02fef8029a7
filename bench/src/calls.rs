//! `twoway-bench plugin-calls`: what one workflow call costs in the plugin
//! runtime alone (no gateway, no HTTP, no upstream): the smallest Rust
//! component (version-a) and soql-query in Rust, JavaScript and Python, on
//! input the workflow refuses before any upstream call. Each runs with
//! instances made per call and with instances prepared ahead
//! (`Runtime::with_prepare_ahead`), and reports the caller's latency (calls
//! spaced so that the background has made the next instance) and the
//! process's CPU per call back to back (the background's work included).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use twoway::plugin::{Runtime, Version, World};
use twoway::upstream::TenantUpstream;

#[path = "../benches/common/mod.rs"]
mod common;
use common::refused_request as request;

#[derive(clap::Args, Clone)]
pub struct CallsArgs {
    /// Spaced calls timed per component and mode (latency).
    #[arg(long, default_value_t = 200)]
    spaced: usize,
    /// Back-to-back calls per component and mode (CPU per call).
    #[arg(long, default_value_t = 1000)]
    back_to_back: usize,
    /// Only the components whose label contains this (e.g. `JavaScript`).
    #[arg(long)]
    only: Option<String>,
    /// Only this mode: `per-call` or `ahead`.
    #[arg(long)]
    mode: Option<String>,
}

/// (label, component path): the JavaScript and Python ones are skipped when
/// not built (`scripts/build-js-plugins`, `scripts/build-py-plugins`).
fn components(plugins: &Path) -> Vec<(&'static str, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    vec![
        ("version-a (Rust)", plugins.join("version_a.wasm")),
        ("soql-query (Rust)", plugins.join("soql_query.wasm")),
        (
            "soql-query (JavaScript)",
            root.join("target/plugins-js/soql-query.wasm"),
        ),
        (
            "soql-query (Python)",
            root.join("target/plugins-py/soql-query.wasm"),
        ),
    ]
}

/// One component in one mode.
struct Row {
    label: &'static str,
    ahead: bool,
    p50: Duration,
    mean: Duration,
    cpu_per_call: Duration,
    prepared: bool,
}

pub async fn run(args: CallsArgs, plugins: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (upstream, limits) = upstream(dir.path())?;
    let upstream = Arc::new(upstream);
    // The default limits, with room for Python's larger heap.
    let limits = twoway::config::PluginLimits {
        memory_bytes: 256 << 20,
        ..limits
    };
    let mut rows = Vec::new();
    let chosen = |label: &str| {
        args.only
            .as_ref()
            .is_none_or(|only| label.contains(only.as_str()))
    };
    for (label, path) in components(plugins).into_iter().filter(|(l, _)| chosen(l)) {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{label}: skipped, {} is not built", path.display());
            continue;
        };
        let modes = [false, true]
            .into_iter()
            .filter(|&ahead| match args.mode.as_deref() {
                Some("per-call") => !ahead,
                Some("ahead") => ahead,
                _ => true,
            });
        for ahead in modes {
            let cache = dir.path().join("cache");
            let runtime = tokio::task::spawn_blocking(move || {
                Runtime::new(&cache).map(|r| r.with_prepare_ahead(ahead))
            })
            .await?
            .map_err(|e| anyhow::anyhow!("plugin runtime: {e:#}"))?;
            let version = {
                let (path, bytes) = (path.clone(), bytes.clone());
                let id = twoway::plugin::version_id(&bytes);
                let runtime = &runtime;
                tokio::task::block_in_place(|| runtime.load(&path, &bytes, id, World::Workflow))
                    .with_context(|| path.display().to_string())?
            };
            let call = common::soql_call(&version, upstream.clone());
            let one = async || {
                let started = Instant::now();
                let outcome = runtime
                    .call(&version, call.clone(), limits, request())
                    .await;
                if let Err(e) = &outcome
                    && !matches!(e, twoway::plugin::PluginError::Workflow(_))
                {
                    anyhow::bail!("{label}: {e}");
                }
                Ok(started.elapsed())
            };
            // Warm-up: the first calls also decide whether it is prepared ahead.
            for _ in 0..10 {
                one().await?;
                settle(&version).await;
            }
            let mut spaced = Vec::with_capacity(args.spaced);
            for _ in 0..args.spaced {
                spaced.push(one().await?);
                settle(&version).await;
            }
            spaced.sort();
            let cpu_before = crate::gateway::sample("self")?.cpu_seconds;
            for _ in 0..args.back_to_back {
                one().await?;
            }
            settle(&version).await;
            let cpu = crate::gateway::sample("self")?.cpu_seconds - cpu_before;
            rows.push(Row {
                label,
                ahead,
                p50: spaced[spaced.len() / 2],
                mean: spaced.iter().sum::<Duration>() / spaced.len() as u32,
                cpu_per_call: Duration::from_secs_f64(cpu / args.back_to_back as f64),
                prepared: version.ahead().prepared_ahead,
            });
        }
    }
    println!(
        "Machine: {}. Load average {}.\n",
        crate::report::machine(),
        crate::report::load_average()
    );
    println!(
        "| component | instances | latency p50 (spaced) | latency mean | CPU per call (back to back, background included) |"
    );
    println!("|---|---|---:|---:|---:|");
    for row in rows {
        let mode = match (row.ahead, row.prepared) {
            (false, _) => "per call",
            (true, true) => "prepared ahead",
            (true, false) => "per call (small component: not prepared ahead)",
        };
        println!(
            "| {} | {mode} | {:.0} µs | {:.0} µs | {:.0} µs |",
            row.label,
            row.p50.as_secs_f64() * 1e6,
            row.mean.as_secs_f64() * 1e6,
            row.cpu_per_call.as_secs_f64() * 1e6,
        );
    }
    Ok(())
}

/// Waits until the background has made the version's next instances and
/// dropped the last used one (a few milliseconds at most).
async fn settle(version: &Version) {
    let deadline = Instant::now() + Duration::from_millis(200);
    tokio::time::sleep(Duration::from_millis(1)).await;
    while version.ahead().prepared_ahead
        && version.ahead().ready < twoway::plugin::AHEAD_DEPTH
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A real tenant upstream (the workflows never call it) and the default
/// plugin limits.
fn upstream(dir: &Path) -> anyhow::Result<(TenantUpstream, twoway::config::PluginLimits)> {
    let config = common::config(dir);
    let settings = twoway::gateway::upstream_settings(&config.tenants[0], &config.upstream);
    Ok((TenantUpstream::new(settings)?, config.plugins.limits))
}
