//! One tenant's way to the API, in the order of docs/architecture.md (the
//! path of one request): a session,
//! the URL for the API and path, the session injected, the pooled mutual-TLS
//! transport, the answer classified, and one retry after a re-login when the
//! API rejected the session.
//!
//! A request body is checked and parsed once (before any session is asked
//! for) and an answer once; bodies over [`INLINE_BODY_LIMIT`] are read on
//! the blocking pool so that no runtime worker is held for more than a few
//! milliseconds by one request.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

use crate::identity::{self, ClientIdentity};
use crate::problem::UpstreamCode;
use crate::salesforce::{self, Api, Outcome, Prepared, Verdict};
use crate::session::{Manager, Session, SessionError, Status, UsageReport};
use crate::transport::{self, Exchange, Transport, TransportError};

mod budget;
mod forward;
mod observe;
mod setup;

pub use budget::{ApiUsage, Limits as ApiBudget, Refusal, UsageView};
pub use forward::{Forward, SessionFacts};
pub use observe::Observer;
pub use setup::Settings;

/// Bodies up to this size are parsed and classified on the runtime worker;
/// larger ones on the blocking pool. The bounded parse's worst case is
/// about 100 ns a byte (`xml` micro benchmarks), so about 3 ms here.
pub const INLINE_BODY_LIMIT: usize = 32 * 1024;

/// A request to the API, as a workflow (or `twoway call`) writes it.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub api: Api,
    pub method: http::Method,
    /// Relative to the API's base.
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// The API's answer, with secrets removed from its headers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// What the answer was, by the API's formats (a success, a fault, ...).
    pub verdict: Verdict,
}

/// How long callers are asked to wait after REQUEST_LIMIT_EXCEEDED.
/// Salesforce says nothing (the limit is a rolling 24-hour window), so
/// callers are asked to come back in a minute rather than hammer the org.
pub const API_LIMIT_RETRY: std::time::Duration = std::time::Duration::from_secs(60);

/// Why no answer can be given: the complete verdict on a call that has no
/// answer for the caller, each case one [`UpstreamCode`].
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the API refused the client certificate: {reason}")]
    ClientCertificateRejected { reason: String },
    #[error("MUTUAL_AUTHENTICATION_FAILED: {message}. {hint}")]
    MutualAuthenticationFailed { message: String, hint: &'static str },
    #[error("the API rejected a fresh session too: {0}")]
    SessionRejected(String),
    /// The answer broke the caps on the work an XML document may cause.
    #[error("the API's answer was refused unread: {reason}")]
    AnswerRefused { reason: String },
    /// The API answered REQUEST_LIMIT_EXCEEDED: the org's API requests of
    /// the last 24 hours are spent.
    #[error("REQUEST_LIMIT_EXCEEDED: {message}")]
    ApiLimitExceeded { message: String },
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The tenant's API budget (`api_budget_per_day` / `api_reserve`) is spent.
    #[error(
        "the tenant's API budget is spent: the org has used about {} of its {} API requests of the last 24 hours, and api_budget_per_day / api_reserve stop calls at {}; retry in {} s (an estimate: Salesforce counts over a rolling 24-hour window)",
        .0.used, .0.limit, .0.threshold, .0.retry_after.as_secs()
    )]
    ApiBudget(Refusal),
}

