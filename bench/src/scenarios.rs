//! Scenarios with counts: a cold stampede, session expiry under load, hot
//! reload under load, and upstream connection reuse. Each runs against a
//! gateway process of its own (fresh, so "cold" means cold) and reads the
//! simulator's admin counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use twoway::gateway::Shape;

use crate::env::{SimHost, get_user_info};
use crate::gateway::{Gateway, GatewaySpec};
use crate::http::{Http, Target};

mod fleet;

/// One scenario's outcome, as the report shows it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    /// What was measured, in words and numbers.
    pub result: String,
    /// Whether the scenario's own condition held (logins == 1, zero errors, ...).
    pub pass: bool,
}

/// Handshakes on the mutual-auth port per 10,000 gateway requests.
#[derive(Debug, Clone, Copy)]
pub struct Reuse {
    pub concurrency: usize,
    pub requests: u64,
    /// On the cold gateway (its first `requests`).
    pub mutual_handshakes: u64,
    /// During as many requests again, on the now warm gateway.
    pub warm_handshakes: u64,
    pub pool: usize,
}

impl Reuse {
    pub fn per_10k(&self) -> f64 {
        self.mutual_handshakes as f64 * 10_000.0 / self.requests.max(1) as f64
    }

    pub fn warm_per_10k(&self) -> f64 {
        self.warm_handshakes as f64 * 10_000.0 / self.requests.max(1) as f64
    }
}

/// Upstream connections a cold stampede opened.
#[derive(Debug, Clone, Copy)]
pub struct Stampede {
    pub callers: usize,
    /// TLS handshakes on the simulator's mutual-auth port.
    pub mutual_handshakes: u64,
}

/// Everything the scenarios found.
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub reuse: Vec<Reuse>,
    pub stampedes: Vec<Stampede>,
    /// The gateway's runtime shape (from `--gateway-env`): a stampede may
    /// open one upstream connection per core and host.
    pub shape: Shape,
}

fn counter(counters: &serde_json::Value, path: &[&str]) -> u64 {
    path.iter()
        .fold(counters, |v, k| &v[*k])
        .as_u64()
        .unwrap_or(0)
}

/// Passthrough's request: the getUserInfo envelope without a session.
fn pass_target(http: &Http, gw: &Gateway) -> anyhow::Result<Target> {
    Ok(Target::Gateway {
        http: http.clone(),
        method: http::Method::POST,
        uri: gw.url("pass").parse()?,
        body: Bytes::from(get_user_info(None)),
        expect: "getUserInfoResponse",
    })
}

fn user_target(http: &Http, gw: &Gateway) -> anyhow::Result<Target> {
    Ok(Target::Gateway {
        http: http.clone(),
        method: http::Method::GET,
        uri: gw.url("user").parse()?,
        body: Bytes::new(),
        expect: "userName",
    })
}

/// Good and failed answers of a [`hammer`].
#[derive(Default)]
struct Count {
    ok: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Count {
    fn record(&self, outcome: anyhow::Result<bool>) {
        match outcome {
            Ok(true) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            other => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                let why = match other {
                    Err(e) => format!("{e:#}"),
                    _ => "an answer that was not 200 with the expected body".into(),
                };
                self.first_error.lock().unwrap().get_or_insert(why);
            }
        }
    }

    fn errors_text(&self) -> String {
        let errors = self.errors.load(Ordering::Relaxed);
        match &*self.first_error.lock().unwrap() {
            Some(first) if errors > 0 => format!("{errors} errors (first: {first})"),
            _ => format!("{errors} errors"),
        }
    }
}

/// `concurrency` workers repeat `target` until `stop` turns true, or until
/// `budget` requests were sent when one is given.
fn hammer(
    target: Target,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    budget: Option<u64>,
) -> (Arc<Count>, Vec<tokio::task::JoinHandle<()>>) {
    let count = Arc::new(Count::default());
    let issued = Arc::new(AtomicU64::new(0));
    let workers = (0..concurrency)
        .map(|_| {
            let (target, stop, count, issued) =
                (target.clone(), stop.clone(), count.clone(), issued.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if budget.is_some_and(|b| issued.fetch_add(1, Ordering::Relaxed) >= b) {
                        break;
                    }
                    count.record(target.once().await);
                }
            })
        })
        .collect();
    (count, workers)
}

pub struct Scenarios<'a> {
    pub sim: &'a SimHost,
    pub spec: GatewaySpec<'a>,
    pub twoway: &'a std::path::Path,
    pub plugins: &'a std::path::Path,
    pub admin: Http,
}

