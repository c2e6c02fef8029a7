//! What one plugin call's Store holds, and the host side of the WIT imports:
//! `upstream.send` through the tenant's session and transport, `soap` (the
//! `<result>` elements of an answer, read natively, also of an answer it
//! sends for them), `context` (session facts, plugin config, logging), and
//! a deny-all WASI.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::output::GuestOutput;

use super::generated::{
    Api, ContextHost, Fault, FrontDoorHost, Header, Level, OutboundRequest, PackedResults,
    PolicyTypesHost, ResultField, SessionInfo, SoapHost, SoapSaveError, SoapSaveResult, Span,
    TypesHost, UpstreamError, UpstreamHost, UpstreamResponse,
};
use crate::salesforce::{self, results::ResultsError};
use crate::upstream::{self, Outbound, TenantUpstream};

/// Largest outbound body a plugin may send.
pub const MAX_OUTBOUND_BODY: usize = 16 * 1024 * 1024;
/// Most headers a plugin may send or return.
pub const MAX_HEADERS: usize = 64;
/// Largest SOAP answer `soap` reads on the calling thread; a larger one
/// (its parse takes a millisecond or more) is read on the blocking pool,
/// so that it does not hold up the other requests of the thread.
const SOAP_READ_INLINE_MAX: usize = 64 * 1024;

/// Who is calling: fixed for the whole call.
#[derive(Clone)]
pub struct CallContext {
    pub tenant: String,
    pub workflow: String,
    pub version: String,
    pub upstream: Arc<TenantUpstream>,
    pub config: Arc<BTreeMap<String, String>>,
}

/// Memory limit that remembers whether it refused a growth.
pub struct MemoryLimiter {
    pub limit: u64,
    pub exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one call's Store.
pub struct PluginState {
    /// The guest's deny-all WASI, built at its first WASI call: a guest
    /// that makes none (a policy, most workflows) costs no context (two
    /// random generators seeded, the streams boxed) in its call.
    wasi: Option<WasiCtx>,
    /// Where the guest's stdout and stderr go (its [`super::Run`] reads them).
    pipes: (GuestOutput, GuestOutput),
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    /// The call this Store serves; `None` while an instance is made ahead
    /// of its call (`ahead`), when the guest may not call the host.
    pub call: Option<CallContext>,
    /// Epoch ticks the guest has run; over `cpu_budget` the call traps.
    pub cpu_ticks: u64,
    pub cpu_budget: u64,
    pub cpu_exceeded: bool,
    /// What the call may still write to the log.
    pub log: super::output::LogBudget,
    /// A policy call's front-door request, as the host classified it.
    pub front: FrontFacts,
}

/// What the host knows of the front-door request a policy judges, and what
/// the policy declared about it (WIT `front-door`).
#[derive(Debug, Clone, Default)]
pub struct FrontFacts {
    /// The SOAP operation or the REST resource (`front-door.operation`).
    pub operation: Option<String>,
    /// The policy called `skip-response` during `on-request`.
    pub skip_response: bool,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (stdout, stderr) = &self.pipes;
        let ctx = self
            .wasi
            .get_or_insert_with(|| deny_all_wasi(stdout.clone(), stderr.clone()));
        WasiCtxView {
            ctx,
            table: &mut self.table,
        }
    }
}

/// A guest's WASI: no preopened directories, no environment, no arguments,
/// no sockets, no name lookups; stdout and stderr into `stdout`, `stderr`.
fn deny_all_wasi(stdout: GuestOutput, stderr: GuestOutput) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdout(stdout)
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl PluginState {
    /// The tenant's response cap (`[upstream].max_response_kb`) in bytes.
    fn response_cap(&self) -> wasmtime::Result<usize> {
        Ok(self
            .call()?
            .upstream
            .settings()
            .transport
            .max_response_bytes)
    }

    /// A call's state before its first WASI call (see [`deny_all_wasi`]),
    /// the guest's output going to `pipes`.
    pub fn new(
        pipes: (GuestOutput, GuestOutput),
        limiter: MemoryLimiter,
        call: Option<CallContext>,
        cpu_budget: u64,
    ) -> Self {
        Self {
            wasi: None,
            pipes,
            table: ResourceTable::default(),
            limiter,
            call,
            cpu_ticks: 0,
            cpu_budget,
            cpu_exceeded: false,
            log: super::output::LogBudget::default(),
            front: FrontFacts::default(),
        }
    }

    /// The call this Store serves (see [`attached`]).
    fn call(&self) -> wasmtime::Result<&CallContext> {
        attached(&self.call)
    }
}

