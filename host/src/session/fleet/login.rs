//! The login steps of [`RedisStore`]: before a login (take the fleet's
//! lock and a budget slot, or use the fleet's session, or learn the fleet's
//! stop or backoff; without Redis, this instance's share of the budget) and
//! after it (share the sealed session, or record the refusal or backoff,
//! and free the lock). Every value read is verified first ([`super::seal`]):
//! one that is not is "the store is unavailable" for this login.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::seal::{Binding, MAX_VALUE, ms};
use super::{
    FleetRef, GRACE, POLL, POLL_LISTENING, RedisStore, STOP_TTL, StoreError, Stored, lock, unix_ms,
};
use crate::salesforce::{Instance, LoginFailure};
use crate::secret::Secret;
use crate::session::store::BeforeLogin;
use crate::session::{GENERATIONS, Session, SessionError, SessionSettings, SessionStore};

/// A login attempt counts against the budget for an hour.
const HOUR: Duration = Duration::from_secs(3600);
/// The longest a lock is held: the longest `login_timeout_ms`, 2 s more,
/// and the grace.
const LONGEST_LOCK: Duration = Duration::from_secs(602).saturating_add(GRACE);
/// The longest backoff shared (the session layer's waits are minutes).
const LONGEST_BACKOFF: Duration = Duration::from_secs(3600);
/// The longest a shared session is handed out (Salesforce's longest).
const LONGEST_SESSION: Duration = Duration::from_secs(86_400);
/// The most characters of a refusal or failure reason shared.
const REASON_CHARS: usize = 1000;

/// This instance's running login: its signed lock value and the
/// generation reserved for the session it makes.
pub(super) struct Held {
    lock: String,
    generation: u64,
}

/// What became of the fleet's session.
enum Adopted {
    Session(Arc<Session>),
    /// Past its refresh time: to be dropped like a rejected one.
    Stale,
    /// A newer session is in place here.
    Kept,
}

/// A generation as the scripts write it (decimal, no sign, no padding).
pub(super) fn generation(text: &str) -> Result<u64, StoreError> {
    text.parse::<u64>()
        .ok()
        .filter(|g| *g > 0 && g.to_string() == text)
        .ok_or_else(|| StoreError::Refused("a generation that is not one".into()))
}

