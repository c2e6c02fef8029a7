//! The login steps of [`RedisStore`]: before a login (take the fleet's
//! lock and a budget slot, or use the fleet's session, or learn the fleet's
//! stop or backoff; without Redis, this instance's share of the budget) and
//! after it (share the sealed session, or record the refusal or backoff,
//! and free the lock).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::{
    FleetRef, POLL, POLL_LISTENING, RedisStore, STOP_TTL, StoreError, Stored, lock, unix_ms,
};
use crate::salesforce::{Instance, LoginFailure};
use crate::secret::Secret;
use crate::session::store::BeforeLogin;
use crate::session::{GENERATIONS, Session, SessionError, SessionSettings, SessionStore};

impl RedisStore {
    /// Decides a login without Redis: this instance's share of the budget.
    fn fallback(&self, s: &SessionSettings, error: &StoreError) -> BeforeLogin {
        self.degrade("login", error);
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let share = (s.login_budget_per_hour / self.instances).max(1);
        match self.local.take_login(&s.tenant, share, SystemTime::now()) {
            Ok(()) => BeforeLogin::Login,
            Err(wait) => BeforeLogin::Refuse(LoginFailure::RateLimited {
                code: "LOGIN_BUDGET".into(),
                message: format!(
                    "this instance's share ({share}) of login_budget_per_hour is spent while Redis is unreachable; one frees up in {} s",
                    wait.as_secs()
                ),
            }),
        }
    }