/// The call a Store serves: a guest that calls the host while it is
/// instantiated ahead of its call traps (its instances are then made per
/// call, with the call attached).
fn attached(call: &Option<CallContext>) -> wasmtime::Result<&CallContext> {
    call.as_ref().ok_or_else(|| {
        wasmtime::format_err!("the plugin called the host while it was instantiated")
    })
}

impl TypesHost for PluginState {}

impl PolicyTypesHost for PluginState {}

impl FrontDoorHost for PluginState {
    async fn operation(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.front.operation.clone())
    }

    async fn skip_response(&mut self) -> wasmtime::Result<()> {
        self.front.skip_response = true;
        Ok(())
    }
}

impl UpstreamHost for PluginState {
    async fn send(
        &mut self,
        request: OutboundRequest,
    ) -> wasmtime::Result<Result<UpstreamResponse, UpstreamError>> {
        let answer = match self.exchange(request).await? {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(UpstreamResponse {
            status: answer.status,
            headers: answer
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    value.to_str().ok().map(|v| Header {
                        name: name.as_str().to_string(),
                        value: v.to_string(),
                    })
                })
                .collect(),
            // The answer's buffer itself when nothing else holds it.
            body: Vec::from(answer.body),
            verdict: answer.verdict.into(),
        }))
    }
}

impl PluginState {
    /// A workflow's request sent through the tenant's session and transport
    /// (WIT `upstream.send`, `soap.send-for-results`): the answer, or the
    /// error the workflow gets.
    async fn exchange(
        &mut self,
        request: OutboundRequest,
    ) -> wasmtime::Result<Result<upstream::Answer, UpstreamError>> {
        let out = match outbound(request) {
            Ok(out) => out,
            Err(reason) => return Ok(Err(UpstreamError::InvalidRequest(reason))),
        };
        let upstream = self.call()?.upstream.clone();
        match upstream.send(out).await {
            Ok(answer) => Ok(Ok(answer)),
            Err(e) => {
                let call = self.call()?;
                tracing::debug!(tenant = %call.tenant, workflow = %call.workflow, code = %e.problem_code(), error = %e, "upstream error");
                Ok(Err(e.into()))
            }
        }
    }
}

impl SoapHost for PluginState {
    async fn results(
        &mut self,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<PackedResults, UpstreamError>> {
        read_soap(self.response_cap()?, body, packed_results).await
    }

    async fn save_results(
        &mut self,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<Vec<SoapSaveResult>, UpstreamError>> {
        read_soap(self.response_cap()?, body, |body| {
            let results = salesforce::results::save_results(body)?;
            Ok(results
                .into_iter()
                .map(|r| SoapSaveResult {
                    id: r.id,
                    success: r.success,
                    created: r.created,
                    errors: r
                        .errors
                        .into_iter()
                        .map(|e| SoapSaveError {
                            status_code: e.status_code,
                            message: e.message,
                            fields: e.fields,
                        })
                        .collect(),
                })
                .collect())
        })
        .await
    }

    /// The answer is read while it is still the host's: its body never
    /// enters the instance, and the guest makes one call instead of two.
    async fn send_for_results(
        &mut self,
        request: OutboundRequest,
    ) -> wasmtime::Result<Result<PackedResults, UpstreamError>> {
        let answer = match self.exchange(request).await? {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(e) = super::errors::unsuccessful(answer.status, answer.verdict.into()) {
            return Ok(Err(e));
        }
        read_soap(self.response_cap()?, answer.body, packed_results).await
    }
}

/// The children of every `<result>` of a SOAP answer, packed (WIT
/// `soap.packed-results`).
fn packed_results(body: &[u8]) -> Result<PackedResults, ResultsError> {
    let (text, fields, ends) = salesforce::results::results(body)?.into_parts(
        |start, end| Span { start, end },
        |name, value| ResultField { name, value },
    );
    Ok(PackedResults { text, fields, ends })
}

/// `read` of a SOAP answer (WIT `soap`): refused over `limit`, the
/// tenant's response cap (no answer the host gave is larger, whatever a
/// workflow hands back), read on the blocking pool when large.
async fn read_soap<T: Send + 'static>(
    limit: usize,
    body: impl AsRef<[u8]> + Send + 'static,
    read: fn(&[u8]) -> Result<T, ResultsError>,
) -> wasmtime::Result<Result<T, UpstreamError>> {
    let body_len = body.as_ref().len();
    if body_len > limit {
        return Ok(Err(UpstreamError::TooLarge(format!(
            "the SOAP answer handed to the host is {} bytes, over the {limit}-byte response \
             cap ([upstream].max_response_kb)",
            body_len
        ))));
    }
    let read = if body_len <= SOAP_READ_INLINE_MAX {
        read(body.as_ref())
    } else {
        tokio::task::spawn_blocking(move || read(body.as_ref()))
            .await
            .map_err(|e| wasmtime::format_err!("reading the SOAP answer failed: {e}"))?
    };
    Ok(read.map_err(soap_error))
}

/// The upstream error for an answer the host could not read for a workflow.
fn soap_error(e: ResultsError) -> UpstreamError {
    match e {
        ResultsError::Refused(_) => UpstreamError::Refused(e.to_string()),
        ResultsError::TooManyNodes => UpstreamError::TooLarge(e.to_string()),
        ResultsError::Unreadable(_) => UpstreamError::UpstreamFault(Fault {
            code: salesforce::results::INVALID_XML.into(),
            message: e.to_string(),
        }),
    }
}

impl ContextHost for PluginState {
    async fn session(&mut self) -> wasmtime::Result<Result<SessionInfo, UpstreamError>> {
        let call = self.call()?;
        let (upstream, tenant) = (call.upstream.clone(), call.tenant.clone());
        match upstream.sessions().session().await {
            Ok(session) => Ok(Ok(SessionInfo {
                tenant,
                org_id: session.instance.org_id.clone(),
                user_id: session.user_id.clone(),
                api_version: upstream.settings().session.api_version.clone(),
            })),
            Err(e) => Ok(Err(upstream::UpstreamError::Session(e).into())),
        }
    }

    async fn config(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.call()?.config.get(&key).cloned())
    }

    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let call = attached(&self.call)?;
        if !self.log.take_line(message.len()) {
            return Ok(());
        }
        let message = truncate(&message, super::output::MAX_LINE);
        let (tenant, workflow, version) = (&call.tenant, &call.workflow, &call.version);
        match level {
            Level::Trace => {
                tracing::trace!(target: "plugin", %tenant, %workflow, %version, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "plugin", %tenant, %workflow, %version, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "plugin", %tenant, %workflow, %version, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "plugin", %tenant, %workflow, %version, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "plugin", %tenant, %workflow, %version, "{message}")
            }
        }
        Ok(())
    }
}