impl UpstreamError {
    /// How long a caller should wait before retrying, when that helps.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Session(e) => e.retry_after(),
            Self::ApiBudget(refusal) => Some(refusal.retry_after),
            Self::ApiLimitExceeded { .. } => Some(API_LIMIT_RETRY),
            _ => None,
        }
    }

    /// The problem callers see (docs/architecture.md, the error contract):
    /// the one place an upstream error gets its code.
    pub fn problem_code(&self) -> UpstreamCode {
        match self {
            Self::InvalidRequest(_) => UpstreamCode::InvalidRequest,
            Self::Session(e) => e.problem_code(),
            Self::ClientCertificateRejected { .. } => UpstreamCode::ClientCertificateRejected,
            Self::MutualAuthenticationFailed { .. } => UpstreamCode::MutualAuthenticationFailed,
            Self::SessionRejected(_) => UpstreamCode::SessionUnavailable,
            Self::AnswerRefused { .. } => UpstreamCode::UpstreamRefused,
            Self::ApiLimitExceeded { .. } | Self::ApiBudget(_) => UpstreamCode::ApiLimitExceeded,
            Self::Transport(TransportError::TooLarge { .. }) => UpstreamCode::UpstreamTooLarge,
            Self::Transport(TransportError::Timeout { .. }) => UpstreamCode::UpstreamTimeout,
            Self::Transport(_) => UpstreamCode::UpstreamUnavailable,
        }
    }
}

/// Why a tenant's upstream could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("tenant {tenant}: client identity: {source}")]
    Identity {
        tenant: String,
        source: identity::IdentityError,
    },
    #[error("tenant {tenant}: {source}")]
    Transport {
        tenant: String,
        source: TransportError,
    },
}

/// Everything one tenant needs to call the API (built by `setup`).
pub struct TenantUpstream {
    settings: Settings,
    identity: Option<Arc<ClientIdentity>>,
    /// Digest of the extra roots' contents the pool was built with.
    roots: [u8; 32],
    /// The pool (handshakes, its identity for metrics).
    transport: Transport,
    /// What requests go through: the pool, or a scripted exchange in tests.
    exchange: Arc<dyn Exchange>,
    sessions: Manager,
    /// Shared with the successors a reload makes.
    usage: Arc<ApiUsage>,
    observer: Option<Arc<dyn Observer>>,
}

impl TenantUpstream {
    /// The loaded client identity, if the tenant has one.
    pub fn identity(&self) -> Option<&ClientIdentity> {
        self.identity.as_deref()
    }

    /// The session manager (for `twoway login` and `/admin/sessions`).
    pub fn sessions(&self) -> &Manager {
        &self.sessions
    }

    /// The session state, for operators.
    pub fn status(&self) -> Status {
        Status {
            certificate_sha256: self
                .identity
                .as_ref()
                .map(|id| id.leaf.sha256_fingerprint.clone()),
            ..self.sessions.status()
        }
    }

    /// TLS handshakes made by this tenant's pool.
    pub fn handshakes(&self) -> u64 {
        self.transport.handshakes()
    }

    /// API requests used and the daily limit, as last reported, and where
    /// the tenant's budget stops calls.
    pub fn usage(&self) -> UsageView {
        self.adopt_fleet_usage();
        self.usage.view(&self.settings.api_budget)
    }

    /// Counts the fleet's latest report of the org's usage (a shared store
    /// keeps it in memory, updated by its events).
    fn adopt_fleet_usage(&self) {
        if let Some(report) = self.sessions.fleet_usage() {
            self.usage.adopt(report, Instant::now());
        }
    }

    /// Sends `out` with the tenant's session; on INVALID_SESSION_ID logs in
    /// again (once for all concurrent failures) and retries once. Refused
    /// before anything is sent when the tenant's API budget is spent.
    ///
    /// The exchange runs as a task of its own ([`apart`]), in the call's
    /// trace span: `send` is a workflow's `upstream.send`, which wasmtime
    /// polls on the plugin's fiber, and the exchange's poll (the pool,
    /// HTTP/2, TLS, the answer read) is deep enough that every fiber stack
    /// in use kept 36 KB resident where the guest and wasmtime take 28
    /// (docs/performance.md, peak RSS). How the call ended is reported from
    /// the caller's task, where the request's tally (a task-local of the
    /// gateway's access log) counts it.
    pub async fn send(self: &Arc<Self>, out: Outbound) -> Result<Answer, UpstreamError> {
        let (span, started, api) = (self.call_span(out.api), Instant::now(), out.api);
        let upstream = Arc::clone(self);
        // Boxed here: the exchange's state machine (the attempts, the
        // transport, the answer's read) is large, and unboxed it was copied
        // whole into this call's future, the host function's, the task's
        // cell and back (docs/performance.md, the workflow path).
        let exchange =
            Box::pin(async move { upstream.exchange(&out).await }.instrument(span.clone()));
        let result = apart(exchange).await;
        self.report(api, &span, started, result.as_ref().map(|a| &a.verdict));
        result
    }

