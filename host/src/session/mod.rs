//! One Salesforce session per tenant, shared by all its requests: logged in
//! once however many requests arrive together (single flight), reused until
//! it nearly expires, replaced exactly once when the API rejects it, and
//! never logged in more often than the tenant's budget allows.

mod store;
mod strategy;

pub use store::{MemoryStore, SessionStore};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;

use crate::config::Tenant;
use crate::salesforce::{Instance, LoginFailure};
use crate::secret::Secret;
use crate::transport::Transport;

/// A live session.
#[derive(Debug)]
pub struct Session {
    pub id: Secret,
    pub instance: Instance,
    pub user_id: String,
    /// When the host stops using it (its lifetime minus a safety margin).
    pub refresh_at: Instant,
    pub expires_at: SystemTime,
    /// Unique in the process; tells sessions apart (compare-and-swap).
    pub generation: u64,
}

/// Why a request has no session.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// The credentials were refused; no more logins until the config changes.
    #[error(
        "login refused: {code}: {message} (fix the tenant's credentials; logins are paused until the config changes)"
    )]
    InvalidLogin { code: String, message: String },
    /// Salesforce or the tenant's own budget limits logins for now.
    #[error("login rate limited: {reason}; next attempt in {retry_after:?}")]
    RateLimited {
        reason: String,
        retry_after: Duration,
    },
    /// The login could not be done (network, TLS, unexpected answer); backing off.
    #[error("login failed: {reason}; next attempt in {retry_after:?}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
}

impl SessionError {
    /// The problem code callers see.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidLogin { .. } => "invalid_login",
            Self::RateLimited { .. } => "login_rate_limited",
            Self::Unavailable { .. } => "session_unavailable",
        }
    }

    /// Seconds a caller should wait before retrying, when it is worth it.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::InvalidLogin { .. } => None,
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
        }
    }
}

/// What `/admin/sessions` and `twoway login` show; never the session id.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub tenant: String,
    pub state: &'static str,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub instance_url: Option<String>,
    pub expires_at: Option<String>,
    pub logins: u64,
    pub login_failures: u64,
    pub last_error: Option<String>,
    /// SHA-256 of the client certificate in use (filled in by the upstream).
    pub certificate_sha256: Option<String>,
}

