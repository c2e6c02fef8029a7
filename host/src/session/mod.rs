//! One Salesforce session per tenant, shared by all its requests: logged in
//! once however many requests arrive together (single flight), reused until
//! it nearly expires, replaced exactly once when the API rejects it, and
//! never logged in more often than the tenant's budget allows.
//!
//! A login runs as its own task ([`flight`]) bounded by the tenant's
//! `login_timeout_ms`: callers wait for its result, and a caller that gives
//! up (its plugin timed out) does not cancel it, so every attempt ends in a
//! recorded success or failure and failures back off.

pub mod fleet;
mod flight;
mod settings;
mod store;
mod strategy;

pub use settings::SessionSettings;
pub use store::{BeforeLogin, BoxFuture, MemoryStore, SessionStore, StoreHealth, UsageReport};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::problem::UpstreamCode;
use crate::salesforce::Instance;
use crate::secret::Secret;
use crate::transport::Exchange;

use flight::LoginState;

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
    /// The [`Manager`] (one per tenant config) that logged it in; managers
    /// built later have larger epochs, and a store keeps the newest.
    pub epoch: u64,
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
    /// The login could not be done (network, TLS, timeout, unexpected
    /// answer); backing off.
    #[error("login failed: {reason}; next attempt in {retry_after:?}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
}

impl SessionError {
    /// The problem callers see.
    pub fn problem_code(&self) -> UpstreamCode {
        match self {
            Self::InvalidLogin { .. } => UpstreamCode::InvalidLogin,
            Self::RateLimited { .. } => UpstreamCode::LoginRateLimited,
            Self::Unavailable { .. } => UpstreamCode::SessionUnavailable,
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
    /// `active`, `expired`, `none`, `logging_in`, `backing_off` or `stopped`.
    pub state: &'static str,
    pub org_id: Option<String>,
    pub user_id: Option<String>,
    pub instance_url: Option<String>,
    pub expires_at: Option<String>,
    pub logins: u64,
    pub login_failures: u64,
    pub last_error: Option<String>,
    /// While `backing_off`: milliseconds until a caller may start a login.
    pub next_attempt_in_ms: Option<u64>,
    /// SHA-256 of the client certificate in use (filled in by the upstream).
    pub certificate_sha256: Option<String>,
}

/// Session generations, unique in the process (tenants rebuilt on reload
/// never reuse a number).
static GENERATIONS: AtomicU64 = AtomicU64::new(0);
/// Manager epochs: each manager (a tenant config) gets a larger one.
static EPOCHS: AtomicU64 = AtomicU64::new(0);

/// Called once for each login this process makes, where it ends: `true`
/// when it succeeded (the gateway's metrics count them per tenant).
pub type OnLogin = Arc<dyn Fn(bool, Duration) + Send + Sync>;

/// The session of one tenant.
pub struct Manager {
    inner: Arc<Inner>,
}

/// What a manager shares with its login task.
struct Inner {
    settings: SessionSettings,
    exchange: Arc<dyn Exchange>,
    core: Arc<Core>,
    on_login: Option<OnLogin>,
}

/// What the managers of one session (same [`SessionSettings::fingerprint`])
/// share across reloads: the epoch, the login bookkeeping and the counters.
struct Core {
    store: Arc<dyn SessionStore>,
    epoch: u64,
    state: Mutex<LoginState>,
    logins: AtomicU64,
    failures: AtomicU64,
    last_error: RwLock<Option<String>>,
}

impl Inner {
    /// This manager's session, while it is still good to use.
    fn fresh(&self) -> Option<Arc<Session>> {
        self.current().filter(|s| s.refresh_at > Instant::now())
    }

    /// This manager's session, good or not; one put by a manager of another
    /// tenant config does not count.
    fn current(&self) -> Option<Arc<Session>> {
        self.core
            .store
            .current(&self.settings.tenant)
            .filter(|s| s.epoch == self.core.epoch)
    }

    fn state(&self) -> MutexGuard<'_, LoginState> {
        self.core.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Manager {
    /// A manager that logs in through `exchange` with the tenant's
    /// strategy and keeps the session in `store`. It starts a new epoch: no
    /// session of an earlier manager counts for it, and a late login of an
    /// earlier manager cannot replace its session in the store. Each login
    /// that ends is told to `on_login`.
    pub fn new(
        settings: SessionSettings,
        exchange: Arc<dyn Exchange>,
        store: Arc<dyn SessionStore>,
        on_login: Option<OnLogin>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                exchange,
                on_login,
                core: Arc::new(Core {
                    store,
                    epoch: EPOCHS.fetch_add(1, Ordering::Relaxed) + 1,
                    state: Mutex::new(LoginState::default()),
                    logins: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    last_error: RwLock::new(None),
                }),
            }),
        }
    }

