//! The login itself, as its own task: started by the first caller that finds
//! no session (single flight), run to completion or to the tenant's
//! `login_timeout_ms` whatever happens to the callers waiting for it, and
//! always recorded: a session stored, or a failure counted, kept as
//! `last_error` and answered with a backoff (transient) or a stop (refused
//! credentials). Budget slots are taken per real attempt only.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;
use tokio::sync::watch;

use super::store::BeforeLogin;
use super::{GENERATIONS, Inner, Session, SessionError, strategy};
use crate::salesforce::LoginFailure;

const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// The shortest wait after Salesforce said logins are rate limited.
const RATE_LIMIT_MIN: Duration = Duration::from_secs(60);

/// What a login task publishes: nothing yet, then its result.
type Published = Option<Result<Arc<Session>, SessionError>>;

/// A manager's login bookkeeping, behind a short-held lock.
#[derive(Default)]
pub(super) struct LoginState {
    /// Set by refused credentials: no more logins for this config.
    stopped: Option<SessionError>,
    /// No login before this instant (transient failures, rate limits).
    pub(super) not_before: Option<(Instant, SessionError)>,
    consecutive_failures: u32,
    /// The running login, if any: its result arrives here.
    in_flight: Option<watch::Receiver<Published>>,
}

/// Where a manager's logins stand, for `/admin/sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    LoggingIn,
    Stopped,
}

impl LoginState {
    pub(super) fn phase(&self) -> Phase {
        if self.stopped.is_some() {
            Phase::Stopped
        } else if self.in_flight.as_ref().is_some_and(running) {
            Phase::LoggingIn
        } else {
            Phase::Idle
        }
    }
}

/// True while the login task behind `rx` can still publish.
fn running(rx: &watch::Receiver<Published>) -> bool {
    rx.has_changed().is_ok()
}

/// What a caller without a session does next.
pub(super) enum Joined {
    /// Another caller's login finished while this one took the lock.
    Ready(Arc<Session>),
    /// Waits for the running login.
    Wait(watch::Receiver<Published>),
}

impl Joined {
    /// The login's result. Cancelling this future leaves the login running.
    pub(super) async fn wait(self) -> Result<Arc<Session>, SessionError> {
        let mut rx = match self {
            Joined::Ready(session) => return Ok(session),
            Joined::Wait(rx) => rx,
        };
        match rx.wait_for(Option::is_some).await {
            Ok(published) => published.clone().unwrap_or_else(|| Err(ended())),
            Err(_) => Err(ended()),
        }
    }
}

/// The error of a login task that ended without a result (it panicked).
fn ended() -> SessionError {
    SessionError::Unavailable {
        reason: "the login task ended without a result".into(),
        retry_after: BACKOFF_BASE,
    }
}

/// Joins the running login, or starts one when none runs and logins are
/// neither stopped, backing off nor out of budget (then that error, at once).
pub(super) fn join_or_start(inner: &Arc<Inner>) -> Result<Joined, SessionError> {
    let mut state = inner.state();
    // A login may have finished between the caller's look and the lock.
    if let Some(session) = inner.fresh() {
        return Ok(Joined::Ready(session));
    }
    if let Some(stopped) = &state.stopped {
        return Err(stopped.clone());
    }
    if let Some(rx) = state.in_flight.as_ref().filter(|rx| running(rx)) {
        return Ok(Joined::Wait(rx.clone()));
    }
    let now = Instant::now();
    if let Some((until, error)) = &state.not_before
        && *until > now
    {
        return Err(with_retry_after(error, *until - now));
    }
    let tenant = &inner.settings;
    if let Err(wait) = inner.core.store.take_login(
        &tenant.tenant,
        tenant.login_budget_per_hour,
        SystemTime::now(),
    ) {
        return Err(SessionError::RateLimited {
            reason: format!(
                "the tenant's budget of {} logins per hour is spent (login_budget_per_hour)",
                tenant.login_budget_per_hour
            ),
            retry_after: wait,
        });
    }
    let (tx, rx) = watch::channel(None);
    state.in_flight = Some(rx.clone());
    // A span of its own, a child of the call that started it (traces).
    let span = tracing::info_span!(
        target: crate::config::telemetry::TRACE_TARGET,
        "login",
        otel.name = "login",
        twoway.tenant = %tenant.tenant,
    );
    tokio::spawn(tracing::Instrument::instrument(
        run(inner.clone(), tx),
        span,
    ));
    Ok(Joined::Wait(rx))
}

