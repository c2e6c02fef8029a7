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
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::identity::{self, ClientIdentity};
use crate::problem::ProblemCode;
use crate::salesforce::{self, Api, Outcome, Prepared};
use crate::session::{Manager, Session, SessionError, Status};
use crate::transport::{self, Transport, TransportError};

mod setup;

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
    /// What the answer was, by the API's formats (`success`, a fault, ...).
    pub outcome: Outcome,
}

/// Why no answer can be given.
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
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl UpstreamError {
    /// How long a caller should wait before retrying, when that helps.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Session(e) => e.retry_after(),
            _ => None,
        }
    }

    /// The problem callers see (docs/architecture.md, the error contract).
    pub fn problem_code(&self) -> ProblemCode {
        match self {
            Self::InvalidRequest(_) => ProblemCode::InvalidRequest,
            Self::Session(e) => session_problem(e),
            Self::ClientCertificateRejected { .. } => ProblemCode::ClientCertificateRejected,
            Self::MutualAuthenticationFailed { .. } => ProblemCode::MutualAuthenticationFailed,
            Self::SessionRejected(_) => ProblemCode::SessionUnavailable,
            Self::AnswerRefused { .. } => ProblemCode::UpstreamFault,
            Self::Transport(TransportError::TooLarge { .. }) => ProblemCode::UpstreamTooLarge,
            Self::Transport(TransportError::Timeout { .. }) => ProblemCode::UpstreamTimeout,
            Self::Transport(_) => ProblemCode::UpstreamUnavailable,
        }
    }

    /// The problem code's name (`problem_code().code()`).
    pub fn code(&self) -> &'static str {
        self.problem_code().code()
    }
}

/// The problem a failed login gives callers.
pub fn session_problem(e: &SessionError) -> ProblemCode {
    match e {
        SessionError::InvalidLogin { .. } => ProblemCode::InvalidLogin,
        SessionError::RateLimited { .. } => ProblemCode::LoginRateLimited,
        SessionError::Unavailable { .. } => ProblemCode::SessionUnavailable,
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

/// API usage as Salesforce last reported it (LimitInfoHeader / Sforce-Limit-Info).
#[derive(Debug, Default)]
pub struct Usage {
    pub used: AtomicU64,
    pub limit: AtomicU64,
}

/// Everything one tenant needs to call the API (built by `setup`).
pub struct TenantUpstream {
    settings: Settings,
    identity: Option<Arc<ClientIdentity>>,
    /// Digest of the extra roots' contents the pool was built with.
    roots: [u8; 32],
    transport: Transport,
    sessions: Manager,
    usage: Usage,
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

    /// API requests used and the daily limit, as last reported.
    pub fn usage(&self) -> (u64, u64) {
        (
            self.usage.used.load(Ordering::Relaxed),
            self.usage.limit.load(Ordering::Relaxed),
        )
    }

    /// Sends `out` with the tenant's session; on INVALID_SESSION_ID logs in
    /// again (once for all concurrent failures) and retries once.
    pub async fn send(&self, out: &Outbound) -> Result<Answer, UpstreamError> {
        let prepared = prepare(out).await?;
        let first = self.sessions.session().await?;
        match self.attempt(out, &prepared, &first).await? {
            Attempt::Done(answer) => Ok(answer),
            Attempt::SessionRejected(_) => {
                self.sessions.invalidate(&first);
                let second = self.sessions.session().await?;
                match self.attempt(out, &prepared, &second).await? {
                    Attempt::Done(answer) => Ok(answer),
                    Attempt::SessionRejected(message) => {
                        self.sessions.invalidate(&second);
                        Err(UpstreamError::SessionRejected(message))
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        out: &Outbound,
        prepared: &Prepared,
        session: &Session,
    ) -> Result<Attempt, UpstreamError> {
        let mutual_port = self
            .settings
            .mutual_auth
            .then_some(self.settings.mutual_auth_port);
        let uri = salesforce::resolve(out.api, &out.path, &session.instance, mutual_port)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let mut headers = out.headers.clone();
        let body = prepared
            .apply(&session.id, &mut headers)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(out.method.clone())
            .uri(uri)
            .body(body)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        *request.headers_mut() = headers;
        let reply = self.transport.send(request).await?;
        let (usage, outcome, reply) = read(out.api, reply).await?;
        if let Some((used, limit)) = usage {
            self.usage.used.store(used, Ordering::Relaxed);
            self.usage.limit.store(limit, Ordering::Relaxed);
        }
        match outcome {
            Outcome::InvalidSession { message } => Ok(Attempt::SessionRejected(message)),
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
            Outcome::Refused { reason } => Err(UpstreamError::AnswerRefused { reason }),
            outcome => {
                let mut headers = reply.headers;
                salesforce::strip_secrets(&mut headers);
                Ok(Attempt::Done(Answer {
                    status: reply.status,
                    headers,
                    body: reply.body,
                    outcome,
                }))
            }
        }
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

/// Checks and parses the plugin's body once for all attempts.
async fn prepare(out: &Outbound) -> Result<Prepared, UpstreamError> {
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
    Done(Answer),
    SessionRejected(String),
}
