//! `twoway-bench count`: the user-space instructions a request costs a
//! proxy (the floor, the gateway's front door, a workflow), counted by
//! callgrind over an exact number of requests. CPU time on a shared
//! machine moves 10-20 % from run to run, and a VM may have no hardware
//! counters; an instruction count of the same binary moves well under 1 %,
//! so it tells a change of a few per cent. Under valgrind a process runs
//! some fifty times slower (more requests share each wake-up than
//! natively) and the kernel is not counted: compare two builds, not the
//! count with CPU time.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};

use crate::env::{self, SimHost};
use crate::floor::FloorProxy;
use crate::gateway::{self, Gateway, GatewaySpec};
use crate::http::{Http, Target};

#[derive(clap::Args, Clone, Debug)]
pub struct CountArgs {
    /// Requests counted, after the warm-up.
    #[arg(long, default_value_t = 10_000)]
    pub requests: u64,
    /// Requests sent before counting starts (connections, session, caches).
    #[arg(long, default_value_t = 2_000)]
    pub warm: u64,
    /// Callers sending at once.
    #[arg(long, default_value_t = 16)]
    pub callers: usize,
    /// Keep callgrind's dumps in this folder (`callgrind.out.PID.1`, one a
    /// client, for `callgrind_annotate`); by default a temporary one.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// The clients `count` knows, by the load table's letters.
pub const CLIENTS: &[char] = &['b', 'c', 'e', 'f', 'g'];

/// One client's count.
pub struct Count {
    pub client: char,
    pub instructions: u64,
    pub requests: u64,
    pub errors: u64,
}

impl Count {
    pub fn per_request(&self) -> f64 {
        self.instructions as f64 / self.requests as f64
    }
}

/// Counts each of `clients` (default: the floor and the front door) in a
/// process of its own under callgrind.
pub async fn run(
    args: &CountArgs,
    clients: &[char],
    sim: &SimHost,
    spec: &GatewaySpec<'_>,
    twoway: &Path,
) -> anyhow::Result<Vec<Count>> {
    let clients = if clients.is_empty() {
        &['e', 'f'][..]
    } else {
        clients
    };
    if let Some(other) = clients.iter().find(|c| !CLIENTS.contains(c)) {
        bail!(
            "count: client {other:?} cannot be counted; use b, c, e, f or g (a, d: the direct client and nginx are not ours)"
        );
    }
    let temporary = tempfile::Builder::new()
        .prefix("twoway-bench-count")
        .tempdir()?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("--out {}", dir.display()))?;
            std::fs::canonicalize(dir)?
        }
        None => temporary.path().to_path_buf(),
    };
    let wrap = callgrind(&out)?;
    let http = Http::new(args.callers);
    let mut counts = Vec::new();
    for &client in clients {
        // `_running` keeps the counted process until its count is read.
        let (pid, target, _running) = match client {
            'e' => {
                let direct = env::direct_target(sim, spec.pool).await?;
                let floor = FloorProxy::in_front_of(&direct, &sim.pki, spec.pool, spec.env, &wrap)?;
                let target = floor.target(&http, &direct)?;
                (
                    floor.pid(),
                    target,
                    Box::new(floor) as Box<dyn std::any::Any>,
                )
            }
            _ => {
                // The pool's reservation (terabytes of address space) is
                // more than valgrind can map: instances on demand.
                let mut env = spec.env.to_vec();
                env.push(("TWOWAY_PLUGIN_ALLOCATOR".into(), "on-demand".into()));
                let wrapped = GatewaySpec {
                    login_url: spec.login_url.clone(),
                    env: &env,
                    wrap: &wrap,
                    ..*spec
                };
                let gw = Gateway::start_front_door(twoway, &wrapped, &http).await?;
                let target = match client {
                    'b' => gw.passthrough(&http)?,
                    'c' => gw.get_user_info(&http)?,
                    'f' => {
                        env::front_door_target(&http, &gw.origin(), "acme", gateway::API_KEY)
                            .await?
                    }
                    _ => {
                        env::front_door_target(
                            &http,
                            &gw.origin(),
                            gateway::POLICY_TENANT,
                            gateway::POLICY_API_KEY,
                        )
                        .await?
                    }
                };
                (gw.pid(), target, Box::new(gw) as Box<dyn std::any::Any>)
            }
        };
        let target = Arc::new(target);
        let mut errors = send(&target, args.callers, args.warm).await;
        control(pid, &["--instr=on"])?;
        errors += send(&target, args.callers, args.requests).await;
        control(pid, &["--instr=off"])?;
        control(pid, &["--dump"])?;
        let instructions = dumped(&out, pid)?;
        counts.push(Count {
            client,
            instructions,
            requests: args.requests,
            errors,
        });
    }
    Ok(counts)
}

