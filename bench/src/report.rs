//! The Markdown the run prints: the machine, the load table with the ratios
//! to direct, the scenarios, and the targets with PASS or MISS.

use std::fmt::Write as _;

use crate::load::Cell;
use crate::scenarios;
use twoway::gateway::Shape;

/// The ways of calling getUserInfo, in table order.
pub const CLIENTS: [&str; 7] = [
    "a. direct (Transport)",
    "b. gateway + passthrough",
    "c. gateway + get-user-info",
    "d. nginx (mTLS proxy)",
    "e. floor (hyper + Transport)",
    "f. front door (SOAP, gateway token)",
    "g. front door + read-only policy",
];

/// The load table's cells: `cells[client][i]`, clients in [`CLIENTS`] order
/// (0 direct, 1 passthrough, 2 get-user-info, 3 nginx, 4 floor, 5 front
/// door, 6 front door with a policy), one per concurrency that client ran at.
pub type Cells = [Vec<Cell>; 7];

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

fn us(value: Option<f64>) -> String {
    value
        .map(|us| format!("{us:.0} µs"))
        .unwrap_or_else(|| "-".into())
}

/// Every client at every concurrency, with the ratio to direct.
pub fn load_table(cells: &Cells) -> String {
    let mut out = String::new();
    out.push_str("| client | concurrency | requests/s | vs direct | p50 | p99 | errors | proxy CPU/request (rounds' range) | proxy peak RSS | client+sim CPU/request |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    // By concurrency level: a run of some clients (`--clients`) may leave
    // the direct client out.
    let levels = cells.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..levels {
        for (client, name) in CLIENTS.iter().enumerate() {
            let Some(cell) = cells[client].get(i) else {
                continue;
            };
            let direct = cells[0].get(i).map_or(0.0, Cell::rps);
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
                    .map(|us| format!("{us:.0} µs{}", spread(&cell.rounds_us)))
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

/// ` (min-max)` of the rounds' figures, when there were several.
fn spread(rounds: &[f64]) -> String {
    let min = rounds.iter().copied().reduce(f64::min);
    let max = rounds.iter().copied().reduce(f64::max);
    match (min, max) {
        (Some(min), Some(max)) if rounds.len() > 1 => format!(" ({min:.0}-{max:.0})"),
        _ => String::new(),
    }
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

/// `a / b` to two decimals, or "-".
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// A client's proxy CPU per request at concurrency `n`.
fn cpu(cells: &Cells, client: usize, n: usize) -> Option<f64> {
    at(&cells[client], n).and_then(Cell::gateway_us_per_request)
}

/// Per concurrency: the gateway next to its bars, nginx and the floor (a
/// proxy of the same parts with nothing of twoway's), in CPU per request of
/// each proxy (all its processes); passthrough minus floor is twoway's own
/// work.
pub fn bars_table(cells: &Cells) -> String {
    let mut out = String::from(
        "| concurrency | nginx requests/s | nginx p50 / p99 | nginx CPU/request | floor CPU/request | floor / nginx | passthrough CPU/request | passthrough / nginx | passthrough - floor | get-user-info CPU/request | get-user-info / nginx |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cpu = |client: usize, n: usize| cpu(cells, client, n);
    for pass in &cells[1] {
        let n = pass.concurrency;
        let nginx = at(&cells[3], n);
        let (n_us, f_us, p_us, u_us) = (cpu(3, n), cpu(4, n), cpu(1, n), cpu(2, n));
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            nginx.map_or("-".into(), |c| format!("{:.0}", c.rps())),
            nginx.map_or("-".into(), |c| format!(
                "{} / {}",
                ms(c.p50_us),
                ms(c.p99_us)
            )),
            us(n_us),
            us(f_us),
            ratio(f_us, n_us),
            us(p_us),
            ratio(p_us, n_us),
            us(p_us.zip(f_us).map(|(p, f)| p - f)),
            us(u_us),
            ratio(u_us, n_us),
        );
    }
    out
}

/// Per concurrency: the front door (a drop-in client's call, the job nginx
/// does) next to nginx, without and with a policy component, and what the
/// policy costs (the paired rounds' median difference).
pub fn front_door_table(cells: &Cells) -> String {
    let mut out = String::from(
        "| concurrency | nginx CPU/request | front door CPU/request | front door / nginx | front door requests/s | with policy CPU/request | with policy / nginx | policy cost |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cpu = |client: usize, n: usize| cpu(cells, client, n);
    for door in &cells[5] {
        let n = door.concurrency;
        let (n_us, d_us, p_us) = (cpu(3, n), cpu(5, n), cpu(6, n));
        let cost = at(&cells[6], n).and_then(|p| paired_cost(door, p));
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {} | {:.0} | {} | {} | {} |",
            us(n_us),
            us(d_us),
            ratio(d_us, n_us),
            door.rps(),
            us(p_us),
            ratio(p_us, n_us),
            us(cost.map(|(c, _)| c)),
        );
    }
    out
}

/// The targets of the benchmark issues, each with what was measured.
pub fn targets(cells: Option<&Cells>, scenarios: Option<&scenarios::Report>) -> String {
    let mut out = String::from("| target | measured | |\n|---|---|---|\n");
    let row = |out: &mut String, target: &str, measured: Option<(String, bool)>| {
        let (text, pass) = match measured {
            Some((text, pass)) => (text, verdict(pass)),
            None => ("not measured in this run".to_string(), "-"),
        };
        let _ = writeln!(out, "| {target} | {text} | {pass} |");
    };
    // Issue 28's targets, each a ratio to nginx's CPU a request in the same run.
    let nginx16 = cells.and_then(|c| cpu(c, 3, 16));
    let ratio_at = |client: usize, k: usize| -> Option<String> {
        let c = cells?;
        Some(format!(
            "{:.2} x at {k}",
            cpu(c, client, k)? / cpu(c, 3, k)?
        ))
    };
    let at_1_and_256 = |client: usize| -> String {
        [1, 256]
            .iter()
            .filter_map(|&k| ratio_at(client, k))
            .map(|r| format!("; {r}"))
            .collect()
    };
    let floor16 = cells.and_then(|c| cpu(c, 4, 16));
    row(
        &mut out,
        "the floor (the gateway's parts, nothing of twoway's) CPU/request <= 1.1 x nginx's at concurrency 16",
        floor16.zip(nginx16).map(|(f, n)| {
            (
                format!(
                    "{:.2} x ({f:.0} µs vs nginx {n:.0} µs){}",
                    f / n,
                    at_1_and_256(4)
                ),
                f <= 1.1 * n,
            )
        }),
    );
    let passthrough16 = cells.and_then(|c| cpu(c, 1, 16));
    for (bound, then) in [(2.0, ""), (1.5, " (the next step)")] {
        row(
            &mut out,
            &format!("passthrough CPU/request <= {bound:.1} x nginx's at concurrency 16{then}"),
            passthrough16.zip(nginx16).map(|(b, n)| {
                (
                    format!(
                        "{:.2} x ({b:.0} µs vs nginx {n:.0} µs){}",
                        b / n,
                        at_1_and_256(1)
                    ),
                    b <= bound * n,
                )
            }),
        );
    }
    row(
        &mut out,
        "twoway's own work (passthrough minus the floor) <= 1.5 x nginx's CPU/request at concurrency 16 (then 1.0 x)",
        passthrough16.zip(floor16).zip(nginx16).map(|((b, f), n)| {
            (
                format!("{:.2} x ({:.0} µs vs nginx {n:.0} µs)", (b - f) / n, b - f),
                b - f <= 1.5 * n,
            )
        }),
    );
    let c16 = cells.and_then(|c| Some((at(&c[1], 16)?, at(&c[2], 16)?)));
    for (bound, then) in [(1.0, ""), (0.5, " (the next step)")] {
        row(
            &mut out,
            &format!(
                "plugin cost (get-user-info's gateway CPU/request minus passthrough's) <= {bound:.1} x nginx's at concurrency 16{then}"
            ),
            c16.zip(nginx16).and_then(|((b, c), n)| {
                let (cost, rounds) = paired_cost(b, c)?;
                let others: String = [1, 256]
                    .iter()
                    .filter_map(|&k| {
                        let cells = cells?;
                        let (d, _) = paired_cost(at(&cells[1], k)?, at(&cells[2], k)?)?;
                        Some(format!("; {d:.0} µs at {k}"))
                    })
                    .collect();
                Some((
                    format!(
                        "{:.2} x ({cost:.0} µs vs nginx {n:.0} µs; {rounds}){others}",
                        cost / n
                    ),
                    cost <= bound * n,
                ))
            }),
        );
    }
    let door = cells.and_then(front_door_at_16);
    let with_policy = cells.and_then(policy_at_16);
    for (bound, then) in [(1.5, ""), (1.0, " (the next step)")] {
        row(
            &mut out,
            &format!("front door CPU/request <= {bound:.1} x nginx's at concurrency 16{then}"),
            door.as_ref()
                .map(|(text, ratio)| (text.clone(), *ratio <= bound)),
        );
        row(
            &mut out,
            &format!(
                "front door with a policy (read-only) CPU/request <= {bound:.1} x nginx's at concurrency 16{then}"
            ),
            with_policy
                .as_ref()
                .map(|(text, ratio)| (text.clone(), *ratio <= bound)),
        );
    }
    row(
        &mut out,
        "cold stampede: one upstream connection per core and host over HTTP/2 (256 and 1,000 callers)",
        scenarios.filter(|s| !s.stampedes.is_empty()).map(|s| {
            let most = s.shape.connections_per_host();
            let text = s
                .stampedes
                .iter()
                .map(|st| {
                    format!(
                        "{} handshakes to the mutual-auth port for {} callers",
                        st.mutual_handshakes, st.callers
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            let shape = match s.shape {
                Shape::Shared => "the shared runtime: at most 1".to_string(),
                Shape::PerCore(n) => format!("{n} cores: at most {n}"),
            };
            (
                format!("{text} ({shape})"),
                s.stampedes
                    .iter()
                    .all(|st| st.mutual_handshakes as usize <= most),
            )
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
        "peak gateway RSS <= 64 MB at 256 concurrent",
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
                peak <= 64_000_000,
            ))
        }),
    );
    row(
        &mut out,
        "zero errors in the load table",
        cells.map(|c| {
            let errors: u64 = c.iter().flatten().map(|cell| cell.errors).sum();
            let requests: u64 = c.iter().flatten().map(|cell| cell.rounds_ok).sum();
            (
                format!("{errors} errors in {requests} good answers"),
                errors == 0,
            )
        }),
    );
    out
}

/// The front door's ratio to nginx at concurrency 16, and the words: the
/// other concurrencies, the same with the policy and what the policy costs.
fn front_door_at_16(c: &Cells) -> Option<(String, f64)> {
    let cpu = |client: usize, n: usize| cpu(c, client, n);
    let (d, n) = (cpu(5, 16)?, cpu(3, 16)?);
    let mut text = format!("{:.2} x ({d:.0} µs vs nginx {n:.0} µs)", d / n);
    for k in [1, 256] {
        if let (Some(d), Some(n)) = (cpu(5, k), cpu(3, k)) {
            let _ = write!(text, "; {:.2} x at {k}", d / n);
        }
    }
    if let Some(p) = cpu(6, 16) {
        let _ = write!(
            text,
            "; with the read-only policy {p:.0} µs = {:.2} x",
            p / n
        );
        if let Some((cost, how)) = paired_cost(at(&c[5], 16)?, at(&c[6], 16)?) {
            let _ = write!(text, ", the policy costs {cost:.0} µs ({how})");
        }
    }
    Some((text, d / n))
}

/// The front door through the read-only policy next to nginx at 16
/// callers, and its ratio.
fn policy_at_16(c: &Cells) -> Option<(String, f64)> {
    let (p, n) = (cpu(c, 6, 16)?, cpu(c, 3, 16)?);
    let mut text = format!("{:.2} x ({p:.0} µs vs nginx {n:.0} µs)", p / n);
    if let Some((cost, how)) = paired_cost(at(&c[5], 16)?, at(&c[6], 16)?) {
        let _ = write!(text, "; the policy costs {cost:.0} µs ({how})");
    }
    Some((text, p / n))
}

/// What `with` costs over `base` in proxy CPU per request (get-user-info
/// over passthrough: the plugin; the front door with a policy over without:
/// the policy): the median of the rounds' differences (each round ran both
/// back to back), else the difference of the cells shown; with how it was
/// taken.
fn paired_cost(base: &Cell, with: &Cell) -> Option<(f64, String)> {
    let (b, c) = (&base.rounds_us, &with.rounds_us);
    if b.len() >= 2 && b.len() == c.len() {
        let mut d: Vec<f64> = c.iter().zip(b).map(|(c, b)| c - b).collect();
        let shown = d
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        d.sort_by(f64::total_cmp);
        let mid = d.len() / 2;
        // An even count has two middles: their mean.
        let median = if d.len().is_multiple_of(2) {
            (d[mid - 1] + d[mid]) / 2.0
        } else {
            d[mid]
        };
        return Some((median, format!("median of {} rounds: {shown}", d.len())));
    }
    let (b_us, c_us) = (
        base.gateway_us_per_request()?,
        with.gateway_us_per_request()?,
    );
    Some((c_us - b_us, format!("{c_us:.0} - {b_us:.0}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds(us: &[f64]) -> Cell {
        Cell {
            ok: 1000,
            window: std::time::Duration::from_secs(1),
            gateway_cpu: Some(us[0] * 1000.0 / 1e6),
            rounds_us: us.to_vec(),
            ..Cell::default()
        }
    }

    fn at_16(us: f64) -> Vec<Cell> {
        vec![Cell {
            concurrency: 16,
            ..rounds(&[us])
        }]
    }

    #[test]
    fn the_load_table_shows_the_clients_that_ran_without_the_direct_one() {
        let mut cells = Cells::default();
        cells[2] = at_16(390.0);
        cells[2][0].gateway_peak_rss = Some(81_000_000);
        let table = load_table(&cells);
        let row = table.lines().last().unwrap();
        assert!(
            row.starts_with("| c. gateway + get-user-info | 16 | 1000 | - |"),
            "{row}"
        );
        assert!(row.contains("| 390 µs | 81 MB |"), "{row}");
    }

    #[test]
    fn the_bars_table_sets_the_gateway_against_nginx_and_the_floor() {
        let mut cells = Cells::default();
        (cells[1], cells[2], cells[3], cells[4]) =
            (at_16(300.0), at_16(390.0), at_16(60.0), at_16(100.0));
        let table = bars_table(&cells);
        let row = table.lines().last().unwrap();
        assert_eq!(
            row,
            "| 16 | 1000 | 0.00 ms / 0.00 ms | 60 µs | 100 µs | 1.67 | 300 µs | 5.00 | 200 µs | 390 µs | 6.50 |"
        );
        // Without nginx the floor and twoway's own work are still shown.
        cells[3].clear();
        let row = bars_table(&cells).lines().last().unwrap().to_string();
        assert_eq!(
            row,
            "| 16 | - | - | - | 100 µs | - | 300 µs | - | 200 µs | 390 µs | - |"
        );
    }

    #[test]
    fn the_targets_are_ratios_to_nginx_in_the_same_run() {
        let mut cells = Cells::default();
        (cells[1], cells[2], cells[3], cells[4]) =
            (at_16(100.0), at_16(125.0), at_16(50.0), at_16(54.0));
        let table = targets(Some(&cells), None);
        let has = |row: &str| assert!(table.contains(row), "{row}\n{table}");
        has(
            "| the floor (the gateway's parts, nothing of twoway's) CPU/request <= 1.1 x nginx's at concurrency 16 | 1.08 x (54 µs vs nginx 50 µs) | PASS |",
        );
        has(
            "| passthrough CPU/request <= 2.0 x nginx's at concurrency 16 | 2.00 x (100 µs vs nginx 50 µs) | PASS |",
        );
        has(
            "| passthrough CPU/request <= 1.5 x nginx's at concurrency 16 (the next step) | 2.00 x (100 µs vs nginx 50 µs) | MISS |",
        );
        has(
            "| twoway's own work (passthrough minus the floor) <= 1.5 x nginx's CPU/request at concurrency 16 (then 1.0 x) | 0.92 x (46 µs vs nginx 50 µs) | PASS |",
        );
        let plugin = "0.50 x (25 µs vs nginx 50 µs; 125 - 100)";
        has(&format!(
            "| plugin cost (get-user-info's gateway CPU/request minus passthrough's) <= 1.0 x nginx's at concurrency 16 | {plugin} | PASS |"
        ));
        has(&format!(
            "| plugin cost (get-user-info's gateway CPU/request minus passthrough's) <= 0.5 x nginx's at concurrency 16 (the next step) | {plugin} | PASS |"
        ));
        // A slower floor misses its bar; without nginx nothing is judged.
        cells[4] = at_16(56.0);
        assert!(targets(Some(&cells), None).contains("1.12 x (56 µs vs nginx 50 µs) | MISS |"));
        cells[3].clear();
        assert!(targets(Some(&cells), None).contains(
            "| the floor (the gateway's parts, nothing of twoway's) CPU/request <= 1.1 x nginx's at concurrency 16 | not measured in this run | - |"
        ));
    }

    #[test]
    fn the_front_door_is_set_against_nginx_with_and_without_its_policy() {
        let mut cells = Cells::default();
        let at_16_rounds = |us: &[f64]| {
            vec![Cell {
                concurrency: 16,
                ..rounds(us)
            }]
        };
        (cells[3], cells[5], cells[6]) = (
            at_16(60.0),
            at_16_rounds(&[84.0, 90.0, 80.0]),
            at_16_rounds(&[120.0, 130.0, 110.0]),
        );
        let row = front_door_table(&cells).lines().last().unwrap().to_string();
        assert_eq!(
            row,
            "| 16 | 60 µs | 84 µs | 1.40 | 1000 | 120 µs | 2.00 | 36 µs |"
        );
        let table = targets(Some(&cells), None);
        let measured = "1.40 x (84 µs vs nginx 60 µs); with the read-only policy 120 µs = 2.00 x, the policy costs 36 µs (median of 3 rounds: 36, 40, 30)";
        assert!(
            table.contains(&format!(
                "| front door CPU/request <= 1.5 x nginx's at concurrency 16 | {measured} | PASS |"
            )),
            "{table}"
        );
        assert!(
            table.contains(&format!(
                "| front door CPU/request <= 1.0 x nginx's at concurrency 16 (the next step) | {measured} | MISS |"
            )),
            "{table}"
        );
        // Without the policy's cells, the front door alone; without nginx, no verdict.
        cells[6].clear();
        let row = front_door_table(&cells).lines().last().unwrap().to_string();
        assert_eq!(row, "| 16 | 60 µs | 84 µs | 1.40 | 1000 | - | - | - |");
        cells[3].clear();
        assert!(
            targets(Some(&cells), None).contains(
                "| front door CPU/request <= 1.5 x nginx's at concurrency 16 | not measured in this run | - |"
            )
        );
    }

    #[test]
    fn the_plugin_cost_is_the_median_of_paired_round_differences() {
        // Round 2 ran in a slow spell for both: paired, it does not skew.
        let (cost, how) = paired_cost(
            &rounds(&[280.0, 400.0, 290.0]),
            &rounds(&[370.0, 520.0, 375.0]),
        )
        .unwrap();
        assert_eq!(cost, 90.0);
        assert_eq!(how, "median of 3 rounds: 90, 120, 85");
        // Two rounds: the mean of both differences.
        let (cost, _) = paired_cost(&rounds(&[280.0, 300.0]), &rounds(&[370.0, 360.0])).unwrap();
        assert_eq!(cost, 75.0);
        // One round each: the difference of the cells.
        let (cost, how) = paired_cost(&rounds(&[280.0]), &rounds(&[370.0])).unwrap();
        assert_eq!(cost.round(), 90.0);
        assert_eq!(how, "370 - 280");
    }
}