    /// [`Self::send`]'s exchange: the request prepared, its attempts, the
    /// answer.
    async fn exchange(&self, out: &Outbound) -> Result<Answer, UpstreamError> {
        let prepared = prepare(out).await?;
        let mutual_port = self
            .settings
            .mutual_auth
            .then_some(self.settings.mutual_auth_port);
        let request = |session: &Session| {
            let uri = salesforce::resolve(out.api, &out.path, &session.instance, mutual_port)
                .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
            let (headers, body) = with_session(&out.headers, &prepared, session)?;
            Ok(Some(Sending::Whole(build(
                &out.method,
                uri,
                headers,
                body,
            )?)))
        };
        let passed = self.attempts(out.api, request).await?;
        let Carried::Whole(body) = passed.body else {
            unreachable!("a whole request is answered whole")
        };
        Ok(Answer {
            status: passed.status,
            headers: passed.headers,
            body,
            verdict: passed.verdict,
        })
    }

    /// The trace span of one call to the API (a child of the request's; a
    /// login it waits for is a child of it); [`Self::report`] records how it ended.
    fn call_span(&self, api: Api) -> tracing::Span {
        tracing::info_span!(
            target: crate::config::telemetry::TRACE_TARGET,
            "upstream",
            otel.name = format!("upstream {}", api.name()),
            otel.kind = "client",
            twoway.tenant = %self.settings.tenant,
            twoway.api = api.name(),
            twoway.outcome = tracing::field::Empty,
        )
    }

    /// Tells the observer (and `span`) how a call that began at `started` ended.
    fn report(
        &self,
        api: Api,
        span: &tracing::Span,
        started: Instant,
        ended: Result<&Verdict, &UpstreamError>,
    ) {
        let ended = ended.map_err(|e| e.problem_code());
        span.record(
            "twoway.outcome",
            match ended {
                Ok(verdict) => verdict.label(),
                Err(code) => code.code(),
            },
        );
        if let Some(observer) = &self.observer {
            observer.upstream_call(&self.settings.tenant, api, ended, started.elapsed());
        }
    }

    /// The calls that carry one request, whichever path wrote it: the API
    /// budget checked before anything is sent, the tenant's session, the
    /// request made for it by `request`, one re-login and one retry when
    /// the API rejected the session (it did not run the call), the usage
    /// each answer reports, and what the answer means. When `request`
    /// cannot make the request again (a streamed body went once), the
    /// API's INVALID_SESSION_ID answer is passed back as it came, and the
    /// client's own re-login and retry run.
    async fn attempts(
        &self,
        api: Api,
        mut request: impl FnMut(&Session) -> Result<Option<Sending>, UpstreamError>,
    ) -> Result<Passed, UpstreamError> {
        self.adopt_fleet_usage();
        self.usage
            .admit(&self.settings.api_budget, Instant::now())
            .map_err(UpstreamError::ApiBudget)?;
        let first = self.sessions.session().await?;
        let Some(sending) = request(&first)? else {
            return Err(UpstreamError::InvalidRequest("nothing to send".into()));
        };
        let rejected = match self.attempt(api, sending).await? {
            Attempt::Done(passed) => return Ok(passed),
            Attempt::SessionRejected(rejected) => rejected,
        };
        self.sessions.invalidate(&first);
        let second = self.sessions.session().await?;
        let Some(sending) = request(&second)? else {
            return Ok(rejected);
        };
        match self.attempt(api, sending).await? {
            Attempt::Done(passed) => Ok(passed),
            Attempt::SessionRejected(again) => {
                self.sessions.invalidate(&second);
                drop(rejected);
                Err(UpstreamError::SessionRejected(match again.verdict {
                    Verdict::Fault(fault) => fault.message,
                    _ => "INVALID_SESSION_ID".into(),
                }))
            }
        }
    }

