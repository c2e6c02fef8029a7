//! The WebAssembly plugin runtime: one engine, components (workflows and
//! front-door policies) compiled and linked once into an `InstancePre`, a
//! fresh Store per call under memory, CPU, wall-time and output limits, and
//! the registry that hot-swaps versions.

mod ahead;
mod cache;
mod engine;
mod errors;
mod generated;
mod helper;
mod inspect;
mod observe;
mod output;
mod registry;
mod state;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::Digest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

pub use ahead::{AheadStatus, DEPTH as AHEAD_DEPTH};
pub use errors::{upstream_problem, wit_case, wit_code};
pub use generated::UpstreamError as UpstreamErrorWit;
pub use generated::{
    Api, FrontRequest, FrontResponse, Header, InboundRequest, RequestDecision, ResponseDecision,
    WorkflowError, WorkflowResponse,
};
pub use helper::{
    CompileLimits, HelperError, REFUSED_EXIT as COMPILE_HELPER_REFUSED_EXIT,
    SUBCOMMAND as COMPILE_HELPER_SUBCOMMAND, compile_in_helper, run as run_compile_helper,
};
pub use inspect::Inspection;
pub use observe::Observer;
pub use registry::{POLICY_SLOT, SlotSpec};
pub use registry::{Registry, Slot, SlotStatus, Slots, read_component};
pub use state::{CallContext, host_api, wit_api};
pub use watch::Watcher;

use crate::config::PluginLimits;
use ahead::Fresh;
use generated::{Policy, PolicyPre, Workflow, WorkflowPre};
use output::{GuestOutput, LogBudget};
use state::{FrontFacts, MemoryLimiter, PluginState};

/// Why a plugin call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("the plugin trapped: {0}")]
    Trap(String),
    #[error("the plugin ran past its time limit of {0:?}")]
    Timeout(std::time::Duration),
    #[error("the plugin needed more than its memory limit of {0} bytes")]
    MemoryExceeded(u64),
    #[error("the plugin's response of {size} bytes is over its limit of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the workflow failed: {0:?}")]
    Workflow(WorkflowError),
}

/// A component that failed to become a plugin version.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a valid component: {reason}")]
    Compile { path: String, reason: String },
    #[error("{path} does not fit the world twoway:gateway/workflow: {reason}")]
    Link { path: String, reason: String },
    #[error(
        "{path} was built against twoway:gateway@{found}; this gateway loads @0.3.0 to @{WIT_VERSION}: \
         rebuild the workflow with the current SDK (plugins/sdk, or its wit/ copied from this \
         repository's wit/) and replace the file"
    )]
    WitVersion { path: String, found: String },
}

/// The version of the WIT package `twoway:gateway` the host implements.
/// Components built against an earlier version of the same `0.3` track
/// load too (the linker matches their imports to ours by semver: 0.3.1
/// only added `front-door` to the policy world, 0.3.2 only `soap` to the
/// workflow world, 0.3.3 only `soap.send-for-results`).
pub const WIT_VERSION: &str = "0.3.3";

/// The `twoway:gateway` versions a component's imports name, in order
/// (`""` for an import without a version).
fn imported_wit_versions(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| name.strip_prefix("twoway:gateway/"))
        .map(|rest| rest.split_once('@').map_or("", |(_, v)| v).to_string())
        .collect()
}

/// The `twoway:gateway` version a component was built against (the one its
/// imports name), when it names one.
fn wit_version(engine: &Engine, component: &Component) -> Option<String> {
    imported_wit_versions(engine, component).into_iter().next()
}

/// True when a component built against `version` links against this host:
/// the same `0.3` track, not newer than [`WIT_VERSION`].
fn loads_wit(version: &str) -> bool {
    let patch = |v: &str| {
        v.strip_prefix("0.3.")
            .and_then(|patch| patch.parse::<u32>().ok())
    };
    matches!((patch(version), patch(WIT_VERSION)), (Some(found), Some(ours)) if found <= ours)
}

/// The `twoway:gateway` version a component imports, when it is not one
/// this host loads.
fn foreign_wit_version(engine: &Engine, component: &Component) -> Option<String> {
    imported_wit_versions(engine, component)
        .into_iter()
        .find(|version| !loads_wit(version))
        .map(|v| {
            if v.is_empty() {
                "(no version)".into()
            } else {
                v
            }
        })
}

