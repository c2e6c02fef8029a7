//! A [`SessionStore`] shared by a fleet of gateway instances through Redis
//! (`[store] kind = "redis"`): one login per session fleet-wide (a lock with
//! an owner token and an expiry), one login budget (a sliding window), one
//! stop after refused credentials, one failure backoff.
//!
//! Requests never wait on Redis: the session lives in process, as with
//! [`MemoryStore`], and Redis is only asked when a login is needed. A
//! session the API rejected is remembered by its fleet generation, and the
//! next login step drops exactly that generation in Redis (compare and
//! delete), so many failures on many instances cause one re-login. Each
//! change is published ([`events`]): the other instances drop their copy
//! of a replaced session, and their waiting login steps wake up. The org's
//! API usage is shared the same way ([`usage`]).
//!
//! When Redis cannot be reached, the instance falls back to its own state
//! (one login at a time, `login_budget_per_hour / instances` logins) with a
//! loud log line, and shares again as soon as Redis answers. Whoever can
//! write to Redis without the encryption key is treated the same way: every
//! value and message is authenticated ([`seal`]), and one that does not
//! verify, is too large or is out of time makes that login step fall back
//! (a message is ignored).

mod events;
mod login;
mod scripts;
mod seal;
mod usage;
mod wire;

pub use seal::{Binding, MAX_VALUE, SKEW, Sealer, Verified};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, Script};
use serde::{Deserialize, Serialize};

use super::store::{BeforeLogin, BoxFuture, StoreHealth};
use super::{MemoryStore, Session, SessionError, SessionSettings, SessionStore, UsageReport};
use crate::config::{self, store::parse_key};

/// How often a waiting instance looks for the session another one logs in.
const POLL: Duration = Duration::from_millis(25);
/// The same while the subscription to the fleet's events is up: a waiting
/// instance is woken by the publish, this poll only covers a lost message.
const POLL_LISTENING: Duration = Duration::from_millis(250);
/// How often a degraded instance checks whether Redis is back.
const PROBE: Duration = Duration::from_millis(250);
/// How long a stop after refused credentials is kept (a changed config
/// uses other keys at once).
const STOP_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How much longer a value's own expiry runs than its Redis TTL, so that
/// Redis drops it before any instance would find it expired.
const GRACE: Duration = Duration::from_secs(2);

/// What went wrong talking to the shared store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis: {0}")]
    Redis(String),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Seal(String),
    #[error("a stored session is unreadable: {0}")]
    Corrupt(String),
    /// A value or message that does not verify: written without the
    /// encryption key (tampered), under another key, or out of time.
    #[error("a value in Redis is refused: {0}")]
    Refused(String),
}

impl From<RedisError> for StoreError {
    fn from(e: RedisError) -> Self {
        // Redis errors name the command's failure, never its arguments.
        let text = e.to_string();
        if text.contains("invalid peer certificate") {
            return Self::Redis(format!(
                "{text} (the Redis server's TLS certificate is not trusted: set [store] ca_file to the CA that issued it)"
            ));
        }
        Self::Redis(text)
    }
}

/// The session as sealed into Redis (all of it, not just the id).
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    base_url: String,
    partner_path: String,
    metadata_path: Option<String>,
    api_version: String,
    org_id: String,
    user_id: String,
    /// Unix milliseconds.
    expires_ms: u64,
    refresh_ms: u64,
}

/// Which fleet session a process-local session is.
struct FleetRef {
    base: String,
    local: u64,
    /// The fleet generation of the session; for a session this instance
    /// logged in on its own, the time it did (unix ms): fleet generations
    /// are reserved no lower than the time, so those at or below it are
    /// older than this session.
    fleet: u64,
    /// Logged in here alone (its usage reports are not shared).
    alone: bool,
}

