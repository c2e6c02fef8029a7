//! `twoway-bench`: the gateway next to a direct mutual-TLS client, on one
//! machine against the simulator over loopback.
//!
//! - `load`: getUserInfo (a) directly with twoway's pooled Transport, (b)
//!   through the gateway with the passthrough plugin, (c) through the
//!   gateway with the get-user-info plugin, at each concurrency: requests/s,
//!   p50/p99, the gateway's CPU time per request and peak RSS; next to
//!   (d) nginx as a mutual-TLS reverse proxy and (e) the stack's floor, a
//!   proxy of the same parts with nothing of twoway's own (`floor`), and
//!   (f) the gateway's front door, a drop-in client's SOAP call with a
//!   gateway token, (g) the same through a `read-only` policy component.
//! - `scenarios`: cold stampede, session expiry under load, hot reload
//!   under load, upstream connection reuse, with the simulator's counts.
//! - `all`: both, and the targets table.
//!
//! The gateway is a separate `twoway serve` process; the simulator runs in
//! this process on a runtime of its own. The report is Markdown on stdout.

mod calls;
mod count;
mod env;
mod floor;
mod gateway;
mod http;
mod load;
mod nginx;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::gateway::{Gateway, GatewaySpec};
use crate::http::{Http, Target};

#[derive(Parser)]
#[command(about = "Benchmarks of the twoway gateway against a direct mutual-TLS client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Measured seconds per load cell.
    #[arg(long, default_value_t = 5.0, global = true)]
    duration: f64,
    /// Rounds of the load table: each client runs this many times in turn
    /// at each concurrency, and its median round is shown.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..), global = true)]
    rounds: u16,
    /// Warm-up seconds before each load cell.
    #[arg(long, default_value_t = 1.0, global = true)]
    warmup: f64,
    /// Concurrency levels of the load table.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 256], global = true)]
    concurrency: Vec<usize>,
    /// The `twoway` binary to run as the gateway (default: next to this one).
    #[arg(long, global = true)]
    twoway: Option<PathBuf>,
    /// Directory of the built plugin components.
    #[arg(long, global = true)]
    plugins: Option<PathBuf>,
    /// The gateway's `[upstream] pool_max_idle_per_host`, and the direct client's.
    #[arg(long, default_value_t = 64, global = true)]
    pool: usize,
    /// RUST_LOG of the gateway (`info` logs one line per request, as shipped).
    #[arg(long, default_value = "info", global = true)]
    gateway_log: String,
    /// More environment for the gateway process, KEY=VALUE (repeatable),
    /// e.g. TOKIO_WORKER_THREADS=1.
    #[arg(long = "gateway-env", value_parser = key_value, global = true)]
    gateway_env: Vec<(String, String)>,
    /// Leave nginx (the mutual-TLS reverse proxy of the load table) out.
    #[arg(long, global = true)]
    no_nginx: bool,
    /// Only these clients of the load table, by letter (`d,f,g`: nginx and
    /// the front door without and with a policy); all by default.
    #[arg(long, value_delimiter = ',', global = true)]
    clients: Vec<char>,
    /// Also write the report to this file.
    #[arg(long, global = true)]
    markdown: Option<PathBuf>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

#[derive(Subcommand, Clone)]
enum Command {
    /// The load table: direct vs gateway + passthrough vs gateway + get-user-info.
    Load,
    /// Cold stampede, session expiry, hot reload, connection reuse.
    Scenarios,
    /// Load, then scenarios, then the targets.
    All,
    /// One workflow call in the plugin runtime alone, per call and prepared
    /// ahead (Rust, JavaScript, Python).
    PluginCalls(calls::CallsArgs),
    /// The user-space instructions a request costs the floor (e), the
    /// front door (f, g) or a workflow (b, c), counted by callgrind over
    /// an exact number of requests (`--clients`, default e,f): for A/B of
    /// small changes. Needs valgrind.
    Count(count::CountArgs),
    /// The load table's floor proxy, run by `load` as a process of its own.
    #[command(hide = true)]
    FloorProxy(floor::FloorArgs),
}

