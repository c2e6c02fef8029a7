//! The access log: one `request` line for every request on the callers'
//! listener (workflows, the front door and unknown routes alike), written
//! when the answer is ready, or for an answer that streams (a Bulk result)
//! when its last byte has gone or it stopped, with what the request came
//! to. Its upstream calls and their time and its body's bytes are counted
//! where the work happens, into the request's [`Tally`] (a task-local: the
//! workflow runs in the request's task, and a call to the API it makes is
//! reported there when it ends, though its exchange runs as a task of its
//! own; a body streamed upstream is counted by its [`Overrun`]). Nothing
//! secret is logged: no header, no body, no session.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use super::Shared;
use super::problem::ProblemCode;
use crate::transport::{self, BoxError, Overrun, StreamError};

tokio::task_local! {
    static TALLY: Tally;
}

/// What one request came to, counted as it goes.
#[derive(Default)]
pub struct Tally {
    upstream_calls: Cell<u32>,
    upstream_time: Cell<Duration>,
    bytes_in: Cell<u64>,
    /// A body streamed upstream: what it has given so far.
    streamed_in: RefCell<Option<Overrun>>,
    /// Set by the front door once it knows them.
    tenant: RefCell<Option<String>>,
    api: Cell<Option<&'static str>>,
}

impl Tally {
    /// The counts so far, leaving this one empty.
    fn take(&self) -> Tally {
        Tally {
            upstream_calls: Cell::new(self.upstream_calls.take()),
            upstream_time: Cell::new(self.upstream_time.take()),
            bytes_in: Cell::new(self.bytes_in.take()),
            streamed_in: RefCell::new(self.streamed_in.take()),
            tenant: RefCell::new(self.tenant.take()),
            api: Cell::new(self.api.take()),
        }
    }
}

/// Runs `request` with a fresh [`Tally`], and returns both.
pub async fn tallied<F: Future>(request: F) -> (F::Output, Tally) {
    TALLY
        .scope(Tally::default(), async move {
            let output = request.await;
            (output, TALLY.with(Tally::take))
        })
        .await
}

/// The current request made one call to the API (a re-login and retry
/// included) that took `elapsed`.
pub fn upstream_call(elapsed: Duration) {
    let _ = TALLY.try_with(|t| {
        t.upstream_calls.set(t.upstream_calls.get() + 1);
        t.upstream_time.set(t.upstream_time.get() + elapsed);
    });
}

/// The current request's body was `bytes` long.
pub fn body_read(bytes: usize) {
    let _ = TALLY.try_with(|t| t.bytes_in.set(bytes as u64));
}

/// The current request's body streams on as `overrun` counts it.
pub fn body_streams(overrun: &Overrun) {
    let _ = TALLY.try_with(|t| *t.streamed_in.borrow_mut() = Some(overrun.clone()));
}

/// The front door chose `tenant` (when it got that far) for `api`.
pub fn front_door(tenant: Option<&str>, api: &'static str) {
    let _ = TALLY.try_with(|t| {
        *t.tenant.borrow_mut() = tenant.map(str::to_string);
        t.api.set(Some(api));
    });
}

/// Which kind of route a request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/tenants/{tenant}/workflows/{workflow}[/...]`.
    Workflow,
    /// Salesforce's own surface (`/services/...`, `/id/...`).
    FrontDoor,
    /// Anything else (404).
    Unknown,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Workflow => "/tenants/{tenant}/workflows/{workflow}",
            Route::FrontDoor => "front-door",
            Route::Unknown => "unknown",
        }
    }
}

/// One request, as the access log line tells it.
pub struct Entry<'a> {
    pub method: &'a http::Method,
    pub route: Route,
    /// The workflow route's tenant and workflow, as the caller named them.
    pub workflow: Option<(&'a str, &'a str)>,
    pub request_id: &'a str,
    pub peer: SocketAddr,
    pub trace_id: Option<String>,
    pub started: Instant,
}

/// The problem code of an answer the gateway wrote itself (set by
/// `IntoResponse` and the front door's error answers).
pub fn problem_code<B>(response: &http::Response<B>) -> Option<ProblemCode> {
    response.extensions().get::<ProblemCode>().copied()
}

/// Writes the access log line of `entry`, answered with `response`: now
/// when the answer's length is known, else (an answer that streams) when
/// its body ends, is cut or is dropped ([`Logged`]).
pub fn log(
    shared: &Arc<Shared>,
    entry: &Entry<'_>,
    tally: Tally,
    response: http::Response<transport::Body>,
) -> http::Response<transport::Body> {
    let answered = Answered {
        status: response.status().as_u16(),
        problem: problem_code(&response),
    };
    let body = response.body();
    if let Some(length) = body.size_hint().exact() {
        write(entry, &tally, &answered, length, true);
        return response;
    }
    if body.is_end_stream() {
        write(entry, &tally, &answered, 0, true);
        return response;
    }
    let pending = Pending {
        shared: shared.clone(),
        entry: Owned::of(entry),
        tally,
        answered,
    };
    response.map(|inner| {
        Logged {
            inner,
            sent: 0,
            pending: Some(pending),
        }
        .boxed_unsync()
    })
}