/// Cuts `text` at a character boundary at most `max` bytes in.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The WIT's name for a host API: the one mapping between the two (the
/// host's SOAP tooling and Apex SOAP APIs have no WIT name: a plugin cannot
/// call them and a policy cannot judge them).
pub fn wit_api(api: salesforce::Api) -> Option<Api> {
    Some(match api {
        salesforce::Api::SoapPartner => Api::SoapPartner,
        salesforce::Api::SoapEnterprise => Api::SoapEnterprise,
        salesforce::Api::SoapMetadata => Api::SoapMetadata,
        salesforce::Api::Rest => Api::Rest,
        salesforce::Api::Bulk => Api::Bulk,
        salesforce::Api::ApexRest => Api::ApexRest,
        salesforce::Api::SoapTooling | salesforce::Api::SoapApex => return None,
    })
}

/// The host API a WIT name stands for ([`wit_api`] read backwards).
pub fn host_api(api: Api) -> Option<salesforce::Api> {
    salesforce::Api::ALL
        .into_iter()
        .find(|host| wit_api(*host) == Some(api))
}

/// Checks and converts a plugin's request; the reason says what to fix.
fn outbound(request: OutboundRequest) -> Result<Outbound, String> {
    if request.body.len() > MAX_OUTBOUND_BODY {
        return Err(format!(
            "request body of {} bytes is over the {MAX_OUTBOUND_BODY}-byte limit",
            request.body.len()
        ));
    }
    if request.headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers; at most {MAX_HEADERS}",
            request.headers.len()
        ));
    }
    let method = http::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{:?} is not an HTTP method", request.method))?;
    let mut headers = http::HeaderMap::new();
    for Header { name, value } in request.headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a header name"))?;
        // The host owns framing and the connection.
        if matches!(
            name.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection" | "upgrade" | "te"
        ) {
            continue;
        }
        let value = http::HeaderValue::from_str(&value)
            .map_err(|_| format!("the value of {name} is not a valid header value"))?;
        headers.append(name, value);
    }
    let api = host_api(request.api).ok_or_else(|| format!("{:?} is not an API", request.api))?;
    Ok(Outbound {
        api,
        method,
        path: request.path,
        headers,
        body: Bytes::from(request.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wit_api_is_one_host_api_and_back() {
        for host in salesforce::Api::ALL {
            let wit = wit_api(host).expect("every API a plugin can call has a WIT name");
            assert_eq!(host_api(wit), Some(host));
        }
        for host in [salesforce::Api::SoapTooling, salesforce::Api::SoapApex] {
            assert_eq!(wit_api(host), None, "{host:?} has no WIT name");
        }
    }
}
