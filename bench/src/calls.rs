//! `twoway-bench plugin-calls`: what one workflow call costs in the plugin
//! runtime alone (no gateway, no HTTP server): the smallest Rust component
//! (version-a) and soql-query in Rust, JavaScript and Python, on input the
//! workflow refuses before any upstream call; and get-user-info next to
//! passthrough, both calling the simulator (in this process) over mutual
//! TLS (the simulator on its own runtime), whose difference is the plugin
//! cost without the gateway's HTTP and the load table's contention. Each
//! runs with instances made per call and with instances prepared ahead
//! (`Runtime::with_prepare_ahead`), on a thread of its own, and reports the
//! caller's latency (calls spaced so that the background has made the next
//! instance) and that thread's CPU per call back to back (the background's
//! work and the upstream client's included, the simulator's not).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use twoway::plugin::{InboundRequest, Runtime, Version, World, version_id};
use twoway::upstream::TenantUpstream;
use twoway_testkit::tenants::{ACME, SECRETS};

#[path = "../benches/common/mod.rs"]
mod common;
use common::refused_request;

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

/// One component to call: its label, its file, the request each call
/// sends, and whether it calls the upstream (then the simulator runs, and
/// every call must answer).
struct Component {
    label: &'static str,
    path: PathBuf,
    request: fn() -> InboundRequest,
    upstream: bool,
}

/// The components: the JavaScript and Python ones are skipped when not
/// built (`scripts/build-js-plugins`, `scripts/build-py-plugins`).
fn components(plugins: &Path) -> Vec<Component> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let refused = |label, path| Component {
        label,
        path,
        request: refused_request,
        upstream: false,
    };
    vec![
        refused("version-a (Rust)", plugins.join("version_a.wasm")),
        refused("soql-query (Rust)", plugins.join("soql_query.wasm")),
        refused(
            "soql-query (JavaScript)",
            root.join("target/plugins-js/soql-query.wasm"),
        ),
        refused(
            "soql-query (Python)",
            root.join("target/plugins-py/soql-query.wasm"),
        ),
        Component {
            label: PASSTHROUGH,
            path: plugins.join("passthrough.wasm"),
            request: passthrough_request,
            upstream: true,
        },
        Component {
            label: GET_USER_INFO,
            path: plugins.join("get_user_info.wasm"),
            request: get_user_info_request,
            upstream: true,
        },
    ]
}

const PASSTHROUGH: &str = "passthrough (Rust, getUserInfo upstream)";
const GET_USER_INFO: &str = "get-user-info (Rust)";

/// The load table's passthrough request: the getUserInfo envelope without
/// a session.
fn passthrough_request() -> InboundRequest {
    let header = |name: &str, value: &str| twoway::plugin::Header {
        name: name.into(),
        value: value.into(),
    };
    InboundRequest {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![
            header("content-type", "text/xml; charset=UTF-8"),
            header("soapaction", "\"\""),
        ],
        body: crate::env::get_user_info(None).into_bytes(),
    }
}

