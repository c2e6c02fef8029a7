//! The fleet scenario: three `twoway serve` processes sharing one
//! redis-server (`[store] kind = "redis"`), next to one process on its own
//! (memory store). Counts the simulator's logins for a cold stampede spread
//! over the fleet, and compares requests/s under the same load: requests do
//! not touch Redis, so an instance of the fleet costs what one alone costs.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

use super::*;

/// A redis-server of the benchmark's own, on a free loopback port.
struct Redis {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::Builder::new()
            .prefix("twoway-bench-redis")
            .tempdir()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot run redis-server ({e}): run scripts/setup to install it")
            })?;
        let redis = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.ping() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "redis-server never answered PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(
            redis.dir.path().join("url.txt"),
            format!("redis://127.0.0.1:{port}/"),
        )?;
        std::fs::write(redis.dir.path().join("key.txt"), "42".repeat(32))?;
        Ok(redis)
    }

    fn ping(&self) -> bool {
        let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut answer = [0u8; 7];
        tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    fn store_section(&self) -> String {
        format!(
            "[store]\nkind = \"redis\"\nurl_file = \"{}\"\nencryption_key_file = \"{}\"\ninstances = 3\n",
            self.dir.path().join("url.txt").display(),
            self.dir.path().join("key.txt").display()
        )
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scenarios<'_> {
    /// A cold stampede of `stampede` callers spread over the fleet, then
    /// `callers` passthrough callers for `length` on the fleet and on one
    /// instance alone.
    pub(super) async fn fleet(&self, stampede: usize, callers: usize, length: Duration) -> Outcome {
        let name = fleet_name(stampede, callers, length);
        match self.fleet_run(stampede, callers, length).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome {
                name,
                result: format!("did not run: {e:#}"),
                pass: false,
            },
        }
    }

    async fn fleet_run(
        &self,
        stampede: usize,
        callers: usize,
        length: Duration,
    ) -> anyhow::Result<Outcome> {
        let http = Http::new(callers.max(stampede));
        let single = self.gateway().await?;
        let (single_rps, single_errors) =
            rps(vec![pass_target(&http, &single)?], callers, length).await?;
        drop(single);

        let redis = Redis::start()?;
        let store = redis.store_section();
        let mut fleet = Vec::new();
        for _ in 0..3 {
            fleet.push(
                Gateway::start_with_store(self.twoway, &self.spec, &self.admin, &store).await?,
            );
        }
        self.reset().await?;
        let users = fleet
            .iter()
            .map(|gw| user_target(&http, gw))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let count = Arc::new(Count::default());
        let tasks: Vec<_> = (0..stampede)
            .map(|i| {
                let (target, count) = (users[i % users.len()].clone(), count.clone());
                tokio::spawn(async move { count.record(target.once().await) })
            })
            .collect();
        for task in tasks {
            task.await?;
        }
        let logins = counter(&self.counters().await?, &["logins"]);
        let passes = fleet
            .iter()
            .map(|gw| pass_target(&http, gw))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (fleet_rps, fleet_errors) = rps(passes, callers, length).await?;
        let errors = count.errors.load(Ordering::Relaxed) + fleet_errors + single_errors;
        Ok(Outcome {
            name: fleet_name(stampede, callers, length),
            result: format!(
                "logins = {logins} for the fleet; {}/{stampede} cold callers answered 200 ({}); {fleet_rps:.0} req/s over 3 instances vs {single_rps:.0} req/s on 1 instance (memory store); {errors} errors under load",
                count.ok.load(Ordering::Relaxed),
                count.errors_text(),
            ),
            pass: logins == 1 && errors == 0,
        })
    }
}

fn fleet_name(stampede: usize, callers: usize, length: Duration) -> String {
    format!(
        "fleet: 3 instances on one Redis: {stampede} cold callers, then {callers} concurrent passthrough for {} s, next to 1 instance",
        length.as_secs()
    )
}

/// `callers` workers spread over `targets` for `length`: requests/s and
/// errors.
async fn rps(targets: Vec<Target>, callers: usize, length: Duration) -> anyhow::Result<(f64, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let per = (callers / targets.len().max(1)).max(1);
    let started = Instant::now();
    let mut all = Vec::new();
    for target in targets {
        all.push(hammer(target, per, stop.clone(), None));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut errors) = (0, 0);
    for (count, workers) in all {
        for w in workers {
            w.await?;
        }
        ok += count.ok.load(Ordering::Relaxed);
        errors += count.errors.load(Ordering::Relaxed);
    }
    Ok((ok as f64 / started.elapsed().as_secs_f64(), errors))
}