/// The Redis-backed store of one instance.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    sealer: Arc<Sealer>,
    /// With `rediss://`: the CA the server must chain to (the events'
    /// own connection uses it too).
    ca: Option<Vec<u8>>,
    instances: u32,
    /// Bound on each Redis round trip, reconnects included.
    bound: Duration,
    local: MemoryStore,
    /// Tenant → the fleet identity of its local session.
    fleet: Mutex<HashMap<String, FleetRef>>,
    /// Tenant → (key base, generation) the API rejected here.
    rejected: Mutex<HashMap<String, (String, u64)>>,
    /// Key base → this instance's running login (its lock and generation).
    tokens: Mutex<HashMap<String, login::Held>>,
    degraded: Arc<AtomicBool>,
    fallbacks: AtomicU64,
    /// Told of each login decided without Redis (the gateway's metrics).
    on_fallback: Option<OnFallback>,
    owner: String,
    attempts: AtomicU64,
    acquire: Script,
    publish: Script,
    fail: Script,
    session: Script,
    events: events::Events,
    usage: usage::Usage,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `t` in unix milliseconds (0 before the epoch).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis().try_into().unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl RedisStore {
    /// A store on `cfg`; connects lazily, so an unreachable Redis at start
    /// only means this instance starts on its own state (see [`Self::ping`]).
    pub fn new(cfg: &config::RedisStore) -> Result<Self, StoreError> {
        let key = parse_key(cfg.encryption_key.expose())
            .ok_or_else(|| StoreError::Seal("store.encryption_key is not 32 bytes".into()))?;
        let unusable = |e: RedisError| {
            StoreError::Redis(format!(
                "store.url is not a usable Redis URL ({:?}); the URL is not shown: it may hold a password",
                e.kind()
            ))
        };
        let client = match &cfg.ca {
            None => ::redis::Client::open(cfg.url.expose()).map_err(unusable)?,
            Some(ca) => {
                let roots = ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.clone()),
                };
                ::redis::Client::build_with_tls(cfg.url.expose(), roots).map_err(unusable)?
            }
        };
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.connect_timeout))
            .set_response_timeout(Some(cfg.command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(cfg.connect_timeout);
        let events = events::Events::new(client.clone());
        let conn = ConnectionManager::new_lazy_with_config(client, manager)?;
        let mut owner = [0u8; 8];
        aws_lc_rs::rand::fill(&mut owner)
            .map_err(|_| StoreError::Seal("no random bytes for an owner token".into()))?;
        Ok(Self {
            conn,
            prefix: cfg.prefix.clone(),
            sealer: Arc::new(Sealer::new(&key)?),
            ca: cfg.ca.clone(),
            instances: cfg.instances.max(1),
            bound: cfg.connect_timeout + cfg.command_timeout * 2,
            local: MemoryStore::default(),
            fleet: Mutex::default(),
            rejected: Mutex::default(),
            tokens: Mutex::default(),
            degraded: Arc::default(),
            fallbacks: AtomicU64::new(0),
            on_fallback: None,
            owner: hex::encode(owner),
            attempts: AtomicU64::new(0),
            acquire: Script::new(scripts::ACQUIRE),
            publish: Script::new(scripts::PUBLISH),
            fail: Script::new(scripts::FAIL),
            session: Script::new(scripts::SESSION),
            events,
            usage: usage::Usage::default(),
        })
    }

    /// Checks that Redis answers; logs loudly and falls back when not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let result = self
            .bounded(async move {
                ::redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map_err(StoreError::from)
            })
            .await;
        match &result {
            Ok(_) => self.recovered(),
            Err(e) => self.degrade("start", e),
        }
        result.map(|_| ())
    }

    /// True while this instance works on its own state (Redis unreachable).
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Logins decided without Redis so far.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    async fn bounded<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.bound, fut)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.bound)))
    }

    fn base(&self, s: &SessionSettings) -> String {
        format!(
            "{}:t:{}:{}",
            self.prefix,
            s.tenant,
            self.sealer.key_id(&s.fingerprint())
        )
    }

    fn degrade(&self, when: &str, error: &StoreError) {
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, when, "the session store (Redis) is unreachable: this instance now logs in on its own, one login at a time, with login_budget_per_hour / [store] instances; it shares again when Redis answers");
            self.probe();
        }
    }

    /// While degraded, pings Redis every [`PROBE`] until it answers (which
    /// also brings the connection back before the next login needs it).
    fn probe(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let degraded = Arc::downgrade(&self.degraded);
        let mut conn = self.conn.clone();
        let bound = self.bound;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(PROBE).await;
                let Some(flag) = degraded.upgrade() else {
                    return;
                };
                if !flag.load(Ordering::Relaxed) {
                    return;
                }
                let ping = ::redis::cmd("PING");
                if let Ok(Ok(_)) =
                    tokio::time::timeout(bound, ping.query_async::<String>(&mut conn)).await
                {
                    if flag.swap(false, Ordering::Relaxed) {
                        tracing::warn!("the session store (Redis) answers again: sessions, budgets and stops are shared again");
                    }
                    return;
                }
            }
        });
    }

    fn recovered(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "the session store (Redis) answers again: sessions, budgets and stops are shared again"
            );
        }
    }
}

impl SessionStore for RedisStore {
    fn current(&self, tenant: &str) -> Option<Arc<Session>> {
        self.local.current(tenant)
    }

    fn share_usage(&self, settings: &SessionSettings, report: UsageReport) {
        self.share_usage_report(settings, report);
    }