/// What the answer's head said.
struct Answered {
    status: u16,
    problem: Option<ProblemCode>,
}

fn write(entry: &Entry<'_>, tally: &Tally, answered: &Answered, bytes_out: u64, complete: bool) {
    let front_tenant = tally.tenant.borrow();
    let (tenant, workflow) = match entry.workflow {
        Some((tenant, workflow)) => (Some(tenant), Some(workflow)),
        None => (front_tenant.as_deref(), None),
    };
    let streamed_in = tally.streamed_in.borrow().as_ref().map_or(0, Overrun::seen);
    let line = Line {
        method: entry.method.as_str(),
        route: entry.route.name(),
        api: tally.api.get(),
        tenant,
        workflow,
        status: answered.status,
        problem: answered.problem.map(|p| p.code()),
        upstream_calls: tally.upstream_calls.get(),
        upstream_ms: tally.upstream_time.get().as_millis() as u64,
        bytes_in: tally.bytes_in.get() + streamed_in,
        bytes_out,
        complete,
        peer: entry.peer,
        trace_id: entry.trace_id.as_deref(),
        request_id: entry.request_id,
        elapsed_ms: entry.started.elapsed().as_millis() as u64,
    };
    match LINE_WRITER.get() {
        None => line.log(),
        // The writer's lines obey the log's filter as the event's would.
        Some(writer) => {
            if tracing::enabled!(target: "twoway::access", tracing::Level::INFO) {
                writer.write(&line);
            }
        }
    }
}

/// One request's access line, its fields in the line's order
/// (docs/deploy.md): logged as a `tracing` event ([`Line::log`]), or
/// written by the log's own [`LineWriter`] when it has one.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub method: &'a str,
    pub route: &'static str,
    pub api: Option<&'static str>,
    pub tenant: Option<&'a str>,
    pub workflow: Option<&'a str>,
    pub status: u16,
    pub problem: Option<&'static str>,
    pub upstream_calls: u32,
    pub upstream_ms: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub complete: bool,
    pub peer: SocketAddr,
    pub trace_id: Option<&'a str>,
    pub request_id: &'a str,
    pub elapsed_ms: u64,
}

impl Line<'_> {
    /// The line as a `tracing` event (target `twoway::access`, message
    /// `request`, the absent fields left out): what a [`LineWriter`]
    /// writes byte for byte in the log's format.
    pub fn log(&self) {
        tracing::info!(
            target: "twoway::access",
            method = %self.method,
            route = self.route,
            api = self.api,
            tenant = self.tenant,
            workflow = self.workflow,
            status = self.status,
            problem = self.problem,
            upstream_calls = self.upstream_calls,
            upstream_ms = self.upstream_ms,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            complete = self.complete,
            peer = %self.peer,
            trace_id = self.trace_id,
            request_id = %self.request_id,
            elapsed_ms = self.elapsed_ms,
            "request"
        );
    }
}

/// Writes the access lines in the log's format, in place of `tracing`'s
/// formatter: through it, a line's 17 fields cost about 11,000
/// instructions a request, each field dispatched, visited and formatted
/// on its own (docs/performance.md, the ninth round). Set once, by the
/// program's logging (`twoway serve`'s), with [`write_lines_with`].
pub trait LineWriter: Send + Sync {
    /// Writes `line`; called only when the log's filter lets the access
    /// log's lines (`twoway::access`, level info) through.
    fn write(&self, line: &Line<'_>);
}

static LINE_WRITER: OnceLock<Box<dyn LineWriter>> = OnceLock::new();

/// Has `writer` write every access line from now on, in place of
/// `tracing`'s formatter; false (and `writer` unused) when a writer was set
/// already.
pub fn write_lines_with(writer: Box<dyn LineWriter>) -> bool {
    LINE_WRITER.set(writer).is_ok()
}

/// An [`Entry`] kept until a streamed answer ends.
struct Owned {
    method: http::Method,
    route: Route,
    workflow: Option<(String, String)>,
    request_id: String,
    peer: SocketAddr,
    trace_id: Option<String>,
    started: Instant,
}

impl Owned {
    fn of(entry: &Entry<'_>) -> Self {
        Self {
            method: entry.method.clone(),
            route: entry.route,
            workflow: entry.workflow.map(|(t, w)| (t.to_string(), w.to_string())),
            request_id: entry.request_id.to_string(),
            peer: entry.peer,
            trace_id: entry.trace_id.clone(),
            started: entry.started,
        }
    }