    pub(super) async fn before(&self, s: &SessionSettings, epoch: u64) -> BeforeLogin {
        let base = self.base(s);
        let deadline = Instant::now() + s.login_timeout * 2 + Duration::from_secs(2);
        let lock_ttl = s.login_timeout + Duration::from_secs(2);
        loop {
            // Armed before asking Redis: a message sent meanwhile still wakes.
            let woken = self.events.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let rejected = lock(&self.rejected)
                .get(&s.tenant)
                .filter(|(b, _)| *b == base)
                .map_or(0, |(_, generation)| *generation);
            let n = self.attempts.fetch_add(1, Ordering::Relaxed);
            let token = format!("{}-{n}", self.owner);
            let mut answer = self
                .acquire_once(s, &base, &token, lock_ttl, rejected)
                .await;
            if answer.is_err() {
                // A connection Redis dropped (a restart) is replaced at once.
                answer = self
                    .acquire_once(s, &base, &token, lock_ttl, rejected)
                    .await;
            }
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => return self.fallback(s, &e),
            };
            self.recovered();
            if rejected != 0 {
                // That generation is gone from Redis now (or was replaced).
                lock(&self.rejected).remove(&s.tenant);
            }
            let field = |i: usize| answer.get(i).cloned().flatten().unwrap_or_default();
            match field(0).as_str() {
                "login" => {
                    lock(&self.tokens).insert(base, token);
                    return BeforeLogin::Login;
                }
                "session" => {
                    let generation = field(2).parse().unwrap_or(0);
                    match self.adopt(s, epoch, &base, &field(1), generation) {
                        Ok(Some(session)) => return BeforeLogin::Shared(session),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::error!(tenant = %s.tenant, error = %e, "cannot use the fleet's session (do all instances use the same store.encryption_key?)");
                            return self.fallback(s, &e);
                        }
                    }
                }
                "stop" => return BeforeLogin::Refuse(stopped(&field(1))),
                "backoff" => {
                    let ms = field(1).parse().unwrap_or(1000).max(1);
                    return BeforeLogin::Wait(backoff(&field(2), ms), Duration::from_millis(ms));
                }
                "budget" => {
                    let ms: u64 = field(1).parse().unwrap_or(0);
                    return BeforeLogin::Refuse(LoginFailure::RateLimited {
                        code: "LOGIN_BUDGET".into(),
                        message: format!(
                            "the fleet's budget of {} logins per hour (login_budget_per_hour) is spent; one frees up in {} s",
                            s.login_budget_per_hour,
                            ms / 1000
                        ),
                    });
                }
                _ => {}
            }
            // Another instance holds the lock: its session comes (published:
            // this wakes at once; polled in case a message is lost), or its
            // lock expires and this one takes it.
            if Instant::now() >= deadline {
                return BeforeLogin::Refuse(LoginFailure::Unexpected {
                    status: 0,
                    detail: "another instance of the fleet is logging in and no session appeared in time".into(),
                });
            }
            let poll = if self.events.listening() {
                POLL_LISTENING
            } else {
                POLL
            };
            let _ = tokio::time::timeout(poll, woken).await;
        }
    }

    /// One run of the acquire script.
    async fn acquire_once(
        &self,
        s: &SessionSettings,
        base: &str,
        token: &str,
        lock_ttl: Duration,
        rejected: u64,
    ) -> Result<Vec<Option<String>>, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.acquire.prepare_invoke();
        for suffix in ["session", "lock", "stop", "backoff", "budget"] {
            call.key(format!("{base}:{suffix}"));
        }
        call.arg(token)
            .arg(lock_ttl.as_millis() as u64)
            .arg(unix_ms(SystemTime::now()))
            .arg(s.login_budget_per_hour)
            .arg(rejected)
            .arg(self.channel())
            .arg(base);
        self.bounded(async {
            call.invoke_async::<Vec<Option<String>>>(&mut conn)
                .await
                .map_err(StoreError::from)
        })
        .await
    }

    /// Makes the fleet's session (sealed `blob`) this instance's current one.
    fn adopt(
        &self,
        s: &SessionSettings,
        epoch: u64,
        base: &str,
        blob: &str,
        fleet: u64,
    ) -> Result<Option<Arc<Session>>, StoreError> {
        let plain = self.sealer.open(blob, &format!("{base}:session"))?;
        let stored: Stored =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = unix_ms(SystemTime::now());
        if stored.refresh_ms <= now {
            return Ok(None);
        }
        let instance = Instance {
            base_url: stored
                .base_url
                .parse()
                .map_err(|_| StoreError::Corrupt("instance URL".into()))?,
            partner_path: stored.partner_path,
            metadata_path: stored.metadata_path,
            api_version: stored.api_version,
            org_id: stored.org_id,
        };
        let local = GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1;
        let session = Arc::new(Session {
            id: Secret::new(stored.id),
            instance,
            user_id: stored.user_id,
            refresh_at: Instant::now() + Duration::from_millis(stored.refresh_ms - now),
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_millis(stored.expires_ms),
            generation: local,
            epoch,
        });
        if !self.local.put(&s.tenant, session.clone()) {
            return Ok(None);
        }
        lock(&self.fleet).insert(
            s.tenant.clone(),
            FleetRef {
                base: base.to_string(),
                local,
                fleet,
            },
        );
        tracing::info!(tenant = %s.tenant, generation = local, fleet_generation = fleet, "using the session another instance logged in");
        Ok(Some(session))
    }

    pub(super) async fn after(
        &self,
        s: &SessionSettings,
        result: &Result<Arc<Session>, SessionError>,
    ) {
        let base = self.base(s);
        let token = lock(&self.tokens).remove(&base).unwrap_or_default();
        let outcome = match result {
            // A login made without the fleet's lock (Redis was away) stays
            // this instance's: shared late, it could hand the fleet a
            // session the API has dropped since, which no instance can
            // name as rejected.
            Ok(_) if token.is_empty() => Ok(()),
            Ok(session) => self.share(s, &base, &token, session).await,
            Err(error) => {
                let (suffix, value, ttl) = match error {
                    SessionError::InvalidLogin { code, message } => (
                        "stop",
                        serde_json::json!({ "code": code, "message": message }).to_string(),
                        STOP_TTL,
                    ),
                    SessionError::RateLimited {
                        reason,
                        retry_after,
                    } => (
                        "backoff",
                        serde_json::json!({ "kind": "rate_limited", "reason": reason }).to_string(),
                        *retry_after,
                    ),
                    SessionError::Unavailable {
                        reason,
                        retry_after,
                    } => (
                        "backoff",
                        serde_json::json!({ "kind": "unavailable", "reason": reason }).to_string(),
                        *retry_after,
                    ),
                };
                let mut conn = self.conn.clone();
                let mut call = self.fail.prepare_invoke();
                call.key(format!("{base}:lock"))
                    .key(format!("{base}:{suffix}"))
                    .arg(&token)
                    .arg(value)
                    .arg(ttl.as_millis().max(1) as u64)
                    .arg(self.channel())
                    .arg(&base);
                self.bounded(async {
                    call.invoke_async::<i64>(&mut conn)
                        .await
                        .map(|_| ())
                        .map_err(StoreError::from)
                })
                .await
            }
        };
        if let Err(e) = outcome {
            self.degrade("after a login", &e);
        }
    }

    /// Seals this instance's new session into Redis for the fleet.
    async fn share(
        &self,
        s: &SessionSettings,
        base: &str,
        token: &str,
        session: &Arc<Session>,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let left = session.refresh_at.saturating_duration_since(now);
        let stored = Stored {
            id: session.id.expose().to_string(),
            base_url: session.instance.base_url.to_string(),
            partner_path: session.instance.partner_path.clone(),
            metadata_path: session.instance.metadata_path.clone(),
            api_version: session.instance.api_version.clone(),
            org_id: session.instance.org_id.clone(),
            user_id: session.user_id.clone(),
            expires_ms: unix_ms(session.expires_at),
            refresh_ms: unix_ms(SystemTime::now() + left),
        };
        let plain = serde_json::to_vec(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let blob = self.sealer.seal(&plain, &format!("{base}:session"))?;
        let mut conn = self.conn.clone();
        let mut call = self.publish.prepare_invoke();
        call.key(format!("{base}:session"))
            .key(format!("{base}:gen"))
            .key(format!("{base}:lock"))
            .arg(blob)
            .arg((left.as_millis() as u64).max(1))
            .arg(token)
            .arg(unix_ms(SystemTime::now()))
            .arg(self.channel())
            .arg(base);
        let fleet = self
            .bounded(async {
                call.invoke_async::<u64>(&mut conn)
                    .await
                    .map_err(StoreError::from)
            })
            .await?;
        self.recovered();
        lock(&self.fleet).insert(
            s.tenant.clone(),
            FleetRef {
                base: base.to_string(),
                local: session.generation,
                fleet,
            },
        );
        Ok(())
    }
}

/// The backoff another instance recorded (`json`), `ms` milliseconds from
/// its end: the same kind of failure, so callers see the same error code.
fn backoff(json: &str, ms: u64) -> LoginFailure {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let reason = value
        .get("reason")
        .and_then(|v| v.as_str())
        .unwrap_or("a login failed");
    let message = format!(
        "{reason} (seen by an instance of the fleet; every instance waits another {ms} ms before the next login)"
    );
    match value.get("kind").and_then(|v| v.as_str()) {
        Some("rate_limited") => LoginFailure::RateLimited {
            code: "FLEET_BACKOFF".into(),
            message,
        },
        _ => LoginFailure::Unexpected {
            status: 0,
            detail: message,
        },
    }
}

/// The refusal another instance recorded.
fn stopped(json: &str) -> LoginFailure {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let text = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string()
    };
    LoginFailure::Rejected {
        code: text("code"),
        message: format!(
            "{} (refused on an instance of the fleet; every instance stops logging in until the credentials change)",
            text("message")
        ),
    }
}