    fn fleet_usage(&self, tenant: &str) -> Option<UsageReport> {
        self.received_usage(tenant)
    }

    fn put(&self, tenant: &str, session: Arc<Session>) -> bool {
        self.local.put(tenant, session)
    }

    fn invalidate(&self, tenant: &str, generation: u64) -> bool {
        if !self.local.invalidate(tenant, generation) {
            return false;
        }
        let fleet = lock(&self.fleet);
        if let Some(r) = fleet.get(tenant).filter(|r| r.local == generation) {
            lock(&self.rejected).insert(tenant.to_string(), (r.base.clone(), r.fleet));
        }
        true
    }

    fn clear(&self, tenant: &str) {
        self.local.clear(tenant);
        lock(&self.fleet).remove(tenant);
    }

    fn health(&self) -> StoreHealth {
        StoreHealth {
            degraded: self.degraded(),
            fallback_logins: self.fallbacks(),
        }
    }

    /// The budget is taken in [`SessionStore::before_login`], fleet-wide.
    fn take_login(&self, _tenant: &str, _per_hour: u32, _now: SystemTime) -> Result<(), Duration> {
        Ok(())
    }

    fn before_login<'a>(
        &'a self,
        settings: &'a SessionSettings,
        epoch: u64,
    ) -> BoxFuture<'a, BeforeLogin> {
        Box::pin(self.before(settings, epoch))
    }

    fn after_login<'a>(
        &'a self,
        settings: &'a SessionSettings,
        result: &'a Result<Arc<Session>, SessionError>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.after(settings, result))
    }
}

/// What another part of the gateway needs to keep values of its own in the
/// fleet's Redis (the front door's tokens): the store's connection, its
/// [`Sealer`], its key prefix and the bound on each round trip.
#[derive(Clone)]
pub struct Shelf {
    pub conn: ConnectionManager,
    pub sealer: Arc<Sealer>,
    pub prefix: String,
    pub bound: Duration,
}

impl Shelf {
    /// `fut` (a round trip to Redis), failing with [`StoreError::Timeout`]
    /// past the store's bound.
    pub async fn bounded<T>(
        &self,
        fut: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.bound, fut).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Timeout(self.bound)),
        }
    }
}

/// What [`open`] gives: the session store, and with Redis the shelf the
/// rest of the gateway shares it through.
pub struct Opened {
    pub sessions: Arc<dyn SessionStore>,
    pub shelf: Option<Shelf>,
}

/// Called once for each login a shared store decided without Redis, where
/// it is decided (the gateway's metrics count them).
pub type OnFallback = Arc<dyn Fn() + Send + Sync>;

/// The store `[store]` asks for: in memory, or Redis (checked with a ping;
/// an unreachable Redis is logged and this instance starts on its own
/// state), telling `on_fallback` of each login it decides without Redis.
/// `[store]` is read at start only; a reload keeps the store.
pub async fn open(
    cfg: &config::Store,
    on_fallback: Option<OnFallback>,
) -> Result<Opened, StoreError> {
    match cfg {
        config::Store::Memory => Ok(Opened {
            sessions: Arc::new(MemoryStore::default()),
            shelf: None,
        }),
        config::Store::Redis(redis) => {
            let store = Arc::new(RedisStore {
                on_fallback,
                ..RedisStore::new(redis)?
            });
            if store.ping().await.is_ok() {
                tracing::info!(prefix = %redis.prefix, "sessions are shared through Redis");
            }
            store.listen();
            let shelf = Shelf {
                conn: store.conn.clone(),
                sealer: store.sealer.clone(),
                prefix: store.prefix.clone(),
                bound: store.bound,
            };
            Ok(Opened {
                sessions: store,
                shelf: Some(shelf),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> config::RedisStore {
        config::RedisStore {
            url: crate::secret::Secret::new(url),
            prefix: "t".into(),
            encryption_key: crate::secret::Secret::new("11".repeat(32)),
            connect_timeout: Duration::from_millis(200),
            command_timeout: Duration::from_millis(200),
            instances: 2,
            ca: None,
        }
    }

    #[tokio::test]
    async fn an_unreachable_redis_degrades_instead_of_failing() {
        // Nothing listens on port 1; rediss:// (TLS) is accepted as well.
        for url in ["redis://127.0.0.1:1/", "rediss://127.0.0.1:1/"] {
            let store = RedisStore::new(&cfg(url)).expect("a store");
            assert!(store.ping().await.is_err());
            assert!(store.health().degraded, "{url}");
        }
        let error = RedisStore::new(&cfg("redis://:secret@[nonsense"))
            .err()
            .expect("refused");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