/// The floor proxy's allocator is the gateway's (the load generator and
/// the simulator use it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::FloorProxy(args) = cli.command {
        return floor::serve(args).await;
    }
    let twoway = match &cli.twoway {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("twoway"),
    };
    anyhow::ensure!(
        twoway.is_file(),
        "{} not found: build it first (cargo build --release -p twoway-cli) or pass --twoway",
        twoway.display()
    );
    let plugins = cli.plugins.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/target/wasm32-wasip2/release")
    });
    let plugins = std::fs::canonicalize(&plugins).with_context(|| {
        format!(
            "{} (cd plugins && cargo build --release --target wasm32-wasip2)",
            plugins.display()
        )
    })?;
    if let Command::PluginCalls(args) = &cli.command {
        return calls::run(args.clone(), &plugins).await;
    }
    let load_at_start = report::load_average();
    let sim = env::SimHost::start().await?;
    let cache = tempfile::Builder::new()
        .prefix("twoway-bench-cache")
        .tempdir()?;
    let spec = GatewaySpec {
        login_url: sim.endpoints.login_url(),
        mutual_port: sim.endpoints.mutual.port(),
        pki: &sim.pki,
        plugins: &plugins,
        cache: cache.path(),
        pool: cli.pool,
        log: &cli.gateway_log,
        env: &cli.gateway_env,
        wrap: &[],
    };
    let admin = Http::new(4);
    if let Command::Count(args) = &cli.command {
        let counts = count::run(args, &cli.clients, &sim, &spec, &twoway).await?;
        let report = count::report(&counts, args);
        print!("{report}");
        if let Some(path) = &cli.markdown {
            std::fs::write(path, &report)?;
        }
        return Ok(());
    }

    let cells = match cli.command {
        Command::Load | Command::All => Some(run_load(&cli, &sim, &spec, &twoway, &admin).await?),
        Command::Scenarios
        | Command::FloorProxy(_)
        | Command::PluginCalls(_)
        | Command::Count(_) => None,
    };
    let scenario_report = match cli.command {
        Command::Scenarios | Command::All => Some(
            scenarios::Scenarios {
                sim: &sim,
                spec,
                twoway: &twoway,
                plugins: &plugins,
                admin: admin.clone(),
            }
            .run()
            .await?,
        ),
        Command::Load | Command::FloorProxy(_) | Command::PluginCalls(_) | Command::Count(_) => {
            None
        }
    };

    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {}. Load average {} at the start, {} at the end.\n\n",
        report::machine(),
        load_at_start,
        report::load_average()
    ));
    out.push_str(&format!(
        "Setup: the simulator runs in the benchmark process (its own tokio runtime, {} threads), next to the load generator; the gateway is a separate `twoway serve` process (RUST_LOG={}{}, upstream pool {} per host); nginx, when it runs, is a process of its own too. All share this machine's CPUs.\n\n",
        env::SIM_THREADS,
        cli.gateway_log,
        cli.gateway_env.iter().map(|(k, v)| format!(", {k}={v}")).collect::<String>(),
        cli.pool
    ));
    if let Some(cells) = &cells {
        out.push_str(&format!(
            "Load: getUserInfo over loopback mutual TLS, {} s measured after {} s warm-up per cell; each client ran {} rounds in turn at each concurrency, and its median round (by proxy CPU per request) is shown, with the rounds' range.\n\n",
            cli.duration, cli.warmup, cli.rounds
        ));
        out.push_str(&report::load_table(cells));
        out.push('\n');
        let nginx = if cells[3].is_empty() {
            "nginx did not run".to_string()
        } else {
            format!(
                "{} is a mutual-TLS reverse proxy, `worker_processes {}`, keep-alive pool {}, access log on",
                nginx::version(),
                gateway_workers(&cli.gateway_env),
                cli.pool
            )
        };
        out.push_str(&format!(
            "The bars ({nginx}; the floor is a proxy of the gateway's own parts with nothing of twoway's: hyper's HTTP/1.1 server, twoway's pooled Transport, mimalloc, no log line; callers of both send their own SessionHeader): CPU time per request of each proxy, all its processes. Passthrough minus floor is what twoway's own work costs a request.\n\n"
        ));
        out.push_str(&report::bars_table(cells));
        out.push('\n');
        out.push_str("The front door next to nginx: the same getUserInfo envelope to the same upstream, with a gateway token (from a SOAP login at the gateway, as jsforce and WSC do) in the SessionHeader where nginx's callers put the Salesforce session; the gateway swaps in the tenant's session. With the policy, the tenant's `read-only` component sees every request in a fresh instance (it is told the SOAP operation and skips the answers). Policy cost is the median of the rounds' paired differences.\n\n");
        out.push_str(&report::front_door_table(cells));
        out.push('\n');
        if cells
            .iter()
            .flatten()
            .any(|c| c.gateway_peak_rss.is_some() && !c.rss_reset)
        {
            out.push_str("(Peak RSS could not be reset per cell: it is the peak since the gateway started.)\n\n");
        }
        let failed = cells
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.iter().map(move |cell| (report::CLIENTS[i], cell)));
        for (client, cell) in failed.filter(|(_, c)| c.errors > 0) {
            out.push_str(&format!(
                "Errors at concurrency {} ({client}): {} (first: {})\n\n",
                cell.concurrency,
                cell.errors,
                cell.first_error.as_deref().unwrap_or("?")
            ));
        }
    }
    if let Some(s) = &scenario_report {
        out.push_str("Scenarios:\n\n");
        out.push_str(&report::scenario_table(s));
        out.push('\n');
    }
    out.push_str("Targets:\n\n");
    out.push_str(&report::targets(cells.as_ref(), scenario_report.as_ref()));
    print!("{out}");
    if let Some(path) = &cli.markdown {
        std::fs::write(path, &out)?;
    }
    drop(sim);
    Ok(())
}

