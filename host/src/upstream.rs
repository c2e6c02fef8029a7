//! One tenant's way to the API, in the order of DESIGN.md §1: a session,
//! the URL for the API and path, the session injected, the pooled mutual-TLS
//! transport, the answer classified, and one retry after a re-login when the
//! API rejected the session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::config::{Tenant, Upstream as UpstreamSettings};
use crate::identity::{self, ClientIdentity};
use crate::salesforce::{self, Api, Outcome};
use crate::session::{Manager, MemoryStore, Session, SessionError, SessionStore, Status};
use crate::transport::{self, Transport, TransportError};

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

    /// The problem code callers see (DESIGN.md §5).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::Session(e) => e.code(),
            Self::ClientCertificateRejected { .. } => "client_certificate_rejected",
            Self::MutualAuthenticationFailed { .. } => "mutual_authentication_failed",
            Self::SessionRejected(_) => "session_unavailable",
            Self::Transport(TransportError::TooLarge { .. }) => "upstream_too_large",
            Self::Transport(_) => "upstream_unavailable",
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

/// API usage as Salesforce last reported it (LimitInfoHeader / Sforce-Limit-Info).
#[derive(Debug, Default)]
pub struct Usage {
    pub used: AtomicU64,
    pub limit: AtomicU64,
}

/// Everything one tenant needs to call the API.
pub struct TenantUpstream {
    tenant: Arc<Tenant>,
    identity: Option<Arc<ClientIdentity>>,
    transport: Transport,
    sessions: Manager,
    usage: Usage,
}

impl TenantUpstream {
    /// Loads the tenant's identity and builds its transport and session
    /// manager, with its session kept in memory.
    pub fn new(tenant: Arc<Tenant>, settings: &UpstreamSettings) -> Result<Self, SetupError> {
        Self::with_store(tenant, settings, Arc::new(MemoryStore::default()))
    }

    /// [`TenantUpstream::new`] with the session kept in `store` (shared by
    /// all tenants of a gateway, or by a fleet).
    pub fn with_store(
        tenant: Arc<Tenant>,
        settings: &UpstreamSettings,
        store: Arc<dyn SessionStore>,
    ) -> Result<Self, SetupError> {
        let identity = match &tenant.identity {
            Some(source) => Some(Arc::new(identity::load(source).map_err(|source| {
                SetupError::Identity {
                    tenant: tenant.name.clone(),
                    source,
                }
            })?)),
            None => None,
        };
        if let Some(id) = &identity {
            for warning in &id.warnings {
                tracing::warn!(tenant = %tenant.name, "{warning}");
            }
        }
        let tls = transport::client_config(identity.as_deref(), &tenant.extra_roots).map_err(
            |source| SetupError::Transport {
                tenant: tenant.name.clone(),
                source,
            },
        )?;
        let transport = Transport::new(tls, settings);
        Ok(Self {
            sessions: Manager::new(tenant.clone(), transport.clone(), store),
            tenant,
            identity,
            transport,
            usage: Usage::default(),
        })
    }

    /// The tenant's config.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

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
        let first = self.sessions.session().await?;
        match self.attempt(out, &first).await? {
            Attempt::Done(answer) => Ok(answer),
            Attempt::SessionRejected(_) => {
                self.sessions.invalidate(&first);
                let second = self.sessions.session().await?;
                match self.attempt(out, &second).await? {
                    Attempt::Done(answer) => Ok(answer),
                    Attempt::SessionRejected(message) => {
                        self.sessions.invalidate(&second);
                        Err(UpstreamError::SessionRejected(message))
                    }
                }
            }
        }
    }

    async fn attempt(&self, out: &Outbound, session: &Session) -> Result<Attempt, UpstreamError> {
        let mutual_port = self
            .tenant
            .mutual_auth
            .then_some(self.tenant.mutual_auth_port);
        let uri = salesforce::resolve(out.api, &out.path, &session.instance, mutual_port)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let mut headers = out.headers.clone();
        let body = salesforce::inject(out.api, &session.id, &mut headers, &out.body)
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        let mut request = http::Request::builder()
            .method(out.method.clone())
            .uri(uri)
            .body(Bytes::from(body))
            .map_err(|e| UpstreamError::InvalidRequest(e.to_string()))?;
        *request.headers_mut() = headers;
        let reply = self.transport.send(request).await?;
        if let Some((used, limit)) = salesforce::api_usage(&reply.headers, &reply.body) {
            self.usage.used.store(used, Ordering::Relaxed);
            self.usage.limit.store(limit, Ordering::Relaxed);
        }
        let outcome = salesforce::classify(out.api, reply.status, &reply.headers, &reply.body);
        match outcome {
            Outcome::InvalidSession { message } => Ok(Attempt::SessionRejected(message)),
            Outcome::CertificateRejected { reason } => {
                Err(UpstreamError::ClientCertificateRejected { reason })
            }
            Outcome::MutualAuthFailed { message } => {
                Err(UpstreamError::MutualAuthenticationFailed {
                    message,
                    hint: if self.tenant.mutual_auth {
                        "mutual_auth is on: check that mutual_auth_port is the instance's mutual-auth port (8443)"
                    } else {
                        "this user must call the API with mutual TLS: set mutual_auth = true and a client_identity for the tenant"
                    },
                })
            }
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

enum Attempt {
    Done(Answer),
    SessionRejected(String),
}