/// The load table's get-user-info request.
fn get_user_info_request() -> InboundRequest {
    InboundRequest {
        method: "GET".into(),
        path: "/".into(),
        query: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
    }
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
    let chosen: Vec<_> = components(plugins)
        .into_iter()
        .filter(|c| {
            args.only
                .as_ref()
                .is_none_or(|only| c.label.contains(only.as_str()))
        })
        .collect();
    // The simulator, on its own runtime, only when a chosen component calls
    // the API.
    let sim = match chosen.iter().any(|c| c.upstream) {
        true => Some(crate::env::SimHost::start().await?),
        false => None,
    };
    let mut rows = Vec::new();
    for component in &chosen {
        let Ok(bytes) = std::fs::read(&component.path) else {
            eprintln!(
                "{}: skipped, {} is not built",
                component.label,
                component.path.display()
            );
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
            let (args, bytes, dir, sim) = (&args, &bytes, dir.path(), sim.as_ref());
            // One thread and one current-thread runtime run the calls, the
            // background's work and the upstream connection: its CPU time
            // is theirs, and not the simulator's.
            let row = tokio::task::block_in_place(|| {
                std::thread::scope(|scope| {
                    scope
                        .spawn(move || {
                            tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()?
                                .block_on(measure(component, bytes, ahead, args, dir, sim))
                        })
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            })?;
            rows.push(row);
        }
    }
    println!(
        "Machine: {}. Load average {}.\n",
        crate::report::machine(),
        crate::report::load_average()
    );
    let cpu = |label: &str| {
        rows.iter()
            .find(|r: &&Row| r.label == label && !r.ahead)
            .map(|r| r.cpu_per_call.as_secs_f64())
    };
    let plugin_cost = cpu(GET_USER_INFO)
        .zip(cpu(PASSTHROUGH))
        .map(|(user, pass)| user - pass);
    println!(
        "| component | instances | latency p50 (spaced) | latency mean | CPU per call (back to back, this thread: background included, simulator not) |"
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
    if let Some(cost) = plugin_cost {
        println!(
            "\nPlugin cost in the runtime alone (get-user-info's CPU per call minus passthrough's, instances per call): {:.1} µs",
            cost * 1e6
        );
    }
    Ok(())
}

/// One component in one mode, on the calling thread's current-thread
/// runtime: warm-up, spaced calls (latency), then calls back to back (this
/// thread's CPU per call).
async fn measure(
    component: &Component,
    bytes: &[u8],
    ahead: bool,
    args: &CallsArgs,
    dir: &Path,
    sim: Option<&crate::env::SimHost>,
) -> anyhow::Result<Row> {
    let Component {
        label,
        path,
        request,
        upstream: must_answer,
    } = component;
    let (upstream, limits) = upstream(&dir.join(format!("{}-{ahead}", version_id(bytes))), sim)?;
    // The default limits, with room for Python's larger heap.
    let limits = twoway::config::PluginLimits {
        memory_bytes: 256 << 20,
        ..limits
    };
    let runtime = Runtime::new(&dir.join("cache"))
        .map(|r| r.with_prepare_ahead(ahead))
        .map_err(|e| anyhow::anyhow!("plugin runtime: {e:#}"))?;
    let version = runtime
        .load(path, bytes, version_id(bytes), World::Workflow)
        .with_context(|| path.display().to_string())?;
    let call = common::soql_call(&version, Arc::new(upstream));
    let one = async || {
        let started = Instant::now();
        let outcome = runtime
            .call(&version, call.clone(), limits, request())
            .await;
        if let Err(e) = &outcome
            && (*must_answer || !matches!(e, twoway::plugin::PluginError::Workflow(_)))
        {
            anyhow::bail!("{label}: {e}");
        }
        Ok(started.elapsed())
    };
    // Warm-up: the first calls also decide whether it is prepared ahead,
    // and log in when the workflow calls the API.
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
    let cpu_before = crate::gateway::sample("thread-self")?.cpu_seconds;
    for _ in 0..args.back_to_back {
        one().await?;
    }
    settle(&version).await;
    let cpu = crate::gateway::sample("thread-self")?.cpu_seconds - cpu_before;
    Ok(Row {
        label,
        ahead,
        p50: spaced[spaced.len() / 2],
        mean: spaced.iter().sum::<Duration>() / spaced.len() as u32,
        cpu_per_call: Duration::from_secs_f64(cpu / args.back_to_back as f64),
        prepared: version.ahead().prepared_ahead,
    })
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

/// Tenant acme's upstream and the default plugin limits: against `sim`
/// (SOAP login, mutual TLS with the test PKI) when it runs, else against a
/// closed port (the workflows called then never reach it).
fn upstream(
    dir: &Path,
    sim: Option<&crate::env::SimHost>,
) -> anyhow::Result<(TenantUpstream, twoway::config::PluginLimits)> {
    std::fs::create_dir_all(dir)?;
    let config = match sim {
        None => common::config(dir),
        Some(sim) => {
            for (name, value) in SECRETS {
                std::fs::write(dir.join(name), value)?;
            }
            let toml = ACME
                .replace("{login_url}", &sim.endpoints.login_url())
                .replace("{mutual_port}", &sim.endpoints.mutual.port().to_string())
                .replace("{pki}", &sim.pki.display().to_string());
            let path = dir.join("twoway.toml");
            std::fs::write(&path, toml)?;
            twoway::config::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let settings = twoway::gateway::upstream_settings(&config.tenants[0], &config.upstream);
    Ok((TenantUpstream::new(settings)?, config.plugins.limits))
}