    /// One request sent and its answer judged.
    async fn attempt(&self, api: Api, sending: Sending) -> Result<Attempt, UpstreamError> {
        let (usage, outcome, status, headers, body) = match sending {
            Sending::Whole(request) => {
                let reply = self.exchange.exchange(request).await?;
                let (usage, outcome, reply) = read(api, reply).await?;
                let body = Carried::Whole(reply.body);
                (usage, outcome, reply.status, reply.headers, body)
            }
            Sending::Open { request, stream } => {
                let opened = self.exchange.open(request).await?;
                let (parts, body) = opened.into_parts();
                let status = parts.status.as_u16();
                if status < 400 && !is_html(&parts.headers) && stream {
                    // A success goes back unread and as it comes.
                    let usage = salesforce::api_usage(&parts.headers, b"");
                    let success = Outcome::Answer(Verdict::Success);
                    (usage, success, status, parts.headers, Carried::Stream(body))
                } else {
                    let limit = self.settings.transport.max_response_bytes;
                    let mut headers = parts.headers;
                    // An answer that is read is decoded first (the cap
                    // counts decoded bytes) and goes back decoded; a
                    // success goes back as the API encoded it.
                    let body =
                        if (status >= 400 || is_html(&headers)) && transport::is_gzip(&headers) {
                            headers.remove(http::header::CONTENT_ENCODING);
                            transport::Gunzip::new(body).boxed_unsync()
                        } else {
                            body
                        };
                    let body = transport::read_whole(body, limit).await?;
                    let reply = transport::Reply {
                        status,
                        headers,
                        body,
                    };
                    // A success goes back unread (but for its usage); only
                    // an error answer, or an HTML page where the API speaks
                    // XML or JSON, is read.
                    let (usage, outcome, reply) = if status < 400 && !is_html(&reply.headers) {
                        let usage = salesforce::api_usage(&reply.headers, &reply.body);
                        (usage, Outcome::Answer(Verdict::Success), reply)
                    } else {
                        read(api, reply).await?
                    };
                    let body = Carried::Whole(reply.body);
                    (usage, outcome, status, reply.headers, body)
                }
            }
        };
        if let Some((used, limit)) = usage {
            let report = UsageReport {
                used,
                limit,
                at: SystemTime::now(),
            };
            self.usage.observe(report, Instant::now());
            self.sessions.share_usage(report);
        }
        let mut headers = headers;
        salesforce::strip_secrets(&mut headers);
        let passed = |verdict| Passed {
            status,
            headers,
            body,
            verdict,
        };
        match outcome {
            Outcome::Answer(verdict) => Ok(Attempt::Done(passed(verdict))),
            Outcome::InvalidSession { message } => Ok(Attempt::SessionRejected(passed(
                Verdict::Fault(salesforce::Fault {
                    faultcode: "INVALID_SESSION_ID".into(),
                    exception_code: Some("INVALID_SESSION_ID".into()),
                    message,
                }),
            ))),
            Outcome::CertificateRejected { reason } => {
                Err(UpstreamError::ClientCertificateRejected { reason })
            }
            Outcome::MutualAuthFailed { message } => {
                Err(UpstreamError::MutualAuthenticationFailed {
                    message,
                    hint: if self.settings.mutual_auth {
                        "mutual_auth is on: check that mutual_auth_port is the instance's mutual-auth port (8443)"
                    } else {
                        "this user must call the API with mutual TLS: set mutual_auth = true and a client_identity for the tenant"
                    },
                })
            }
            Outcome::RequestLimitExceeded { message } => {
                Err(UpstreamError::ApiLimitExceeded { message })
            }
            Outcome::Refused { reason } => Err(UpstreamError::AnswerRefused { reason }),
        }
    }
}