/// The valgrind command line that counts into `dir`, instrumentation off
/// until `--instr=on`.
fn callgrind(dir: &Path) -> anyhow::Result<Vec<String>> {
    let found = std::process::Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        bail!("count needs valgrind (callgrind): apt-get install valgrind");
    }
    Ok(vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "--instr-atstart=no".into(),
        format!("--callgrind-out-file={}/callgrind.out.%p", dir.display()),
    ])
}

/// `callgrind_control ARGS PID`.
fn control(pid: u32, args: &[&str]) -> anyhow::Result<()> {
    let run = std::process::Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .output()
        .context("callgrind_control (comes with valgrind)")?;
    if !run.status.success() {
        bail!(
            "callgrind_control {args:?} {pid}: {}: {}{}",
            run.status,
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    Ok(())
}

/// The instructions in `pid`'s first dump: its `totals:` line.
fn dumped(dir: &Path, pid: u32) -> anyhow::Result<u64> {
    let file = dir.join(format!("callgrind.out.{pid}.1"));
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("callgrind's dump {}", file.display()))?;
    text.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no totals line in {}", file.display()))
}

/// Sends exactly `n` requests from `callers` tasks; the errors.
async fn send(target: &Arc<Target>, callers: usize, n: u64) -> u64 {
    let left = Arc::new(AtomicU64::new(n));
    let errors = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (target, left, errors) = (target.clone(), left.clone(), errors.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
                    .is_ok()
                {
                    if !matches!(target.once().await, Ok(true)) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    errors.load(Ordering::Relaxed)
}

/// The counts as a Markdown table.
pub fn report(counts: &[Count], args: &CountArgs) -> String {
    let mut out = format!(
        "User-space instructions a request (callgrind; {} requests counted after {} at {} callers):\n\n| client | instructions a request | errors |\n|---|---:|---:|\n",
        args.requests, args.warm, args.callers
    );
    for count in counts {
        out += &format!(
            "| {} | {:.0} | {} |\n",
            crate::report::CLIENTS[usize::from(count.client as u8 - b'a')],
            count.per_request(),
            count.errors
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_the_dumps_totals_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("callgrind.out.42.1"),
            "# callgrind format\nversion: 1\ncmd: twoway serve\nevents: Ir\nsummary: 1234567\n\nfn=(1) main\n3 10\ntotals: 1234567\n",
        )
        .unwrap();
        assert_eq!(dumped(dir.path(), 42).unwrap(), 1_234_567);
        std::fs::write(dir.path().join("callgrind.out.43.1"), "events: Ir\n").unwrap();
        let e = dumped(dir.path(), 43).unwrap_err().to_string();
        assert!(e.contains("no totals line in"), "{e}");
        let e = format!("{:#}", dumped(dir.path(), 44).unwrap_err());
        assert!(e.contains("callgrind.out.44.1"), "{e}");
    }

    #[test]
    fn the_report_names_each_client_and_its_instructions_a_request() {
        let args = CountArgs {
            requests: 10_000,
            warm: 2_000,
            callers: 16,
            out: None,
        };
        let counts = [
            Count {
                client: 'e',
                instructions: 668_970_000,
                requests: 10_000,
                errors: 0,
            },
            Count {
                client: 'f',
                instructions: 1_468_060_000,
                requests: 10_000,
                errors: 3,
            },
        ];
        let report = report(&counts, &args);
        assert!(
            report.contains("10000 requests counted after 2000 at 16 callers"),
            "{report}"
        );
        assert!(
            report.contains("| e. floor (hyper + Transport) | 66897 | 0 |"),
            "{report}"
        );
        assert!(
            report.contains("| f. front door (SOAP, gateway token) | 146806 | 3 |"),
            "{report}"
        );
    }
}