/// The WIT world a component is written against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `twoway:gateway/workflow`: a route's handler (`handle`).
    Workflow,
    /// `twoway:gateway/policy`: a tenant's front-door policy
    /// (`on-request`, `on-response`).
    Policy,
}

impl World {
    /// The world's name in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            World::Workflow => "workflow",
            World::Policy => "policy",
        }
    }
}

/// One compiled, linked version of a plugin.
pub struct Version {
    /// Content hash (SHA-256, first 16 hex digits): `x-twoway-plugin-version`.
    pub id: String,
    pub loaded_at: std::time::SystemTime,
    pre: Linked,
    /// Its instances made ahead of its calls, when instantiating is expensive.
    ahead: Arc<ahead::Ahead>,
}

impl Version {
    /// How this version's calls got their instances.
    pub fn ahead(&self) -> AheadStatus {
        self.ahead.status()
    }
}

/// A version linked against its world, ready to instantiate.
#[derive(Clone)]
enum Linked {
    Workflow(WorkflowPre<PluginState>),
    Policy(PolicyPre<PluginState>),
}

/// The engine and the linker with the host's imports.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// The compiled-code cache, when its folder can be trusted.
    code_cache: Option<engine::CodeCache>,
    /// The program that compiles into the cache (see [`compile_in_helper`]).
    helper: Option<PathBuf>,
    /// What one compile in the helper may take.
    compile_limits: CompileLimits,
    /// Log lines dropped over the per-call cap, by (tenant, workflow);
    /// kept across reloads (a counter never goes back).
    log_lines_dropped: Mutex<HashMap<(String, String), u64>>,
    /// Told of loads and dropped log lines (the gateway's metrics).
    observer: Option<Arc<dyn Observer>>,
    /// Versions that are expensive to instantiate get instances made ahead
    /// of their calls (`ahead`); off, every call instantiates its own.
    prepare_ahead: bool,
}

impl Runtime {
    /// An engine whose compiled code is cached in `cache_dir`.
    pub fn new(cache_dir: &Path) -> wasmtime::Result<Self> {
        let (engine, code_cache) = engine::build(cache_dir)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Workflow::add_to_linker::<_, wasmtime::component::HasSelf<PluginState>>(
            &mut linker,
            |s| s,
        )?;
        // A policy imports `context` and `types` (above), the types-only
        // `policy-types` and `front-door`.
        generated::add_policy_imports_to_linker(&mut linker)?;
        Ok(Self {
            engine,
            linker,
            code_cache,
            helper: helper::program(),
            compile_limits: CompileLimits::default(),
            log_lines_dropped: Mutex::default(),
            observer: None,
            prepare_ahead: true,
        })
    }

    /// This runtime (and the registry on it) telling `observer` of loads
    /// and dropped log lines.
    pub fn observed(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Whoever counts what this runtime does, if anyone.
    pub(crate) fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref()
    }

    /// This runtime compiles in helper processes running `program`, or in
    /// process with `None` (whatever [`compile_in_helper`] said).
    pub fn with_compile_helper(mut self, program: Option<PathBuf>) -> Self {
        self.helper = program;
        self
    }

    /// With `false`, versions loaded from now on instantiate per call even
    /// when that is expensive (benchmarks compare both; on by default).
    pub fn with_prepare_ahead(mut self, on: bool) -> Self {
        self.prepare_ahead = on;
        self
    }

    /// This runtime's helper compiles under `limits` (tests use small ones).
    pub fn with_compile_limits(mut self, limits: CompileLimits) -> Self {
        self.compile_limits = limits;
        self
    }

    /// `(hits, misses)` of the compiled-code cache: a miss is a compile in
    /// this process. `None` when the cache is off.
    pub fn cache_counts(&self) -> Option<(usize, usize)> {
        let cache = &self.code_cache.as_ref()?.cache;
        Some((cache.cache_hits(), cache.cache_misses()))
    }

    /// Compiles and links `bytes` (read from `path`, named in errors) as
    /// the version `id` (see [`version_id`]) of a component of `world`.
    pub fn load(
        &self,
        path: &Path,
        bytes: &[u8],
        id: String,
        world: World,
    ) -> Result<Version, LoadError> {
        let component = self.compile(path, bytes)?;
        let pre = self.link(path, &component, world)?;
        Ok(Version {
            id,
            loaded_at: std::time::SystemTime::now(),
            pre,
            ahead: Arc::new(ahead::Ahead::new(self.prepare_ahead, bytes.len())),
        })
    }