/// What one attempt sends.
enum Sending {
    /// Sent and read whole (workflows): every answer is classified.
    Whole(http::Request<Bytes>),
    /// Sent as its body comes (the front door). A success goes back
    /// unread: as it comes when `stream`, else read whole.
    Open {
        request: http::Request<transport::Body>,
        stream: bool,
    },
}

/// An answer's body: read whole, or still coming.
pub enum Carried {
    Whole(Bytes),
    Stream(transport::Body),
}

/// The API's answer as the attempts pass it back (secrets removed from
/// its headers).
pub struct Passed {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Carried,
    pub verdict: Verdict,
}

/// True when the answer says it is an HTML page.
fn is_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// The headers and body with `session` put in by `prepared`.
fn with_session(
    headers: &http::HeaderMap,
    prepared: &Prepared,
    session: &Session,
) -> Result<(http::HeaderMap, Bytes), UpstreamError> {
    let mut headers = headers.clone();
    let body = prepared
        .apply(&session.id, &mut headers)
        .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
    Ok((headers, body))
}

/// The request for `uri`.
fn build<B>(
    method: &http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: B,
) -> Result<http::Request<B>, UpstreamError> {
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(body)
        .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Runs `work` as a task of its own, polled on the runtime thread's stack
/// instead of its caller's; the task is aborted when the call is dropped
/// (a caller that hangs up cancels its exchange), and a panic in it is the
/// call's.
async fn apart<T: Send + 'static>(
    work: impl Future<Output = Result<T, UpstreamError>> + Send + 'static,
) -> Result<T, UpstreamError> {
    match AbortOnDropHandle::new(tokio::spawn(work)).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: its runtime shuts down, which ends the call too.
        Err(_) => Err(UpstreamError::Transport(TransportError::Http(
            "the exchange was cancelled: the gateway is shutting down".into(),
        ))),
    }
}

/// Runs `work` on this worker for a body of up to [`INLINE_BODY_LIMIT`]
/// bytes, else on the blocking pool; `None` if it panicked there.
async fn off_worker<T: Send + 'static>(
    len: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    if len <= INLINE_BODY_LIMIT {
        Some(work())
    } else {
        tokio::task::spawn_blocking(work).await.ok()
    }
}

/// Checks the method and parses the plugin's body once for all attempts.
async fn prepare(out: &Outbound) -> Result<Prepared, UpstreamError> {
    check_method(out.api, &out.method)?;
    let (api, body) = (out.api, out.body.clone());
    off_worker(body.len(), move || salesforce::prepare(api, &body))
        .await
        .unwrap_or_else(|| {
            Err(salesforce::SalesforceError::NotAnEnvelope(
                "the host failed while reading it".into(),
            ))
        })
        .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))
}

/// Refuses a method `api` does not take.
fn check_method(api: Api, method: &http::Method) -> Result<(), UpstreamError> {
    let methods = api.methods();
    if !methods.contains(method) {
        let names: Vec<&str> = methods.iter().map(http::Method::as_str).collect();
        return Err(UpstreamError::InvalidRequest(format!(
            "{method} is not a method the {api} API takes: use {}",
            names.join(", ")
        )));
    }
    Ok(())
}

/// The API usage the answer reports and what it means, read once.
async fn read(
    api: Api,
    reply: transport::Reply,
) -> Result<(Option<(u64, u64)>, Outcome, transport::Reply), UpstreamError> {
    off_worker(reply.body.len(), move || {
        let usage = salesforce::api_usage(&reply.headers, &reply.body);
        let outcome = salesforce::classify(api, reply.status, &reply.headers, &reply.body);
        (usage, outcome, reply)
    })
    .await
    .ok_or_else(|| UpstreamError::AnswerRefused {
        reason: "the host failed while reading it".into(),
    })
}

enum Attempt {
    Done(Passed),
    /// INVALID_SESSION_ID: the API's answer, should it go back as it came.
    SessionRejected(Passed),
}

#[cfg(test)]
mod tests;