impl RedisStore {
    /// Decides a login without Redis: this instance's share of the budget.
    fn fallback(&self, s: &SessionSettings, error: &StoreError) -> BeforeLogin {
        match error {
            StoreError::Refused(_) => {
                tracing::error!(tenant = %s.tenant, %error, "the fleet's state of this tenant in Redis does not verify (written without this encryption_key: tampered, or an instance with another key, or a clock far off): this login is decided here alone, as without Redis")
            }
            _ => self.degrade("login", error),
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        if let Some(counted) = &self.on_fallback {
            counted();
        }
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

    /// `value` of `key` when it verifies now and expires within `longest`.
    fn verified<'v>(
        &self,
        key: &str,
        value: &'v str,
        longest: Duration,
    ) -> Result<super::Verified<'v>, StoreError> {
        let now = unix_ms(SystemTime::now());
        self.sealer.verify(Binding::key(key), value, now, longest)
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
            let (answer, lock_value) = match answer {
                Ok(answer) => answer,
                Err(e) => return self.fallback(s, &e),
            };
            self.recovered();
            if rejected != 0 {
                // That generation is gone from Redis now (or was replaced).
                lock(&self.rejected).remove(&s.tenant);
            }
            match self.decide(s, epoch, &base, &answer) {
                Ok(Some(decided)) => {
                    if let (BeforeLogin::Login, Some(reserved)) = (&decided, answer.get(1)) {
                        match generation(reserved) {
                            Ok(generation) => {
                                lock(&self.tokens).insert(
                                    base,
                                    Held {
                                        lock: lock_value,
                                        generation,
                                    },
                                );
                            }
                            Err(e) => return self.fallback(s, &e),
                        }
                    }
                    return decided;
                }
                Ok(None) => {}
                Err(e) => return self.fallback(s, &e),
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

    /// What the acquire script's `answer` means, its values verified: a
    /// decision, or `None` (wait: another instance is logging in).
    fn decide(
        &self,
        s: &SessionSettings,
        epoch: u64,
        base: &str,
        answer: &[String],
    ) -> Result<Option<BeforeLogin>, StoreError> {
        let field = |i: usize| answer.get(i).map_or("", String::as_str);
        match field(0) {
            "login" => Ok(Some(BeforeLogin::Login)),
            "session" => {
                let fleet = generation(field(2))?;
                match self.adopt(s, epoch, base, field(1), fleet)? {
                    Adopted::Session(session) => Ok(Some(BeforeLogin::Shared(session))),
                    Adopted::Stale => {
                        // The next step drops it in Redis, as a rejected one.
                        lock(&self.rejected).insert(s.tenant.clone(), (base.to_string(), fleet));
                        Ok(None)
                    }
                    Adopted::Kept => Ok(None),
                }
            }
            "stop" => {
                let stop = self.verified(&format!("{base}:stop"), field(1), STOP_TTL + GRACE)?;
                Ok(Some(BeforeLogin::Refuse(stopped(stop.text))))
            }
            "backoff" => {
                let value = self.verified(
                    &format!("{base}:backoff"),
                    field(2),
                    LONGEST_BACKOFF + GRACE,
                )?;
                let now = unix_ms(SystemTime::now());
                let ms = field(1)
                    .parse::<u64>()
                    .unwrap_or(u64::MAX)
                    .min(value.expires_ms.saturating_sub(now))
                    .max(1);
                Ok(Some(BeforeLogin::Wait(
                    backoff(value.text, ms),
                    Duration::from_millis(ms),
                )))
            }
            "wait" => {
                self.verified(&format!("{base}:lock"), field(1), LONGEST_LOCK)?;
                Ok(None)
            }
            "budget" => {
                let key = format!("{base}:budget");
                let mut oldest = u64::MAX;
                for pair in answer[1..].chunks(2) {
                    let [entry, score] = pair else {
                        return Err(StoreError::Refused("a budget entry without a time".into()));
                    };
                    let entry = self.verified(&key, entry, HOUR)?;
                    let at = entry.expires_ms - ms(HOUR).min(entry.expires_ms);
                    if score.parse::<u64>().ok() != Some(at) {
                        return Err(StoreError::Refused("a budget entry moved in time".into()));
                    }
                    oldest = oldest.min(at);
                }
                if oldest == u64::MAX {
                    return Err(StoreError::Refused(
                        "an empty budget said to be spent".into(),
                    ));
                }
                let now = unix_ms(SystemTime::now());
                let wait = (oldest + ms(HOUR)).saturating_sub(now);
                Ok(Some(BeforeLogin::Refuse(LoginFailure::RateLimited {
                    code: "LOGIN_BUDGET".into(),
                    message: format!(
                        "the fleet's budget of {} logins per hour (login_budget_per_hour) is spent; one frees up in {} s",
                        s.login_budget_per_hour,
                        wait / 1000
                    ),
                })))
            }
            "oversize" => Err(StoreError::Refused(
                "a value larger than any the fleet writes".into(),
            )),
            _ => Err(StoreError::Refused("an answer no script gives".into())),
        }
    }

    /// One run of the acquire script: its answer and the signed lock value
    /// it tried to take.
    async fn acquire_once(
        &self,
        s: &SessionSettings,
        base: &str,
        token: &str,
        lock_ttl: Duration,
        rejected: u64,
    ) -> Result<(Vec<String>, String), StoreError> {
        let now = SystemTime::now();
        let now_ms = unix_ms(now);
        let lock_value = self.sealer.sign(
            Binding::key(&format!("{base}:lock")),
            unix_ms(now + lock_ttl + GRACE),
            token,
        );
        let entry = self.sealer.sign(
            Binding::key(&format!("{base}:budget")),
            now_ms + ms(HOUR),
            token,
        );
        let drop = if rejected == 0 {
            String::new()
        } else {
            self.message(&format!("drop {rejected} {base}"))
        };
        let mut conn = self.conn.clone();
        let mut call = self.acquire.prepare_invoke();
        for suffix in ["session", "lock", "stop", "backoff", "budget", "gen"] {
            call.key(format!("{base}:{suffix}"));
        }
        call.arg(&lock_value)
            .arg(ms(lock_ttl))
            .arg(now_ms)
            .arg(s.login_budget_per_hour)
            .arg(rejected)
            .arg(self.channel())
            .arg(drop)
            .arg(entry)
            .arg(MAX_VALUE);
        let answer = self
            .bounded(async {
                call.invoke_async::<Vec<String>>(&mut conn)
                    .await
                    .map_err(StoreError::from)
            })
            .await?;
        Ok((answer, lock_value))
    }

    /// The session sealed in `blob` under `key` for generation `fleet`.
    pub(super) fn open_session(
        &self,
        key: &str,
        fleet: u64,
        blob: &str,
    ) -> Result<Stored, StoreError> {
        let binding = Binding {
            key,
            generation: fleet,
        };
        let now = unix_ms(SystemTime::now());
        let plain = self
            .sealer
            .open(binding, blob, now, LONGEST_SESSION + GRACE)?;
        serde_json::from_slice(&plain).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Makes the fleet's session (sealed `blob`) this instance's current one.
    fn adopt(
        &self,
        s: &SessionSettings,
        epoch: u64,
        base: &str,
        blob: &str,
        fleet: u64,
    ) -> Result<Adopted, StoreError> {
        let stored = self.open_session(&format!("{base}:session"), fleet, blob)?;
        let now = unix_ms(SystemTime::now());
        if stored.refresh_ms <= now {
            return Ok(Adopted::Stale);
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
            return Ok(Adopted::Kept);
        }
        lock(&self.fleet).insert(
            s.tenant.clone(),
            FleetRef {
                base: base.to_string(),
                local,
                fleet,
                alone: false,
            },
        );
        tracing::info!(tenant = %s.tenant, generation = local, fleet_generation = fleet, "using the session another instance logged in");
        Ok(Adopted::Session(session))
    }

    pub(super) async fn after(
        &self,
        s: &SessionSettings,
        result: &Result<Arc<Session>, SessionError>,
    ) {
        let base = self.base(s);
        let held = lock(&self.tokens).remove(&base);
        let outcome = match (result, held) {
            // A login made without the fleet's lock (Redis was away, or its
            // state did not verify) stays this instance's: shared late, it
            // could hand the fleet a session the API has dropped since,
            // which no instance can name as rejected.
            // It is newer than any fleet session of a generation up to now:
            // when the API rejects it, those are taken for dead too.
            (Ok(session), None) => {
                lock(&self.fleet).insert(
                    s.tenant.clone(),
                    FleetRef {
                        base,
                        local: session.generation,
                        fleet: unix_ms(SystemTime::now()),
                        alone: true,
                    },
                );
                Ok(())
            }
            (Err(_), None) => Ok(()),
            (Ok(session), Some(held)) => self.share(s, &base, &held, session).await,
            (Err(error), Some(held)) => self.record_failure(&base, &held, error).await,
        };
        if let Err(e) = outcome {
            self.degrade("after a login", &e);
        }
    }

    /// Records a failed login for the fleet (a stop or a backoff) and frees
    /// the lock.
    async fn record_failure(
        &self,
        base: &str,
        held: &Held,
        error: &SessionError,
    ) -> Result<(), StoreError> {
        let (suffix, value, ttl) = match error {
            SessionError::InvalidLogin { code, message } => (
                "stop",
                serde_json::json!({ "code": cap(code), "message": cap(message) }),
                STOP_TTL,
            ),
            SessionError::RateLimited {
                reason,
                retry_after,
            } => (
                "backoff",
                serde_json::json!({ "kind": "rate_limited", "reason": cap(reason) }),
                *retry_after,
            ),
            SessionError::Unavailable {
                reason,
                retry_after,
            } => (
                "backoff",
                serde_json::json!({ "kind": "unavailable", "reason": cap(reason) }),
                *retry_after,
            ),
        };
        let longest = if suffix == "stop" {
            STOP_TTL
        } else {
            LONGEST_BACKOFF
        };
        let ttl = ttl.min(longest).max(Duration::from_millis(1));
        let key = format!("{base}:{suffix}");
        let signed = self.sealer.sign(
            Binding::key(&key),
            unix_ms(SystemTime::now() + ttl + GRACE),
            &value.to_string(),
        );
        let mut conn = self.conn.clone();
        let mut call = self.fail.prepare_invoke();
        call.key(format!("{base}:lock"))
            .key(&key)
            .arg(&held.lock)
            .arg(signed)
            .arg(ms(ttl))
            .arg(self.channel())
            .arg(self.message(&format!("fail 0 {base}")));
        self.bounded(async {
            call.invoke_async::<i64>(&mut conn)
                .await
                .map(|_| ())
                .map_err(StoreError::from)
        })
        .await
    }

    /// Seals this instance's new session into Redis for the fleet, under
    /// the generation its login reserved.
    async fn share(
        &self,
        s: &SessionSettings,
        base: &str,
        held: &Held,
        session: &Arc<Session>,
    ) -> Result<(), StoreError> {
        let left = session
            .refresh_at
            .saturating_duration_since(Instant::now())
            .min(LONGEST_SESSION);
        let refresh_ms = unix_ms(SystemTime::now() + left);
        let stored = Stored {
            id: session.id.expose().to_string(),
            base_url: session.instance.base_url.to_string(),
            partner_path: session.instance.partner_path.clone(),
            metadata_path: session.instance.metadata_path.clone(),
            api_version: session.instance.api_version.clone(),
            org_id: session.instance.org_id.clone(),
            user_id: session.user_id.clone(),
            expires_ms: unix_ms(session.expires_at),
            refresh_ms,
        };
        let plain = serde_json::to_vec(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = format!("{base}:session");
        let binding = Binding {
            key: &key,
            generation: held.generation,
        };
        let blob = self.sealer.seal(binding, refresh_ms + ms(GRACE), &plain)?;
        let generation = held.generation.to_string();
        let mut conn = self.conn.clone();
        let mut call = self.publish.prepare_invoke();
        call.key(&key)
            .key(format!("{base}:gen"))
            .key(format!("{base}:lock"))
            .arg(blob)
            .arg(ms(left).max(1))
            .arg(&held.lock)
            .arg(&generation)
            .arg(self.message(&format!("new {generation} {base}")))
            .arg(self.channel());
        let stored = self
            .bounded(async {
                call.invoke_async::<i64>(&mut conn)
                    .await
                    .map_err(StoreError::from)
            })
            .await?;
        self.recovered();
        if stored == 1 {
            lock(&self.fleet).insert(
                s.tenant.clone(),
                FleetRef {
                    base: base.to_string(),
                    local: session.generation,
                    fleet: held.generation,
                    alone: false,
                },
            );
        }
        Ok(())
    }
}

/// At most [`REASON_CHARS`] characters of `text`.
fn cap(text: &str) -> String {
    text.chars().take(REASON_CHARS).collect()
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