    /// The manager for `settings` after a reload, logging in through
    /// `exchange`. When the settings log in as the same session (equal
    /// [`SessionSettings::fingerprint`]) it shares this manager's epoch,
    /// session, running login, backoff and counters; otherwise it is a new
    /// manager (new epoch) on the same store. Either way its logins are
    /// told to the same `on_login`.
    pub fn successor(&self, settings: SessionSettings, exchange: Arc<dyn Exchange>) -> Self {
        let on_login = self.inner.on_login.clone();
        if settings.fingerprint() != self.inner.settings.fingerprint() {
            return Self::new(settings, exchange, self.inner.core.store.clone(), on_login);
        }
        Self {
            inner: Arc::new(Inner {
                settings,
                exchange,
                on_login,
                core: self.inner.core.clone(),
            }),
        }
    }

    /// The settings this manager logs in with.
    pub fn settings(&self) -> &SessionSettings {
        &self.inner.settings
    }

    /// This manager's epoch: equal for managers that share a session.
    pub fn epoch(&self) -> u64 {
        self.inner.core.epoch
    }

    /// Tells the store (and through a shared one, the fleet) the API usage
    /// an answer reported.
    pub fn share_usage(&self, report: UsageReport) {
        self.inner
            .core
            .store
            .share_usage(&self.inner.settings, report);
    }

    /// The latest API usage another instance shared for this tenant.
    pub fn fleet_usage(&self) -> Option<UsageReport> {
        self.inner
            .core
            .store
            .fleet_usage(&self.inner.settings.tenant)
    }

    /// Logins made so far (successful ones).
    pub fn logins(&self) -> u64 {
        self.inner.core.logins.load(Ordering::Relaxed)
    }

    /// Failed login attempts so far (refused, timed out, unreachable, ...).
    pub fn login_failures(&self) -> u64 {
        self.inner.core.failures.load(Ordering::Relaxed)
    }

    /// The tenant's session, logging in first when there is none. Concurrent
    /// callers wait for one login instead of each making their own; while
    /// logins back off or are stopped, callers get the error at once.
    /// Dropping the returned future does not cancel the login.
    pub async fn session(&self) -> Result<Arc<Session>, SessionError> {
        if let Some(session) = self.inner.fresh() {
            return Ok(session);
        }
        flight::join_or_start(&self.inner)?.wait().await
    }

    /// Drops `failed` if it is still the current session; returns whether it
    /// was. Many requests failing on the same session cause one re-login.
    pub fn invalidate(&self, failed: &Arc<Session>) -> bool {
        let tenant = &self.inner.settings.tenant;
        if self.inner.core.store.invalidate(tenant, failed.generation) {
            tracing::info!(%tenant, generation = failed.generation, "session rejected by the API; will log in again");
            true
        } else {
            false
        }
    }

    /// The session state, for operators; never the session id.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let session = inner.current();
        let now = Instant::now();
        let active = session.as_ref().is_some_and(|s| s.refresh_at > now);
        let (login, next_attempt) = {
            let state = inner.state();
            let next = state
                .not_before
                .as_ref()
                .map(|(until, _)| *until)
                .filter(|until| *until > now);
            (state.phase(), next)
        };
        let state = match (login, active, next_attempt, &session) {
            (flight::Phase::Stopped, ..) => "stopped",
            (_, true, ..) => "active",
            (flight::Phase::LoggingIn, ..) => "logging_in",
            (_, _, Some(_), _) => "backing_off",
            (_, _, None, Some(_)) => "expired",
            (_, _, None, None) => "none",
        };
        Status {
            tenant: inner.settings.tenant.clone(),
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
            last_error: inner
                .core
                .last_error
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            next_attempt_in_ms: next_attempt
                .filter(|_| state == "backing_off")
                .map(|until| (until - now).as_millis().try_into().unwrap_or(u64::MAX)),
            certificate_sha256: None,
        }
    }
}