    /// Compiles a component (or finds it in the code cache), in a helper
    /// process when there is one and the cache is on.
    fn compile(&self, path: &Path, bytes: &[u8]) -> Result<Component, LoadError> {
        if let (Some(program), Some(cache)) = (&self.helper, &self.code_cache) {
            match helper::compile(program, &cache.dir, self.compile_limits, bytes) {
                // Found in the cache below, unless the helper could not
                // write there (then compiled below).
                Ok(()) => {}
                Err(e @ (HelperError::Start { .. } | HelperError::Failed(_))) => {
                    tracing::warn!(path = %path.display(), error = %e, "compiling the plugin in the gateway instead");
                }
                // Never retried in process: a component that crashed the
                // compiler would crash the gateway.
                Err(e) => {
                    return Err(LoadError::Compile {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Component::new(&self.engine, bytes).map_err(|e| LoadError::Compile {
            path: path.display().to_string(),
            reason: format!("{e:#}"),
        })
    }

    /// Links a component against the host's imports and the exports of
    /// `world`, once per version.
    fn link(&self, path: &Path, component: &Component, world: World) -> Result<Linked, LoadError> {
        let shown = path.display().to_string();
        if let Some(found) = foreign_wit_version(&self.engine, component) {
            return Err(LoadError::WitVersion { path: shown, found });
        }
        let pre = self.linker.instantiate_pre(component);
        let linked = match world {
            World::Workflow => pre.and_then(WorkflowPre::new).map(Linked::Workflow),
            World::Policy => pre.and_then(PolicyPre::new).map(Linked::Policy),
        };
        linked.map_err(|e| LoadError::Link {
            path: shown,
            reason: format!(
                "{e:#} (it must be a component of the world twoway:gateway/{})",
                world.name()
            ),
        })
    }

    /// Runs `work` (an instantiation, a call into the guest) in `run`'s
    /// Store under `limits`, each time with the whole CPU, time and log
    /// budget; then logs what the guest wrote and turns a timeout, the CPU
    /// or memory limit or a trap into the [`PluginError`].
    async fn run<T>(
        &self,
        call: &CallContext,
        limits: PluginLimits,
        run: &mut Run,
        work: impl AsyncFnOnce(&mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let state = run.store.data_mut();
        state.cpu_ticks = 0;
        state.log = LogBudget::default();
        run.store.set_epoch_deadline(1);
        let outcome = tokio::time::timeout(limits.timeout, work(&mut run.store)).await;
        let (stdout, stderr) = &run.output;
        let budget = &mut run.store.data_mut().log;
        log_guest_output(call, "stdout", stdout, budget);
        log_guest_output(call, "stderr", stderr, budget);
        if budget.dropped() {
            self.count_dropped_logs(call, budget);
        }
        let state = run.store.data();
        match outcome {
            Err(_) => Err(PluginError::Timeout(limits.timeout)),
            Ok(Err(_)) if state.cpu_exceeded => Err(PluginError::Timeout(limits.timeout)),
            Ok(Err(_)) if state.limiter.exceeded => {
                Err(PluginError::MemoryExceeded(limits.memory_bytes))
            }
            Ok(Err(trap)) => Err(PluginError::Trap(trap_message(&trap))),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// Gives `call` a fresh instance of `version` and runs `work` on it:
    /// an instance made ahead when one is ready (its instantiation is then
    /// not the call's), else one instantiated now, under the same limits
    /// as `work`. Either way the instance is this call's alone.
    async fn start<T>(
        &self,
        version: &Version,
        call: &CallContext,
        limits: PluginLimits,
        front: FrontFacts,
        work: impl AsyncFnOnce(&mut Store<PluginState>, &Fresh) -> wasmtime::Result<T>,
    ) -> Result<(Fresh, Run, T), PluginError> {
        if let Some(ahead::Prepared {
            mut run, instance, ..
        }) = version.ahead.take(limits)
        {
            let state = run.store.data_mut();
            state.call = Some(call.clone());
            state.cpu_budget = cpu_budget(limits);
            state.front = front;
            let outcome = self
                .run(call, limits, &mut run, async |store| {
                    work(store, &instance).await
                })
                .await;
            version.ahead.refill(&self.engine, &version.pre, limits);
            return outcome.map(|value| (instance, run, value));
        }
        let mut run = store(&self.engine, Some(call.clone()), limits);
        run.store.data_mut().front = front;
        let outcome = self
            .run(call, limits, &mut run, async |store| {
                let instance = match &version.pre {
                    Linked::Workflow(pre) => {
                        Fresh::Workflow(pre.instantiate_fresh(&mut *store).await?)
                    }
                    Linked::Policy(pre) => Fresh::Policy(pre.instantiate_fresh(&mut *store).await?),
                };
                let value = work(store, &instance).await?;
                Ok((instance, value))
            })
            .await;
        version.ahead.refill(&self.engine, &version.pre, limits);
        outcome.map(|(instance, value)| (instance, run, value))
    }

    /// Runs the policy `version` on a front-door request in a fresh
    /// instance; `operation` is what the host made of the request (WIT
    /// `front-door.operation`). The instance comes back with the decision
    /// unless the policy declared it does not judge the answer
    /// (`skip-response`): then the answer is not the policy's to see.
    pub async fn on_request(
        &self,
        version: &Version,
        call: CallContext,
        limits: PluginLimits,
        request: &FrontRequest,
        operation: Option<String>,
    ) -> Result<(RequestDecision, Option<PolicyCall>), PluginError> {
        let front = FrontFacts {
            operation,
            skip_response: false,
        };
        let (instance, run, decision) = self
            .start(version, &call, limits, front, async |store, instance| {
                let Fresh::Policy(instance) = instance else {
                    return Err(wasmtime::format_err!("{}", not_a(World::Policy)));
                };
                instance.call_on_request(store, request).await
            })
            .await?;
        let Fresh::Policy(instance) = instance else {
            return Err(not_a(World::Policy));
        };
        if let RequestDecision::Change(changed) = &decision {
            capped(
                changed.body.len(),
                &changed.headers,
                limits.max_output_bytes,
            )?;
        }
        let answer = (!run.store.data().front.skip_response).then_some(PolicyCall {
            instance,
            run,
            call,
            limits,
        });
        Ok((decision, answer))
    }

    /// Runs the policy on the answer to `request` (the request as sent), in
    /// the instance that decided about the request.
    pub async fn on_response(
        &self,
        policy: PolicyCall,
        request: &FrontRequest,
        response: &FrontResponse,
    ) -> Result<ResponseDecision, PluginError> {
        let PolicyCall {
            instance,
            mut run,
            call,
            limits,
        } = policy;
        let decision = self
            .run(&call, limits, &mut run, async |store| {
                instance.call_on_response(store, request, response).await
            })
            .await?;
        if let ResponseDecision::Change(changed) = &decision {
            capped(
                changed.body.len(),
                &changed.headers,
                limits.max_output_bytes,
            )?;
        }
        Ok(decision)
    }

    /// Runs `request` through the workflow `version` in a fresh instance.
    pub async fn call(
        &self,
        version: &Version,
        call: CallContext,
        limits: PluginLimits,
        request: InboundRequest,
    ) -> Result<WorkflowResponse, PluginError> {
        let started = Instant::now();
        let result = self
            .start(
                version,
                &call,
                limits,
                FrontFacts::default(),
                async |store, instance| {
                    let Fresh::Workflow(instance) = instance else {
                        return Err(wasmtime::format_err!("{}", not_a(World::Workflow)));
                    };
                    instance.call_handle(store, &request).await
                },
            )
            .await
            .map(|(_, run, answer)| {
                if version.ahead.expensive() {
                    ahead::retire(run);
                }
                answer
            })
            .and_then(|answer| answer.map_err(PluginError::Workflow))
            .and_then(|response| {
                capped(
                    response.body.len(),
                    &response.headers,
                    limits.max_output_bytes,
                )?;
                Ok(response)
            });
        tracing::debug!(tenant = %call.tenant, workflow = %call.workflow, version = %call.version, elapsed = ?started.elapsed(), ok = result.is_ok(), "plugin call");
        result
    }
}

/// A fresh Store for one call (`call` is attached when the call starts,
/// after instantiation for an instance made ahead): deny-all WASI (no
/// preopened directories, no environment, no arguments, no sockets, no name
/// lookups; built at the guest's first WASI call), the memory limit, and CPU
/// time counted in epoch ticks.
fn store(engine: &Engine, call: Option<CallContext>, limits: PluginLimits) -> Run {
    let stdout = GuestOutput::default();
    let stderr = GuestOutput::default();
    let limiter = MemoryLimiter {
        limit: limits.memory_bytes,
        exceeded: false,
    };
    let state = PluginState::new(
        (stdout.clone(), stderr.clone()),
        limiter,
        call,
        cpu_budget(limits),
    );
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_callback(|mut ctx| {
        let s = ctx.data_mut();
        s.cpu_ticks += 1;
        if s.cpu_ticks > s.cpu_budget {
            s.cpu_exceeded = true;
            return Err(wasmtime::format_err!("the plugin used up its CPU time"));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    Run {
        store,
        output: (stdout, stderr),
    }
}

/// Epoch ticks a call may run: its timeout's worth.
fn cpu_budget(limits: PluginLimits) -> u64 {
    (limits.timeout.as_millis() / engine::TICK.as_millis()).max(1) as u64
}

/// One call's Store and the pipes its guest writes to.
struct Run {
    store: Store<PluginState>,
    output: (GuestOutput, GuestOutput),
}

/// A policy's instance between the two hooks of one front-door call: made
/// for this call, used by its request and its answer, dropped after.
pub struct PolicyCall {
    instance: Policy,
    run: Run,
    call: CallContext,
    limits: PluginLimits,
}

/// A guest's answer within its output cap and header count.
fn capped(body: usize, headers: &[Header], limit: usize) -> Result<(), PluginError> {
    let size = body
        + headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>();
    if size > limit {
        return Err(PluginError::OutputTooLarge { size, limit });
    }
    if headers.len() > state::MAX_HEADERS {
        return Err(PluginError::Trap(format!(
            "returned {} headers; at most {}",
            headers.len(),
            state::MAX_HEADERS
        )));
    }
    Ok(())
}

/// A version of the other world was asked to do this one's job (the
/// registry loads each slot's file for its own world, so this is a bug).
fn not_a(world: World) -> PluginError {
    PluginError::Trap(format!(
        "the component is not of the world twoway:gateway/{}",
        world.name()
    ))
}

impl Runtime {
    /// Records that a call went over its log budget, once per call.
    fn count_dropped_logs(&self, call: &CallContext, budget: &LogBudget) {
        tracing::warn!(target: "plugin", tenant = %call.tenant, workflow = %call.workflow, version = %call.version,
            dropped_lines = budget.dropped_lines, dropped_bytes = budget.dropped_bytes,
            "plugin log output over its per-call cap ({} lines, {} bytes); the rest was dropped",
            output::MAX_LINES_PER_CALL, output::MAX_BYTES_PER_CALL);
        let mut counts = self
            .log_lines_dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((call.tenant.clone(), call.workflow.clone()))
            .or_default() += budget.dropped_lines;
        if let Some(observer) = self.observer() {
            observer.log_lines_dropped(&call.tenant, &call.workflow, budget.dropped_lines);
        }
    }

    /// Log lines of (tenant, workflow) dropped over the per-call cap so far.
    pub fn log_lines_dropped(&self, tenant: &str, workflow: &str) -> u64 {
        self.log_lines_dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant.to_string(), workflow.to_string()))
            .copied()
            .unwrap_or(0)
    }
}

/// A component's version id: the first 16 hex digits of its SHA-256.
pub fn version_id(bytes: &[u8]) -> String {
    hex::encode(&sha2::Sha256::digest(bytes)[..8])
}

/// The trap's own message, without wasmtime's backtrace lines.
fn trap_message(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    state::truncate(text.lines().next().unwrap_or("trap"), 500).to_string()
}

/// Logs what the guest wrote to `stream`, line by line, within `budget`.
fn log_guest_output(call: &CallContext, stream: &str, pipe: &GuestOutput, budget: &mut LogBudget) {
    let (bytes, dropped) = pipe.take();
    budget.dropped_bytes += dropped;
    if bytes.is_empty() {
        return;
    }
    for line in String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        if budget.take_line(line.len()) {
            tracing::info!(target: "plugin", tenant = %call.tenant, workflow = %call.workflow, version = %call.version, stream, "{}", state::truncate(line, output::MAX_LINE));
        }
    }
}

/// Shared handle to the runtime.
pub type SharedRuntime = Arc<Runtime>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_components_of_the_same_wit_track_up_to_its_own() {
        for version in ["0.3.0", "0.3.1", "0.3.2", "0.3.3", WIT_VERSION] {
            assert!(loads_wit(version), "{version}");
        }
        for other in ["0.3.4", "0.2.0", "0.4.0", "1.0.0", "", "0.3", "0.3.x"] {
            assert!(!loads_wit(other), "{other}");
        }
    }
}