/// One login attempt (unless the store has a session or a refusal), bounded
/// by `login_timeout_ms`, then its result recorded and published to whoever
/// still waits, then handed to the store.
async fn run(inner: Arc<Inner>, tx: watch::Sender<Published>) {
    let store = inner.core.store.clone();
    // A shared store may have a session from another instance, or a reason
    // not to log in that the fleet already knows.
    let started = Instant::now();
    let (result, allowed) = match store.before_login(&inner.settings, inner.core.epoch).await {
        BeforeLogin::Shared(session) => {
            let mut state = inner.state();
            state.consecutive_failures = 0;
            state.not_before = None;
            state.in_flight = None;
            tx.send_replace(Some(Ok(session)));
            return;
        }
        BeforeLogin::Refuse(failure) => (Err(failure), false),
        BeforeLogin::Wait(failure, wait) => {
            let mut state = inner.state();
            let error = held_back(&mut state, failure, wait);
            *inner
                .core
                .last_error
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
            state.in_flight = None;
            tx.send_replace(Some(Err(error)));
            return;
        }
        BeforeLogin::Login => (login(&inner).await, true),
    };
    let took = started.elapsed();
    let published = {
        let mut state = inner.state();
        let published = match result {
            Ok(grant) => Ok(on_success(&inner, &mut state, grant, took)),
            Err(failure) => Err(on_failure(&inner, &mut state, failure, took)),
        };
        state.in_flight = None;
        // Published under the lock: a caller that finds no running login
        // finds the session or the backoff instead.
        tx.send_replace(Some(published.clone()));
        published
    };
    if allowed {
        store.after_login(&inner.settings, &published).await;
    }
}

/// One login, bounded by `login_timeout_ms`.
async fn login(inner: &Inner) -> Result<strategy::Grant, LoginFailure> {
    let tenant = &inner.settings;
    let attempt = strategy::login(tenant, inner.exchange.as_ref());
    match tokio::time::timeout(tenant.login_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(LoginFailure::Unexpected {
            status: 0,
            detail: format!(
                "the login service at {} did not answer within login_timeout_ms ({} ms)",
                tenant
                    .login_url
                    .authority()
                    .map(|a| a.as_str())
                    .unwrap_or("?"),
                tenant.login_timeout.as_millis()
            ),
        }),
    }
}

fn on_success(
    inner: &Inner,
    state: &mut LoginState,
    grant: strategy::Grant,
    took: Duration,
) -> Arc<Session> {
    inner
        .core
        .logins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(counted) = &inner.on_login {
        counted(true, took);
    }
    let generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let margin = (grant.lifetime / 10).min(Duration::from_secs(300));
    let session = Arc::new(Session {
        id: grant.session_id,
        instance: grant.instance,
        user_id: grant.user_id,
        refresh_at: Instant::now() + grant.lifetime - margin,
        expires_at: SystemTime::now() + grant.lifetime,
        generation,
        epoch: inner.core.epoch,
    });
    state.consecutive_failures = 0;
    state.not_before = None;
    let tenant = &inner.settings.tenant;
    if inner.core.store.put(tenant, session.clone()) {
        tracing::info!(%tenant, generation, org = %session.instance.org_id, "logged in");
    } else {
        tracing::info!(%tenant, generation, "logged in for a replaced tenant config; session not kept");
    }
    session
}

fn on_failure(
    inner: &Inner,
    state: &mut LoginState,
    failure: LoginFailure,
    took: Duration,
) -> SessionError {
    inner
        .core
        .failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(counted) = &inner.on_login {
        counted(false, took);
    }
    let error = classify(state, failure);
    *inner
        .core
        .last_error
        .write()
        .unwrap_or_else(|e| e.into_inner()) = Some(error.to_string());
    tracing::warn!(tenant = %inner.settings.tenant, code = %error.problem_code(), error = %error, "login failed");
    error
}