    fn entry(&self) -> Entry<'_> {
        Entry {
            method: &self.method,
            route: self.route,
            workflow: self
                .workflow
                .as_ref()
                .map(|(t, w)| (t.as_str(), w.as_str())),
            request_id: &self.request_id,
            peer: self.peer,
            trace_id: self.trace_id.clone(),
            started: self.started,
        }
    }
}

/// The line of a streamed answer, until it is written.
struct Pending {
    shared: Arc<Shared>,
    entry: Owned,
    tally: Tally,
    answered: Answered,
}

/// A streamed answer's body, counted as it goes; its access line is
/// written when it ends (`complete`), stops on an error or is dropped
/// before its end (the client went away). An answer cut past
/// `[front_door] max_stream_mb` is `upstream_too_large` in the line, in
/// the log's warning and in the dashboard's recent problems.
struct Logged {
    inner: transport::Body,
    sent: u64,
    pending: Option<Pending>,
}

impl Logged {
    fn finish(&mut self, complete: bool, error: Option<&BoxError>) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        let entry = pending.entry.entry();
        if let Some(error) = error {
            let too_large = matches!(
                error.downcast_ref::<StreamError>(),
                Some(StreamError::TooLarge { .. })
            );
            let tenant = pending.tally.tenant.borrow().clone();
            let api = pending.tally.api.get();
            let why = if too_large {
                let code = ProblemCode::Upstream(crate::problem::UpstreamCode::UpstreamTooLarge);
                pending.answered.problem = Some(code);
                let status = pending.answered.status;
                let problems = &pending.shared.problems;
                problems.record(code, status, tenant.as_deref(), None, api, entry.request_id);
                "the answer was cut past [front_door] max_stream_mb"
            } else {
                "the answer broke off"
            };
            tracing::warn!(
                tenant,
                api,
                request_id = %entry.request_id,
                bytes_out = self.sent,
                error = %error,
                "{why}: the client sees an incomplete transfer"
            );
        }
        write(
            &entry,
            &pending.tally,
            &pending.answered,
            self.sent,
            complete,
        );
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
                // hyper stops polling a body that says it has ended.
                if this.inner.is_end_stream() {
                    this.finish(true, None);
                }
            }
            Poll::Ready(Some(Err(error))) => this.finish(false, Some(error)),
            Poll::Ready(None) => this.finish(true, None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.finish(false, None);
    }
}

/// The request's trace span (exported when `[telemetry]` is on): it
/// continues the caller's W3C `traceparent` (and `tracestate`), and its
/// children are the queue wait, the plugin call, each upstream call and
/// the login they waited for. Its attributes never carry a secret.
pub fn span(
    method: &http::Method,
    route: Route,
    workflow: Option<(&str, &str)>,
    headers: &http::HeaderMap,
) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let (tenant, workflow) = workflow.unzip();
    let span = tracing::info_span!(
        target: crate::config::telemetry::TRACE_TARGET,
        "request",
        otel.name = format!("{method} {}", route.name()),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.name(),
        http.response.status_code = tracing::field::Empty,
        twoway.tenant = tenant,
        twoway.workflow = workflow,
        twoway.problem = tracing::field::Empty,
    );
    // Off (no collector): no caller context to continue.
    if span.is_disabled() {
        return span;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
    span
}

/// The trace id of `span`, when traces are on.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Records the answer on the request's span.
pub fn end_span<B>(span: &tracing::Span, response: &http::Response<B>) {
    span.record("http.response.status_code", response.status().as_u16());
    if let Some(code) = problem_code(response) {
        span.record("twoway.problem", code.code());
    }
}

/// A request's headers, as the trace context propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The trace id of a W3C `traceparent` header (version 00), when valid.
pub fn caller_trace_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| trace.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_ids_are_read_only_when_valid() {
        let mut h = http::HeaderMap::new();
        assert_eq!(caller_trace_id(&h), None);
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            caller_trace_id(&h).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "garbage",
        ] {
            h.insert("traceparent", bad.parse().unwrap());
            assert_eq!(caller_trace_id(&h), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_tally_counts_only_its_own_request() {
        upstream_call(Duration::from_millis(5)); // outside any request: ignored
        let ((), tally) = tallied(async {
            upstream_call(Duration::from_millis(7));
            upstream_call(Duration::from_millis(3));
            body_read(42);
        })
        .await;
        assert_eq!(tally.upstream_calls.get(), 2);
        assert_eq!(tally.upstream_time.get(), Duration::from_millis(10));
        assert_eq!(tally.bytes_in.get(), 42);
    }
}
