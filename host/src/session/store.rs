//! Where the state a fleet would share lives: each tenant's current session
//! and its login budget window. In memory by default ([`MemoryStore`]); a
//! store such as Redis can implement [`SessionStore`] so that several
//! gateway instances make one login per tenant and share one budget.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::Session;

/// Sessions and login budgets, by tenant name.
pub trait SessionStore: Send + Sync {
    /// The tenant's current session, if any.
    fn current(&self, tenant: &str) -> Option<Arc<Session>>;

    /// Makes `session` the tenant's current session.
    fn put(&self, tenant: &str, session: Arc<Session>);

    /// Drops the current session if it is still generation `generation`
    /// (compare-and-swap); true when it was.
    fn invalidate(&self, tenant: &str, generation: u64) -> bool;

    /// Drops the tenant's session whatever it is (its config changed).
    fn clear(&self, tenant: &str);

    /// Takes one login from the tenant's budget of `per_hour`, or says how
    /// long until one frees up.
    fn take_login(&self, tenant: &str, per_hour: u32, now: SystemTime) -> Result<(), Duration>;
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

    fn put(&self, tenant: &str, session: Arc<Session>) {
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), session);
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