async fn run_load(
    cli: &Cli,
    sim: &env::SimHost,
    spec: &GatewaySpec<'_>,
    twoway: &std::path::Path,
    admin: &Http,
) -> anyhow::Result<report::Cells> {
    let warmup = Duration::from_secs_f64(cli.warmup);
    let window = Duration::from_secs_f64(cli.duration);
    let max = cli.concurrency.iter().copied().max().unwrap_or(1);
    let direct = env::direct_target(sim, cli.pool).await?;
    let gw = Gateway::start_front_door(twoway, spec, admin).await?;
    let http = Http::new(max);
    let pass = gw.passthrough(&http)?;
    let user = gw.get_user_info(&http)?;
    let proxy = match nginx::binary() {
        Some(binary) if !cli.no_nginx => {
            let spec = nginx::NginxSpec {
                mutual_port: sim.endpoints.mutual.port(),
                pki: &sim.pki,
                workers: gateway_workers(&cli.gateway_env),
                pool: cli.pool,
            };
            Some(nginx::Nginx::start(&binary, &spec)?)
        }
        Some(_) => None,
        None => {
            eprintln!(
                "load: nginx not found (scripts/bench installs it; or set NGINX=PATH); its rows are left out"
            );
            None
        }
    };
    // nginx and the floor are asked for the API's own path.
    let api_path = direct.uri.path_and_query().map_or("/", |p| p.as_str());
    let nginx_target = match &proxy {
        Some(proxy) => Some(Target::Proxy {
            http: http.clone(),
            uri: proxy.url(api_path).parse()?,
            body: direct.body.clone(),
        }),
        None => None,
    };
    let floor = floor::FloorProxy::in_front_of(&direct, &sim.pki, cli.pool, &cli.gateway_env, &[])?;
    let floor_target = floor.target(&http, &direct)?;
    let origin = gw.origin();
    let front_door = env::front_door_target(&http, &origin, "acme", gateway::API_KEY).await?;
    let front_door_policy = env::front_door_target(
        &http,
        &origin,
        gateway::POLICY_TENANT,
        gateway::POLICY_API_KEY,
    )
    .await?;
    let gw_pid = [gw.pid()];
    let mut cells = report::Cells::default();
    for &concurrency in &cli.concurrency {
        let mut runs: Vec<(usize, &Target)> = vec![(0, &direct.target), (1, &pass), (2, &user)];
        if let Some(target) = &nginx_target {
            runs.push((3, target));
        }
        runs.extend([
            (4, &floor_target),
            (5, &front_door),
            (6, &front_door_policy),
        ]);
        if !cli.clients.is_empty() {
            runs.retain(|(i, _)| cli.clients.contains(&char::from(b'a' + *i as u8)));
        }
        // Rounds run the clients in turn, so that a slow spell of the
        // machine touches each of them; each client's median round is shown.
        let mut rounds = report::Cells::default();
        for (round, (i, target)) in
            (0..cli.rounds).flat_map(|round| runs.iter().map(move |run| (round, *run)))
        {
            eprintln!(
                "load: {} at concurrency {concurrency}, round {} of {}",
                report::CLIENTS[i],
                round + 1,
                cli.rounds
            );
            // The processes measured; nginx's workers are listed right
            // before its cell: they are forked after the master starts, and
            // a worker can be replaced.
            let pids = match (i, &proxy) {
                (1 | 2 | 5 | 6, _) => gw_pid.to_vec(),
                (3, Some(proxy)) => proxy.pids(),
                (4, _) => vec![floor.pid()],
                _ => Vec::new(),
            };
            let cell = load::run(target, concurrency, warmup, window, &pids).await?;
            eprintln!(
                "  {:.0} requests/s, p50 {} µs, p99 {} µs, {} errors{}",
                cell.rps(),
                cell.p50_us,
                cell.p99_us,
                cell.errors,
                cell.gateway_us_per_request()
                    .map(|us| format!(", proxy {us:.0} µs CPU/request"))
                    .unwrap_or_default()
            );
            if cell.errors > 0 {
                match i {
                    1 | 2 | 5 | 6 => eprintln!("{}", gw.log_tail()),
                    3 => eprintln!(
                        "{}",
                        proxy.as_ref().map(|p| p.log_tail()).unwrap_or_default()
                    ),
                    _ => {}
                }
            }
            rounds[i].push(cell);
        }
        for (i, rounds) in rounds.into_iter().enumerate() {
            cells[i].extend(load::median_round(rounds));
        }
    }
    Ok(cells)
}

/// The gateway's tokio worker threads: TOKIO_WORKER_THREADS when the run
/// sets it, else one per CPU (tokio's default); nginx gets as many workers.
fn gateway_workers(env: &[(String, String)]) -> usize {
    env.iter()
        .find(|(k, _)| k == "TOKIO_WORKER_THREADS")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
