//! The Markdown the run prints: the machine, the load table with the ratios
//! to direct, the scenarios, and the targets with PASS or MISS.

use std::fmt::Write as _;

use crate::load::Cell;
use crate::scenarios;

/// The three ways of calling getUserInfo, in table order.
pub const CLIENTS: [&str; 3] = [
    "a. direct (Transport)",
    "b. gateway + passthrough",
    "c. gateway + get-user-info",
];

/// Facts about the machine, from nproc, /proc/cpuinfo, /proc/meminfo and /proc/loadavg.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cpus} CPUs (nproc), {model}, {mem_gib:.1} GiB memory")
}

/// The 1-minute load average.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn ms(us: u64) -> String {
    if us >= 100_000 {
        format!("{:.0} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} ms", us as f64 / 1e3)
    }
}

/// `cells[client][i]`: client 0 direct, 1 passthrough, 2 get-user-info.
pub fn load_table(cells: &[Vec<Cell>; 3]) -> String {
    let mut out = String::new();
    out.push_str("| client | concurrency | requests/s | vs direct | p50 | p99 | errors | gateway CPU/request | gateway peak RSS | client+sim CPU/request |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (i, concurrency_cells) in cells[0].iter().enumerate() {
        for (client, name) in CLIENTS.iter().enumerate() {
            let Some(cell) = cells[client].get(i) else {
                continue;
            };
            let direct = concurrency_cells.rps();
            let ratio = if direct > 0.0 {
                format!("{:.2}", cell.rps() / direct)
            } else {
                "-".into()
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {:.0} | {ratio} | {} | {} | {} | {} | {} | {} |",
                cell.concurrency,
                cell.rps(),
                ms(cell.p50_us),
                ms(cell.p99_us),
                cell.errors,
                cell.gateway_us_per_request()
                    .map(|us| format!("{us:.0} µs"))
                    .unwrap_or_else(|| "-".into()),
                cell.gateway_peak_rss
                    .map(|b| format!("{:.0} MB", b as f64 / 1e6))
                    .unwrap_or_else(|| "-".into()),
                cell.bench_us_per_request()
                    .map(|us| format!("{us:.0} µs"))
                    .unwrap_or_else(|| "-".into()),
            );
        }
    }
    out
}

pub fn scenario_table(report: &scenarios::Report) -> String {
    let mut out = String::from("| scenario | result | |\n|---|---|---|\n");
    for o in &report.outcomes {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            o.name,
            o.result.replace('|', "/"),
            if o.pass { "PASS" } else { "MISS" }
        );
    }
    out
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn at(cells: &[Cell], concurrency: usize) -> Option<&Cell> {
    cells.iter().find(|c| c.concurrency == concurrency)
}

/// The four targets of the benchmark issue, each with what was measured.
pub fn targets(cells: Option<&[Vec<Cell>; 3]>, scenarios: Option<&scenarios::Report>) -> String {
    let mut out = String::from("| target | measured | |\n|---|---|---|\n");
    let row = |out: &mut String, target: &str, measured: Option<(String, bool)>| {
        let (text, pass) = match measured {
            Some((text, pass)) => (text, verdict(pass)),
            None => ("not measured in this run".to_string(), "-"),
        };
        let _ = writeln!(out, "| {target} | {text} | {pass} |");
    };
    let c16 = cells.and_then(|c| Some((at(&c[0], 16)?, at(&c[1], 16)?, at(&c[2], 16)?)));
    row(
        &mut out,
        "b/a throughput >= 0.7 at concurrency 16",
        c16.map(|(a, b, _)| {
            let ratio = b.rps() / a.rps().max(f64::MIN_POSITIVE);
            (
                format!("{ratio:.2} ({:.0} vs {:.0} requests/s)", b.rps(), a.rps()),
                ratio >= 0.7,
            )
        }),
    );
    row(
        &mut out,
        "plugin cost (c's gateway CPU/request minus b's) <= 50 µs",
        c16.and_then(|(_, b, c)| {
            let (b_us, c_us) = (b.gateway_us_per_request()?, c.gateway_us_per_request()?);
            let others: Vec<String> = [1, 256]
                .iter()
                .filter_map(|&n| {
                    let cells = cells?;
                    let d = at(&cells[2], n)?.gateway_us_per_request()?
                        - at(&cells[1], n)?.gateway_us_per_request()?;
                    Some(format!("{d:.0} µs at {n}"))
                })
                .collect();
            let extra = if others.is_empty() {
                String::new()
            } else {
                format!("; {}", others.join(", "))
            };
            Some((
                format!(
                    "{:.0} µs at concurrency 16 ({c_us:.0} - {b_us:.0}){extra}",
                    c_us - b_us
                ),
                c_us - b_us <= 50.0,
            ))
        }),
    );
    row(
        &mut out,
        "TLS handshakes per 10,000 requests <= pool size",
        scenarios.filter(|s| !s.reuse.is_empty()).map(|s| {
            let text = s
                .reuse
                .iter()
                .map(|r| {
                    format!(
                        "{:.0} at concurrency {} on a cold gateway, {:.0} warm (pool {})",
                        r.per_10k(),
                        r.concurrency,
                        r.warm_per_10k(),
                        r.pool
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            (text, s.reuse.iter().all(|r| r.per_10k() <= r.pool as f64))
        }),
    );
    row(
        &mut out,
        "peak gateway RSS < 150 MB at 256 concurrent",
        cells.and_then(|c| {
            let b = at(&c[1], 256)?.gateway_peak_rss?;
            let cc = at(&c[2], 256)?.gateway_peak_rss?;
            let peak = b.max(cc);
            Some((
                format!(
                    "{:.0} MB (passthrough {:.0} MB, get-user-info {:.0} MB)",
                    peak as f64 / 1e6,
                    b as f64 / 1e6,
                    cc as f64 / 1e6
                ),
                peak < 150_000_000,
            ))
        }),
    );
    out
}
