//! Where the state a fleet would share lives: each tenant's current session
//! and its login budget window. In memory by default ([`MemoryStore`]); a
//! store such as Redis can implement [`SessionStore`] so that several
//! gateway instances make one login per tenant and share one budget
//! ([`super::fleet::RedisStore`]).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::{Session, SessionError, SessionSettings};
use crate::salesforce::LoginFailure;

/// A boxed future, so that [`SessionStore`] stays usable as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A shared store's state, for operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreHealth {
    /// True while the store cannot be reached and this instance works on
    /// its own state.
    pub degraded: bool,
    /// Logins decided without the shared store so far.
    pub fallback_logins: u64,
}

/// What a store says to a login task about to log in.
pub enum BeforeLogin {
    /// Go ahead (for a shared store: this instance holds the fleet's login
    /// lock until [`SessionStore::after_login`]).
    Login,
    /// Another instance logged in: use its session (already current here).
    Shared(Arc<Session>),
    /// No login now: refused credentials or a spent budget.
    Refuse(LoginFailure),
    /// No login before the fleet's backoff ends, in the given time: a
    /// failure another instance saw. Not this instance's failure: its own
    /// backoff does not grow.
    Wait(LoginFailure, Duration),
}

/// Sessions and login budgets, by tenant name.
pub trait SessionStore: Send + Sync {
    /// The tenant's current session, if any.
    fn current(&self, tenant: &str) -> Option<Arc<Session>>;

    /// Makes `session` the tenant's current session, unless the current one
    /// has a larger [`Session::epoch`] (a login for a replaced tenant config
    /// finishing late must not clobber the new config's session); true when
    /// it was stored.
    fn put(&self, tenant: &str, session: Arc<Session>) -> bool;

    /// Drops the current session if it is still generation `generation`
    /// (compare-and-swap); true when it was.
    fn invalidate(&self, tenant: &str, generation: u64) -> bool;

    /// Drops the tenant's session whatever it is (its config changed).
    fn clear(&self, tenant: &str);

    /// Takes one login from the tenant's budget of `per_hour`, or says how
    /// long until one frees up.
    fn take_login(&self, tenant: &str, per_hour: u32, now: SystemTime) -> Result<(), Duration>;

    /// Shares the API usage an answer reported, so that the other instances
    /// of a fleet count against it; a process-local store has no one to tell.
    fn share_usage(&self, _settings: &SessionSettings, _report: UsageReport) {}

    /// The latest API usage another instance shared for `tenant`, from
    /// memory (never a round trip).
    fn fleet_usage(&self, _tenant: &str) -> Option<UsageReport> {
        None
    }

    /// How a shared store is doing, for `/metrics`; a process-local store
    /// is always fine.
    fn health(&self) -> StoreHealth {
        StoreHealth::default()
    }

    /// Called by a login task before it logs in, with its manager's epoch.
    /// A process-local store has nothing to say.
    fn before_login<'a>(
        &'a self,
        _settings: &'a SessionSettings,
        _epoch: u64,
    ) -> BoxFuture<'a, BeforeLogin> {
        Box::pin(std::future::ready(BeforeLogin::Login))
    }

    /// Called by a login task after a login that [`SessionStore::before_login`]
    /// allowed, with its result (the session is already `put`).
    fn after_login<'a>(
        &'a self,
        _settings: &'a SessionSettings,
        _result: &'a Result<Arc<Session>, SessionError>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// An org's API usage as Salesforce reported it in an answer
/// (`LimitInfoHeader`, `Sforce-Limit-Info`), and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageReport {
    pub used: u64,
    pub limit: u64,
    pub at: SystemTime,
}

const HOUR: Duration = Duration::from_secs(3600);

/// The in-memory store of one gateway process.
#[derive(Default)]
pub struct MemoryStore {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    logins: Mutex<HashMap<String, VecDeque<SystemTime>>>,
}

impl SessionStore for MemoryStore {
    fn current(&self, tenant: &str) -> Option<Arc<Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .cloned()
    }

    fn put(&self, tenant: &str, session: Arc<Session>) -> bool {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if sessions
            .get(tenant)
            .is_some_and(|current| current.epoch > session.epoch)
        {
            return false;
        }
        sessions.insert(tenant.to_string(), session);
        true
    }

    fn invalidate(&self, tenant: &str, generation: u64) -> bool {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        if sessions
            .get(tenant)
            .is_some_and(|s| s.generation == generation)
        {
            sessions.remove(tenant);
            return true;
        }
        false
    }

    fn clear(&self, tenant: &str) {
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
    }

    fn take_login(&self, tenant: &str, per_hour: u32, now: SystemTime) -> Result<(), Duration> {
        let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
        let recent = logins.entry(tenant.to_string()).or_default();
        let age = |t: &SystemTime| now.duration_since(*t).unwrap_or_default();
        while recent.front().is_some_and(|t| age(t) >= HOUR) {
            recent.pop_front();
        }
        if recent.len() >= per_hour as usize {
            let oldest = recent.front().map(age).unwrap_or_default();
            return Err(HOUR.saturating_sub(oldest));
        }
        recent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn session(generation: u64, epoch: u64) -> Arc<Session> {
        let instance = crate::salesforce::Instance::from_instance_url(
            "https://x.example",
            "62.0",
            "00D000000000001",
        )
        .unwrap();
        Arc::new(Session {
            id: crate::secret::Secret::new("s"),
            instance,
            user_id: String::new(),
            refresh_at: Instant::now() + Duration::from_secs(60),
            expires_at: SystemTime::now() + Duration::from_secs(60),
            generation,
            epoch,
        })
    }

    #[test]
    fn a_late_login_of_a_replaced_config_does_not_clobber_the_new_one() {
        let store = MemoryStore::default();
        assert!(store.put("a", session(1, 1)));
        assert!(store.put("a", session(2, 2)), "a newer config replaces");
        assert!(!store.put("a", session(3, 1)), "an older config does not");
        assert_eq!(store.current("a").unwrap().generation, 2);
        assert!(
            store.put("a", session(4, 2)),
            "a re-login of the same config"
        );
        assert!(store.invalidate("a", 4));
        assert!(store.put("a", session(5, 1)), "nothing newer to protect");
    }

    #[test]
    fn the_budget_frees_up_after_an_hour() {
        let store = MemoryStore::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(store.take_login("a", 2, t0).is_ok());
        assert!(
            store
                .take_login("a", 2, t0 + Duration::from_secs(10))
                .is_ok()
        );
        let wait = store
            .take_login("a", 2, t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(3580));
        assert!(
            store.take_login("b", 2, t0).is_ok(),
            "budgets are per tenant"
        );
        assert!(store.take_login("a", 2, t0 + HOUR).is_ok());
    }
}