impl Scenarios<'_> {
    async fn gateway(&self) -> anyhow::Result<Gateway> {
        Gateway::start(self.twoway, &self.spec, &self.admin).await
    }

    async fn counters(&self) -> anyhow::Result<serde_json::Value> {
        self.admin
            .admin_json("GET", &self.sim.admin("/counters"))
            .await
    }

    async fn reset(&self) -> anyhow::Result<()> {
        self.admin
            .admin_json("POST", &self.sim.admin("/counters/reset"))
            .await
            .map(|_| ())
    }

    /// The gateway process's runtime shape: `TWOWAY_RUNTIME` and
    /// `TOKIO_WORKER_THREADS` from `--gateway-env`, else as the gateway
    /// would find them in this process's environment.
    fn shape(&self) -> anyhow::Result<Shape> {
        let var = |name: &str| match self.spec.env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => v.clone(),
            None => std::env::var(name).unwrap_or_default(),
        };
        Ok(Shape::parse(
            &var("TWOWAY_RUNTIME"),
            &var("TOKIO_WORKER_THREADS"),
        )?)
    }

    pub async fn run(&self) -> anyhow::Result<Report> {
        let shape = self.shape()?;
        let mut outcomes = Vec::new();
        let mut stampedes = Vec::new();
        for callers in [256, 1000] {
            eprintln!("scenario: cold stampede of {callers}");
            let (outcome, stampede) = self.cold_stampede(callers).await?;
            outcomes.push(outcome);
            stampedes.push(stampede);
        }
        eprintln!("scenario: session expiry under load");
        outcomes.push(self.session_expiry(16, Duration::from_secs(4)).await?);
        eprintln!("scenario: hot reload under load");
        outcomes.push(self.hot_reload(16, 20).await?);
        eprintln!("scenario: a fleet of 3 instances on one Redis");
        outcomes.push(self.fleet(1000, 64, Duration::from_secs(4)).await);
        let mut reuse = Vec::new();
        for concurrency in [16, 256] {
            eprintln!("scenario: connection reuse at {concurrency} concurrent");
            let (outcome, r) = self.connection_reuse(concurrency, 10_000).await?;
            outcomes.push(outcome);
            reuse.push(r);
        }
        Ok(Report {
            outcomes,
            reuse,
            stampedes,
            shape,
        })
    }

    /// `n` callers at once on a gateway that has no session yet.
    async fn cold_stampede(&self, n: usize) -> anyhow::Result<(Outcome, Stampede)> {
        let gw = self.gateway().await?;
        self.reset().await?;
        let http = Http::new(n);
        let target = user_target(&http, &gw)?;
        let count = Arc::new(Count::default());
        let gate = Arc::new(tokio::sync::Barrier::new(n + 1));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (target, count, gate) = (target.clone(), count.clone(), gate.clone());
                tokio::spawn(async move {
                    gate.wait().await;
                    let sent = Instant::now();
                    count.record(target.once().await);
                    sent.elapsed()
                })
            })
            .collect();
        gate.wait().await;
        let released = Instant::now();
        let mut slowest = Duration::ZERO;
        for task in tasks {
            slowest = slowest.max(task.await?);
        }
        let all = released.elapsed();
        let counters = self.counters().await?;
        let logins = counter(&counters, &["logins"]);
        let ok = count.ok.load(Ordering::Relaxed);
        let errors = count.errors.load(Ordering::Relaxed);
        let stampede = Stampede {
            callers: n,
            mutual_handshakes: counter(&counters, &["handshakes", "mutual"]),
        };
        let outcome = Outcome {
            name: format!("cold stampede: {n} concurrent get-user-info on a cold tenant"),
            result: format!(
                "logins = {logins}; {ok}/{n} answered 200 in {:.2} s (slowest caller {:.2} s); {}; TLS handshakes to the mutual-auth port: {}",
                all.as_secs_f64(),
                slowest.as_secs_f64(),
                count.errors_text(),
                counter(&counters, &["handshakes", "mutual"]),
            ),
            pass: logins == 1 && errors == 0 && ok == n as u64,
        };
        if !outcome.pass {
            eprintln!("{}", gw.log_tail());
        }
        Ok((outcome, stampede))
    }

    /// Load on a cold gateway; halfway through, every session is expired.
    async fn session_expiry(
        &self,
        concurrency: usize,
        length: Duration,
    ) -> anyhow::Result<Outcome> {
        let gw = self.gateway().await?;
        self.reset().await?;
        let http = Http::new(concurrency);
        let stop = Arc::new(AtomicBool::new(false));
        let (count, workers) = hammer(pass_target(&http, &gw)?, concurrency, stop.clone(), None);
        tokio::time::sleep(length / 2).await;
        let before = count.ok.load(Ordering::Relaxed);
        let expired = self
            .admin
            .admin_json("POST", &self.sim.admin("/sessions/expire"))
            .await?;
        tokio::time::sleep(length / 2).await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await?;
        }
        let counters = self.counters().await?;
        let logins = counter(&counters, &["logins"]);
        let ok = count.ok.load(Ordering::Relaxed);
        let errors = count.errors.load(Ordering::Relaxed);
        Ok(Outcome {
            name: format!(
                "session expiry under load: {concurrency} concurrent passthrough, all sessions expired halfway"
            ),
            result: format!(
                "logins = {logins}; {ok} answered 200 ({before} before the expiry of {} session(s), {} after); {}",
                expired["expired"],
                ok - before,
                count.errors_text()
            ),
            pass: logins == 2 && errors == 0,
        })
    }

    /// Load on `/v` while version-b and version-a are swapped in `swaps` times.
    async fn hot_reload(&self, concurrency: usize, swaps: usize) -> anyhow::Result<Outcome> {
        let gw = self.gateway().await?;
        let http = Http::new(concurrency);
        let probe = Http::new(1);
        let url = gw.url("v");
        let ask = |probe: &Http| {
            let request = http::Request::get(&url)
                .header(
                    "authorization",
                    format!("Bearer {}", crate::gateway::API_KEY),
                )
                .body(Bytes::new());
            let probe = probe.clone();
            async move { probe.send(request?).await }
        };
        let (status, body) = ask(&probe).await?;
        anyhow::ensure!(
            status == 200 && &body[..] == b"a",
            "version-a answers first: {status} {body:?}"
        );
        let target = Target::Gateway {
            http,
            method: http::Method::GET,
            uri: url.parse()?,
            body: Bytes::new(),
            expect: "",
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (count, workers) = hammer(target, concurrency, stop.clone(), None);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dest = gw.plugins_dir().join("version.wasm");
        let mut slowest = Duration::ZERO;
        let mut total = Duration::ZERO;
        let mut never = 0;
        for i in 0..swaps {
            let (source, expected): (&str, &[u8]) = if i % 2 == 0 {
                ("version_b.wasm", b"b")
            } else {
                ("version_a.wasm", b"a")
            };
            let aside = dest.with_extension("tmp");
            std::fs::copy(self.plugins.join(source), &aside)?;
            let written = Instant::now();
            std::fs::rename(&aside, &dest)?;
            loop {
                if let Ok((200, body)) = ask(&probe).await
                    && &body[..] == expected
                {
                    break;
                }
                if written.elapsed() > Duration::from_secs(30) {
                    never += 1;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            slowest = slowest.max(written.elapsed());
            total += written.elapsed();
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await?;
        }
        let ok = count.ok.load(Ordering::Relaxed);
        let errors = count.errors.load(Ordering::Relaxed);
        let status = self
            .admin
            .admin_json("GET", &format!("http://{}/admin/plugins", gw.admin))
            .await?;
        let reloads = status["plugins"]
            .as_array()
            .and_then(|slots| slots.iter().find(|s| s["workflow"] == "v"))
            .map(|slot| slot["reloads"].to_string())
            .unwrap_or_else(|| "?".into());
        Ok(Outcome {
            name: format!(
                "hot reload under load: {swaps} swaps version-b/version-a (write aside + rename), {concurrency} concurrent callers"
            ),
            result: format!(
                "{ok} answered 200 during the swaps; {}; {reloads} versions loaded; the new version answered after {:.0} ms at the slowest, {:.0} ms on average{}",
                count.errors_text(),
                slowest.as_secs_f64() * 1e3,
                total.as_secs_f64() * 1e3 / swaps as f64,
                if never > 0 {
                    format!("; {never} swap(s) never seen")
                } else {
                    String::new()
                }
            ),
            pass: errors == 0 && never == 0,
        })
    }

    /// `requests` passthrough calls at `concurrency` on a cold gateway, then
    /// as many again on the warm one; TLS handshakes counted by the simulator.
    async fn connection_reuse(
        &self,
        concurrency: usize,
        requests: u64,
    ) -> anyhow::Result<(Outcome, Reuse)> {
        let gw = self.gateway().await?;
        let http = Http::new(concurrency);
        let mut phases = Vec::new();
        for _ in 0..2 {
            self.reset().await?;
            let stop = Arc::new(AtomicBool::new(false));
            let (count, workers) =
                hammer(pass_target(&http, &gw)?, concurrency, stop, Some(requests));
            for w in workers {
                w.await?;
            }
            phases.push((count, self.counters().await?));
        }
        let (cold, counters) = &phases[0];
        let (warm, warm_counters) = &phases[1];
        let errors = cold.errors.load(Ordering::Relaxed) + warm.errors.load(Ordering::Relaxed);
        let reuse = Reuse {
            concurrency,
            requests,
            mutual_handshakes: counter(counters, &["handshakes", "mutual"]),
            warm_handshakes: counter(warm_counters, &["handshakes", "mutual"]),
            pool: self.spec.pool,
        };
        let outcome = Outcome {
            name: format!(
                "upstream connection reuse: {requests} passthrough requests at {concurrency} concurrent on a cold gateway, then {requests} more"
            ),
            result: format!(
                "TLS handshakes on the mutual-auth port: {} cold ({:.1} per 10,000 requests; pool size {}), {} warm; {} on the login port; {} API requests counted; {}",
                reuse.mutual_handshakes,
                reuse.per_10k(),
                reuse.pool,
                reuse.warm_handshakes,
                counter(counters, &["handshakes", "login"])
                    + counter(warm_counters, &["handshakes", "login"]),
                counter(counters, &["api_requests"]) + counter(warm_counters, &["api_requests"]),
                if errors == 0 {
                    "0 errors".to_string()
                } else {
                    format!("{} / {}", cold.errors_text(), warm.errors_text())
                }
            ),
            pass: reuse.per_10k() <= reuse.pool as f64 && errors == 0,
        };
        Ok((outcome, reuse))
    }
}
