//! What `/metrics` says of the program itself, read at each scrape:
//! `twoway_build_info{version,commit,wit}` and the standard `process_*`
//! metrics of the Prometheus client libraries (CPU seconds, resident and
//! virtual memory, open and maximum file descriptors, start time).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// What this build is, as labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
    wit: &'static str,
}

/// `build_info` (the registry adds `twoway_`): always 1, the build in its labels.
#[derive(Debug)]
pub(super) struct BuildInfo;

impl Collector for BuildInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = BuildLabels {
            version: crate::version::VERSION,
            commit: crate::version::commit(),
            wit: crate::version::WIT,
        };
        let mut metric = encoder.encode_descriptor(
            "build_info",
            "The running build: package version, git commit and the plugin contract's WIT version (always 1)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(metric.encode_family(&labels)?)
    }
}

/// The `process_*` metrics, read at each scrape: CPU time from
/// `getrusage` (microseconds; `/proc/self/stat` counts whole clock ticks,
/// so a process that has run under 10 ms would read 0), the rest from
/// `/proc/self` (none where there is no procfs).
#[derive(Debug)]
pub(super) struct Process;

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(now) = sample() else {
            return Ok(());
        };
        let metric = encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(now.cpu_seconds).encode(metric)?;
        let gauges: [(&str, &str, f64); 5] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                now.resident_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                now.virtual_bytes as f64,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                now.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                now.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                now.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(metric)?;
        }
        Ok(())
    }
}

/// One reading of `/proc/self`.
struct Sample {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    open_fds: usize,
    max_fds: f64,
    start_time_seconds: f64,
}

#[cfg(target_os = "linux")]
fn sample() -> Option<Sample> {
    use procfs::process::{LimitValue, Process};
    let me = Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).ok()?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let boot = procfs::boot_time_secs().ok()? as f64;
    let max_fds = match me.limits().ok()?.max_open_files.soft_limit {
        LimitValue::Value(n) => n as f64,
        LimitValue::Unlimited => f64::INFINITY,
    };
    Some(Sample {
        cpu_seconds: seconds(usage.user_time()) + seconds(usage.system_time()),
        resident_bytes: stat.rss * procfs::page_size(),
        virtual_bytes: stat.vsize,
        open_fds: me.fd_count().ok()?,
        max_fds,
        start_time_seconds: boot + stat.starttime as f64 / ticks,
    })
}

#[cfg(not(target_os = "linux"))]
fn sample() -> Option<Sample> {
    None
}
