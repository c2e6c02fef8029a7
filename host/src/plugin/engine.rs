//! The one wasmtime Engine: component model, async, the instance allocator
//! (pooling, or on demand with `TWOWAY_PLUGIN_ALLOCATOR`), epoch
//! interruption ticked from one thread, and the compiled-artifact cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::MAX_PLUGIN_MEMORY;
use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig,
};

/// How often the epoch advances; CPU limits are counted in these ticks.
pub const TICK: Duration = Duration::from_millis(5);

/// Plugin instances that can be live at once across all tenants.
const MAX_INSTANCES: u32 = 1000;

/// Set to `1`, plugins' compiled functions are named for `perf`.
pub const PERF_MAP_ENV: &str = "TWOWAY_PERF_MAP";

/// Bytes of a freed memory or table slot reset in place for the next call.
const KEEP_RESIDENT: usize = 1024 * 1024;

/// Names where plugin instances' memories, tables and stacks come from:
/// `pooling` (the default) or `on-demand`.
pub const ALLOCATOR_ENV: &str = "TWOWAY_PLUGIN_ALLOCATOR";

/// Where plugin instances' memories, tables and fiber stacks come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocator {
    /// Slots for [`MAX_INSTANCES`] instances reserved once at start (about
    /// 8 TiB of address space, little of it ever touched) and reset in
    /// place after each call: the fast path.
    Pooling,
    /// Mapped for each instance and unmapped after it: for where that
    /// address space cannot be reserved (a `ulimit -v`, valgrind, some
    /// sandboxes), at more CPU a call.
    OnDemand,
}

impl Allocator {
    /// [`ALLOCATOR_ENV`] from the environment (unset: pooling).
    pub fn from_env() -> wasmtime::Result<Self> {
        Self::parse(&std::env::var(ALLOCATOR_ENV).unwrap_or_default())
    }

    /// [`Allocator::from_env`] from the variable's value (empty: unset).
    pub fn parse(value: &str) -> wasmtime::Result<Self> {
        match value.trim() {
            "" | "pooling" => Ok(Self::Pooling),
            "on-demand" => Ok(Self::OnDemand),
            other => Err(wasmtime::format_err!(
                "{ALLOCATOR_ENV}={other:?}: use \"pooling\" (the default) or \"on-demand\""
            )),
        }
    }
}

/// The compiled-code cache an engine uses: its folder and its counters.
#[derive(Clone)]
pub struct CodeCache {
    pub dir: PathBuf,
    pub cache: Cache,
}

/// Builds the engine and starts its epoch ticker; compiled code is cached in
/// `cache_dir` when only the gateway's user can write there (then the cache
/// is returned too).
pub fn build(cache_dir: &Path) -> wasmtime::Result<(Engine, Option<CodeCache>)> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // For profiling workflows with `perf` (docs/performance.md): compiled
    // guest functions are named in /tmp/perf-PID.map.
    if std::env::var_os(PERF_MAP_ENV).is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let trusted = super::cache::trusted_dir(cache_dir).and_then(|dir| {
        // Exactly the checked path; wasmtime resolves it again, and must
        // land on the same folder.
        let mut settings = CacheConfig::new();
        settings.with_directory(&dir);
        let cache = Cache::new(settings).map_err(|e| super::cache::CacheError::Create {
            path: dir.display().to_string(),
            reason: format!("{e:#}"),
        })?;
        super::cache::same_dir(&dir, cache.directory())?;
        Ok(CodeCache { dir, cache })
    });
    let code_cache = match trusted {
        Ok(code_cache) => {
            config.cache(Some(code_cache.cache.clone()));
            Some(code_cache)
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "the compiled-code cache is off: every plugin is compiled at load, in the gateway"
            );
            None
        }
    };
    let allocator = Allocator::from_env()?;
    config.allocation_strategy(match allocator {
        Allocator::Pooling => InstanceAllocationStrategy::Pooling(pooling()),
        Allocator::OnDemand => InstanceAllocationStrategy::OnDemand,
    });
    let engine = with_one_pool_shard(|| Engine::new(&config)).map_err(|e| match allocator {
        Allocator::Pooling => e.context(format!(
            "reserving the address space of the plugin instances' pool ({MAX_INSTANCES} slots); \
             where address space is limited (a `ulimit -v`, valgrind), set {ALLOCATOR_ENV}=on-demand"
        )),
        Allocator::OnDemand => e,
    })?;
    start_ticker(&engine)?;
    Ok((engine, code_cache))
}