const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Session generations, unique in the process (tenants rebuilt on reload
/// never reuse a number).
static GENERATIONS: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct LoginState {
    /// Set by refused credentials: no more logins for this config.
    stopped: Option<SessionError>,
    /// No login before this instant (transport failures, rate limits).
    not_before: Option<(Instant, SessionError)>,
    consecutive_failures: u32,
}

/// The session of one tenant.
pub struct Manager {
    tenant: Arc<Tenant>,
    transport: Transport,
    store: Arc<dyn SessionStore>,
    login: tokio::sync::Mutex<LoginState>,
    logins: AtomicU64,
    failures: AtomicU64,
    last_error: RwLock<Option<String>>,
}

impl Manager {
    /// A manager that logs in through `transport` with the tenant's
    /// strategy and keeps the session in `store`.
    pub fn new(tenant: Arc<Tenant>, transport: Transport, store: Arc<dyn SessionStore>) -> Self {
        Self {
            tenant,
            transport,
            store,
            login: tokio::sync::Mutex::new(LoginState::default()),
            logins: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_error: RwLock::new(None),
        }
    }

    /// Logins made so far (successful ones).
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Failed login attempts so far.
    pub fn login_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    fn fresh(&self) -> Option<Arc<Session>> {
        self.store
            .current(&self.tenant.name)
            .filter(|s| s.refresh_at > Instant::now())
    }

    /// The tenant's session, logging in first when there is none. Concurrent
    /// callers wait for one login instead of each making their own.
    pub async fn session(&self) -> Result<Arc<Session>, SessionError> {
        if let Some(session) = self.fresh() {
            return Ok(session);
        }
        let mut state = self.login.lock().await;
        // Whoever held the lock before us may have logged in already.
        if let Some(session) = self.fresh() {
            return Ok(session);
        }
        if let Some(stopped) = &state.stopped {
            return Err(stopped.clone());
        }
        let now = Instant::now();
        if let Some((until, error)) = &state.not_before
            && *until > now
        {
            return Err(with_retry_after(error, *until - now));
        }
        if let Err(wait) = self.store.take_login(
            &self.tenant.name,
            self.tenant.login_budget_per_hour,
            SystemTime::now(),
        ) {
            return Err(SessionError::RateLimited {
                reason: format!(
                    "the tenant's budget of {} logins per hour is spent (login_budget_per_hour)",
                    self.tenant.login_budget_per_hour
                ),
                retry_after: wait,
            });
        }
        match strategy::login(&self.tenant, &self.transport).await {
            Ok(grant) => {
                self.logins.fetch_add(1, Ordering::Relaxed);
                let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
                let margin = (grant.lifetime / 10).min(Duration::from_secs(300));
                let session = Arc::new(Session {
                    id: grant.session_id,
                    instance: grant.instance,
                    user_id: grant.user_id,
                    refresh_at: Instant::now() + grant.lifetime - margin,
                    expires_at: SystemTime::now() + grant.lifetime,
                    generation,
                });
                state.consecutive_failures = 0;
                state.not_before = None;
                self.store.put(&self.tenant.name, session.clone());
                tracing::info!(tenant = %self.tenant.name, generation, org = %session.instance.org_id, "logged in");
                Ok(session)
            }
            Err(failure) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let error = self.on_failure(&mut state, failure);
                *self.last_error.write().unwrap_or_else(|e| e.into_inner()) =
                    Some(error.to_string());
                tracing::warn!(tenant = %self.tenant.name, code = error.code(), error = %error, "login failed");
                Err(error)
            }
        }
    }

    fn on_failure(&self, state: &mut LoginState, failure: LoginFailure) -> SessionError {
        match failure {
            LoginFailure::Rejected { code, message } => {
                let error = SessionError::InvalidLogin { code, message };
                state.stopped = Some(error.clone());
                error
            }
            LoginFailure::RateLimited { code, message } => {
                state.consecutive_failures += 1;
                let wait = backoff(state.consecutive_failures).max(Duration::from_secs(60));
                let error = SessionError::RateLimited {
                    reason: format!("{code}: {message}"),
                    retry_after: wait,
                };
                state.not_before = Some((Instant::now() + wait, error.clone()));
                error
            }
            LoginFailure::Unexpected { status, detail } => {
                state.consecutive_failures += 1;
                let wait = backoff(state.consecutive_failures);
                let reason = if status == 0 {
                    detail
                } else {
                    format!("HTTP {status}: {detail}")
                };
                let error = SessionError::Unavailable {
                    reason,
                    retry_after: wait,
                };
                state.not_before = Some((Instant::now() + wait, error.clone()));
                error
            }
        }
    }

    /// Drops `failed` if it is still the current session; returns whether it
    /// was. Many requests failing on the same session cause one re-login.
    pub fn invalidate(&self, failed: &Arc<Session>) -> bool {
        if self.store.invalidate(&self.tenant.name, failed.generation) {
            tracing::info!(tenant = %self.tenant.name, generation = failed.generation, "session rejected by the API; will log in again");
            true
        } else {
            false
        }
    }

    /// The session state, for operators; never the session id.
    pub fn status(&self) -> Status {
        let session = self.store.current(&self.tenant.name);
        let stopped = self
            .login
            .try_lock()
            .map(|s| s.stopped.is_some())
            .unwrap_or(false);
        let state = match (&session, stopped) {
            (_, true) => "stopped",
            (Some(s), _) if s.refresh_at > Instant::now() => "active",
            (Some(_), _) => "expired",
            (None, _) => "none",
        };
        Status {
            tenant: self.tenant.name.clone(),
            state,
            org_id: session.as_ref().map(|s| s.instance.org_id.clone()),
            user_id: session.as_ref().map(|s| s.user_id.clone()),
            instance_url: session.as_ref().map(|s| s.instance.base_url.to_string()),
            expires_at: session.as_ref().map(|s| {
                time::OffsetDateTime::from(s.expires_at)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            }),
            logins: self.logins(),
            login_failures: self.login_failures(),
            last_error: self
                .last_error
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            certificate_sha256: None,
        }
    }
}

fn with_retry_after(error: &SessionError, wait: Duration) -> SessionError {
    match error.clone() {
        SessionError::RateLimited { reason, .. } => SessionError::RateLimited {
            reason,
            retry_after: wait,
        },
        SessionError::Unavailable { reason, .. } => SessionError::Unavailable {
            reason,
            retry_after: wait,
        },
        other => other,
    }
}

/// Exponential backoff with full jitter between half and all of the step.
fn backoff(failures: u32) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    let factor: f64 = rand::rng().random_range(0.5..=1.0);
    step.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..30 {
            let d = backoff(n);
            let step = BACKOFF_BASE
                .saturating_mul(1 << (n - 1).min(16))
                .min(BACKOFF_MAX);
            assert!(
                d >= step / 2 && d <= step,
                "failure {n}: {d:?} not within [{:?}, {step:?}]",
                step / 2
            );
        }
        assert!(backoff(30) <= BACKOFF_MAX);
    }
}
