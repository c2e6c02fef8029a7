//! One cell of the load table: `concurrency` workers repeat one request for
//! a warm-up, then for a measured window; latencies go into an HDR
//! histogram, and the gateway's (and this process's) CPU time and the
//! gateway's peak RSS are read from /proc at the window's edges.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::gateway::{ProcSample, reset_peak_rss, sample};
use crate::http::Target;

/// What one cell measured.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub concurrency: usize,
    /// Good answers completed inside the measured window.
    pub ok: u64,
    /// Failed or unexpected answers inside the window.
    pub errors: u64,
    pub first_error: Option<String>,
    pub window: Duration,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The proxy's CPU seconds over the window, all its processes (None:
    /// no proxy, the direct client).
    pub gateway_cpu: Option<f64>,
    /// The proxy's peak RSS in the window (VmHWM, summed over its processes), bytes.
    pub gateway_peak_rss: Option<u64>,
    /// True when the peak could be reset at the window's start.
    pub rss_reset: bool,
    /// This process's CPU seconds (load generator + simulator).
    pub bench_cpu: f64,
    /// The proxy's CPU per good request in each round, in the order they
    /// ran, µs (the cell shown is the median round; see [`median_round`]).
    pub rounds_us: Vec<f64>,
    /// Good answers over all rounds.
    pub rounds_ok: u64,
}

impl Cell {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// Gateway CPU per good request, in microseconds.
    pub fn gateway_us_per_request(&self) -> Option<f64> {
        self.gateway_cpu
            .filter(|_| self.ok > 0)
            .map(|s| s * 1e6 / self.ok as f64)
    }

    /// Load generator + simulator CPU per good request, in microseconds.
    pub fn bench_us_per_request(&self) -> Option<f64> {
        (self.ok > 0).then(|| self.bench_cpu * 1e6 / self.ok as f64)
    }
}

/// One cell from several rounds of the same client and concurrency: the
/// round with the median proxy CPU per request (the median requests/s for
/// the direct client), with the errors of every round, the highest peak RSS,
/// and each round's CPU per request.
pub fn median_round(mut rounds: Vec<Cell>) -> Option<Cell> {
    let rounds_us: Vec<f64> = rounds
        .iter()
        .filter_map(Cell::gateway_us_per_request)
        .collect();
    let key = |c: &Cell| c.gateway_us_per_request().unwrap_or_else(|| c.rps());
    rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let errors = rounds.iter().map(|c| c.errors).sum();
    let rounds_ok = rounds.iter().map(|c| c.ok).sum();
    let first_error = rounds.iter().find_map(|c| c.first_error.clone());
    let peak_rss = rounds.iter().filter_map(|c| c.gateway_peak_rss).max();
    let rss_reset = rounds.iter().all(|c| c.rss_reset);
    let middle = rounds.len().checked_sub(1)? / 2;
    let mut cell = rounds.swap_remove(middle);
    cell.errors = errors;
    cell.first_error = first_error;
    cell.gateway_peak_rss = peak_rss;
    cell.rss_reset = rss_reset;
    cell.rounds_us = rounds_us;
    cell.rounds_ok = rounds_ok;
    Some(cell)
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

/// The processes of the proxy under test (the gateway, or nginx's master
/// and workers): their CPU time is summed, and so are their peak RSS.
fn sample_all(pids: &[String]) -> anyhow::Result<ProcSample> {
    let mut total = ProcSample::default();
    for pid in pids {
        let one = sample(pid)?;
        total.cpu_seconds += one.cpu_seconds;
        total.peak_rss += one.peak_rss;
    }
    Ok(total)
}

/// Runs one cell against `target`; `proxy` holds the process ids of the
/// proxy in between (none for the direct client).
pub async fn run(
    target: &Target,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    proxy: &[u32],
) -> anyhow::Result<Cell> {
    let start = Instant::now();
    let from = start + warmup;
    let to = from + window;
    let mut workers = Vec::with_capacity(concurrency);
    let target = Arc::new(target.clone());
    for _ in 0..concurrency {
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds");
            let mut tally = Tally::default();
            loop {
                let sent = Instant::now();
                if sent >= to {
                    break;
                }
                let outcome = target.once().await;
                let done = Instant::now();
                if sent < from || done > to {
                    continue;
                }
                match outcome {
                    Ok(true) => {
                        tally.ok += 1;
                        histogram.saturating_record(done.duration_since(sent).as_micros() as u64);
                    }
                    Ok(false) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| {
                            "an answer that was not 200 with the expected body".into()
                        });
                    }
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (histogram, tally)
        }));
    }
    let pids: Vec<String> = proxy.iter().map(u32::to_string).collect();
    tokio::time::sleep_until(from.into()).await;
    let rss_reset = !pids.is_empty() && pids.iter().all(|p| reset_peak_rss(p));
    let gw_before = (!pids.is_empty()).then(|| sample_all(&pids)).transpose()?;
    let me_before = sample("self")?;
    tokio::time::sleep_until(to.into()).await;
    let gw_after = (!pids.is_empty()).then(|| sample_all(&pids)).transpose()?;
    let me_after = sample("self")?;

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut cell = Cell {
        concurrency,
        window,
        rss_reset,
        ..Cell::default()
    };
    for worker in workers {
        let (h, tally) = worker.await?;
        histogram.add(&h)?;
        cell.ok += tally.ok;
        cell.errors += tally.errors;
        if cell.first_error.is_none() {
            cell.first_error = tally.first_error;
        }
    }
    cell.p50_us = histogram.value_at_quantile(0.50);
    cell.p99_us = histogram.value_at_quantile(0.99);
    if let (Some(before), Some(after)) = (gw_before, gw_after) {
        cell.gateway_cpu = Some(after.cpu_seconds - before.cpu_seconds);
        // After a reset VmHWM is the window's peak; without one it is since start.
        cell.gateway_peak_rss = Some(after.peak_rss.max(before.peak_rss));
    }
    let ProcSample { cpu_seconds, .. } = me_after;
    cell.bench_cpu = cpu_seconds - me_before.cpu_seconds;
    Ok(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(cpu_us: f64, errors: u64, peak_mb: u64) -> Cell {
        Cell {
            ok: 1000,
            errors,
            first_error: (errors > 0).then(|| format!("{errors} failed")),
            window: Duration::from_secs(1),
            gateway_cpu: Some(cpu_us * 1000.0 / 1e6),
            gateway_peak_rss: Some(peak_mb << 20),
            rss_reset: true,
            ..Cell::default()
        }
    }

    #[test]
    fn the_median_round_is_shown_with_every_rounds_errors_and_the_highest_peak() {
        let cell = median_round(vec![
            round(300.0, 0, 60),
            round(280.0, 2, 70),
            round(320.0, 0, 50),
        ])
        .unwrap();
        assert_eq!(cell.gateway_us_per_request().map(f64::round), Some(300.0));
        assert_eq!(cell.errors, 2);
        assert_eq!(cell.first_error.as_deref(), Some("2 failed"));
        assert_eq!(cell.gateway_peak_rss, Some(70 << 20));
        assert_eq!(cell.rounds_ok, 3000);
        let rounded: Vec<f64> = cell.rounds_us.iter().map(|x| x.round()).collect();
        assert_eq!(rounded, [300.0, 280.0, 320.0], "in the order they ran");
        assert!(median_round(Vec::new()).is_none());
    }
}