/// The pool the instances of [`Allocator::Pooling`] take their slots from.
fn pooling() -> PoolingAllocationConfig {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(MAX_INSTANCES)
        .total_core_instances(MAX_INSTANCES * 4)
        .total_memories(MAX_INSTANCES * 2)
        .total_tables(MAX_INSTANCES * 4)
        .max_memory_size(MAX_PLUGIN_MEMORY as usize)
        // Every call frees an instance: batch what is decommitted so that
        // each call does not cost its own madvise and TLB shootdown.
        .decommit_batch_size(32)
        // A freed slot's first MiB is reset in place (only the pages the
        // call wrote, found with PAGEMAP_SCAN on Linux 6.7+) instead of
        // decommitted: the next instance in the slot takes no page faults
        // there. About 70 µs less per call (docs/performance.md).
        .linear_memory_keep_resident(KEEP_RESIDENT)
        // A freed slot (memory, table, fiber stack) is taken again before a
        // never-used one: the slots ever touched, and so the memory they
        // keep, stay at the most instances that were live at once, instead
        // of creeping towards MAX_INSTANCES (fiber stacks are never
        // decommitted).
        .max_unused_warm_slots(0)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    pooling
}

/// Runs `build` on a thread allowed one CPU, so that the engine's pools
/// have one shard each.
///
/// wasmtime splits each pool (memories, tables, fiber stacks) into one
/// shard per CPU the building thread may use, and every thread takes slots
/// from its own shard first. A slot, once used, keeps its pages (see
/// `max_unused_warm_slots`), so the slots a gateway keeps resident are the
/// sum of each shard's peak: at 256 calls in flight on 2 CPUs, about 490
/// slots where 256 were live at once. With one shard they are the peak of
/// calls in flight; the shard's lock is taken twice a call, which costs
/// nothing measurable at a gateway's call rates. Peak RSS at 256 callers
/// fell from 71 / 93 MB to 61 / 70 MB (passthrough / get-user-info,
/// docs/performance.md). Where the CPU cannot be chosen (not Linux, or
/// refused) the pools keep wasmtime's sharding; nothing else changes.
fn with_one_pool_shard<T: Send>(build: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let builder = scope.spawn(|| {
            if let Err(e) = allow_one_cpu() {
                tracing::debug!(error = %e, "plugin pools keep one shard per CPU");
            }
            build()
        });
        builder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Restricts the calling thread to the first CPU it may run on.
#[cfg(target_os = "linux")]
fn allow_one_cpu() -> nix::Result<()> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let this_thread = Pid::from_raw(0);
    let allowed = sched_getaffinity(this_thread)?;
    let Some(cpu) = (0..CpuSet::count()).find(|&cpu| allowed.is_set(cpu).unwrap_or(false)) else {
        return Ok(());
    };
    let mut one = CpuSet::new();
    one.set(cpu)?;
    sched_setaffinity(this_thread, &one)
}

#[cfg(not(target_os = "linux"))]
fn allow_one_cpu() -> Result<(), &'static str> {
    Err("CPU affinity is only set on Linux")
}

/// Advances the epoch every [`TICK`] until the engine is dropped.
fn start_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("twoway-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocator_is_pooling_unless_on_demand_is_named() {
        assert_eq!(Allocator::parse("").unwrap(), Allocator::Pooling);
        assert_eq!(Allocator::parse("pooling").unwrap(), Allocator::Pooling);
        assert_eq!(
            Allocator::parse(" on-demand ").unwrap(),
            Allocator::OnDemand
        );
        let e = Allocator::parse("ondemand").unwrap_err().to_string();
        assert_eq!(
            e,
            "TWOWAY_PLUGIN_ALLOCATOR=\"ondemand\": use \"pooling\" (the default) or \"on-demand\""
        );
    }

    /// wasmtime sizes its pool shards by `available_parallelism` on the
    /// building thread.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_engine_is_built_on_a_thread_that_sees_one_cpu() {
        let cpus = || {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap()
        };
        let before = cpus();
        assert_eq!(with_one_pool_shard(cpus), 1);
        assert_eq!(cpus(), before, "the calling thread keeps its CPUs");
    }
}