/// Stops logins for refused credentials; backs off for anything else.
fn classify(state: &mut LoginState, failure: LoginFailure) -> SessionError {
    match failure {
        LoginFailure::Rejected { code, message } => {
            let error = SessionError::InvalidLogin { code, message };
            state.stopped = Some(error.clone());
            error
        }
        LoginFailure::RateLimited { code, message } => {
            state.consecutive_failures += 1;
            let wait = backoff(state.consecutive_failures).max(RATE_LIMIT_MIN);
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

/// Waits out a backoff the fleet recorded (`wait` left): no attempt was
/// made here, so this instance's failure count stays as it is.
fn held_back(state: &mut LoginState, failure: LoginFailure, wait: Duration) -> SessionError {
    let error = match failure {
        LoginFailure::Rejected { code, message } => SessionError::InvalidLogin { code, message },
        LoginFailure::RateLimited { code, message } => SessionError::RateLimited {
            reason: format!("{code}: {message}"),
            retry_after: wait,
        },
        LoginFailure::Unexpected { status, detail } => SessionError::Unavailable {
            reason: if status == 0 {
                detail
            } else {
                format!("HTTP {status}: {detail}")
            },
            retry_after: wait,
        },
    };
    state.not_before = Some((Instant::now() + wait, error.clone()));
    error
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

    #[test]
    fn refused_credentials_stop_and_transient_faults_back_off() {
        let mut state = LoginState::default();
        let error = classify(
            &mut state,
            LoginFailure::Unexpected {
                status: 503,
                detail: "SSO_SERVICE_DOWN: try later".into(),
            },
        );
        assert_eq!(error.problem_code().code(), "session_unavailable");
        assert!(error.to_string().contains("HTTP 503"), "{error}");
        let (until, _) = state.not_before.clone().expect("backing off");
        assert!(until > Instant::now() + BACKOFF_BASE / 4);
        assert_eq!(state.phase(), Phase::Idle);
        classify(
            &mut state,
            LoginFailure::Unexpected {
                status: 0,
                detail: "timed out".into(),
            },
        );
        assert_eq!(state.consecutive_failures, 2);

        let limited = classify(
            &mut state,
            LoginFailure::RateLimited {
                code: "LOGIN_RATE_EXCEEDED".into(),
                message: "m".into(),
            },
        );
        assert!(limited.retry_after().unwrap() >= RATE_LIMIT_MIN);

        let refused = classify(
            &mut state,
            LoginFailure::Rejected {
                code: "INVALID_LOGIN".into(),
                message: "m".into(),
            },
        );
        assert_eq!(refused.problem_code().code(), "invalid_login");
        assert_eq!(refused.retry_after(), None);
        assert_eq!(state.phase(), Phase::Stopped);
    }

    #[test]
    fn a_backoff_seen_by_the_fleet_is_waited_out_without_growing_this_one() {
        let mut state = LoginState::default();
        let wait = Duration::from_secs(42);
        let error = held_back(
            &mut state,
            LoginFailure::Unexpected {
                status: 503,
                detail: "SSO_SERVICE_DOWN".into(),
            },
            wait,
        );
        assert_eq!(error.problem_code().code(), "session_unavailable");
        assert_eq!(error.retry_after(), Some(wait));
        assert_eq!(state.consecutive_failures, 0, "no attempt was made here");
        let (until, _) = state.not_before.clone().expect("waiting");
        assert!(until > Instant::now() + wait / 2 && until <= Instant::now() + wait);
        assert_eq!(state.phase(), Phase::Idle);
    }

    #[test]
    fn a_waiter_of_a_vanished_task_gets_an_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (tx, rx) = watch::channel(None);
        assert!(running(&rx));
        drop(tx);
        assert!(!running(&rx));
        let error = rt.block_on(Joined::Wait(rx).wait()).unwrap_err();
        assert_eq!(error.problem_code().code(), "session_unavailable");
    }
}
