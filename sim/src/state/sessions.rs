//! Logins and sessions: password and grant logins, lockouts and the login
//! rate window, expiry and revocation.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::config::{Org, User};
use super::super::ids;
use super::{Inner, State};

/// A live session, as the API sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub org_id: String,
    pub user: User,
    expires_at: Instant,
    revoked: bool,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginError {
    InvalidLogin,
    MustUseSecurityToken,
    RateExceeded,
}

impl Session {
    /// Neither revoked nor expired.
    pub(super) fn is_live(&self) -> bool {
        !self.revoked && self.expires_at > Instant::now()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

impl State {
    /// Checks a username and password (+ security token) and opens a session.
    pub fn password_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, Session), LoginError> {
        let Some((org, user)) = self.find_user(username) else {
            self.counters.login_failures.fetch_add(1, Ordering::Relaxed);
            return Err(LoginError::InvalidLogin);
        };
        let lockout = self.config.limits.lockout_after_failures;
        let mut inner = self.lock();
        let failures = inner.failures.get(&user.username).copied().unwrap_or(0);
        let outcome = if lockout > 0 && failures >= lockout {
            Err(LoginError::InvalidLogin)
        } else {
            let token = user.security_token.as_deref().unwrap_or("");
            if password == format!("{}{token}", user.password) {
                Ok(())
            } else if !token.is_empty() && password == user.password {
                Err(LoginError::MustUseSecurityToken)
            } else {
                Err(LoginError::InvalidLogin)
            }
        };
        match outcome {
            Ok(()) => {
                inner.failures.remove(&user.username);
                self.open_session(&mut inner, org, user)
            }
            Err(e) => {
                *inner.failures.entry(user.username.clone()).or_default() += 1;
                self.counters.login_failures.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Opens a session for a user without a password (OAuth client credentials, JWT).
    pub fn grant_login(&self, username: &str) -> Result<(String, Session), LoginError> {
        let (org, user) = self.find_user(username).ok_or(LoginError::InvalidLogin)?;
        let mut inner = self.lock();
        self.open_session(&mut inner, org, user)
    }

    fn open_session(
        &self,
        inner: &mut Inner,
        org: &Org,
        user: &User,
    ) -> Result<(String, Session), LoginError> {
        let now = Instant::now();
        let recent = inner
            .recent_logins
            .entry(user.username.clone())
            .or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > HOUR)
        {
            recent.pop_front();
        }
        if recent.len() >= self.config.limits.logins_per_hour as usize {
            self.counters.login_failures.fetch_add(1, Ordering::Relaxed);
            return Err(LoginError::RateExceeded);
        }
        recent.push_back(now);
        *inner
            .logins_by_user
            .entry(user.username.clone())
            .or_default() += 1;
        self.counters.logins.fetch_add(1, Ordering::Relaxed);
        let id = ids::session_id(&org.id);
        let session = Session {
            org_id: org.id.clone(),
            user: user.clone(),
            expires_at: now + Duration::from_secs(self.config.limits.session_seconds),
            revoked: false,
        };
        inner.sessions.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session `id`, or None when unknown, expired or revoked.
    pub fn session(&self, id: &str) -> Option<Session> {
        let inner = self.lock();
        inner
            .sessions
            .get(id)
            .filter(|s| !s.revoked && s.expires_at > Instant::now())
            .cloned()
    }

    /// Expires every session (of `username`, when given); returns how many.
    pub fn expire_sessions(&self, username: Option<&str>) -> usize {
        let mut inner = self.lock();
        let mut n = 0;
        for s in inner.sessions.values_mut() {
            if !s.revoked && username.is_none_or(|u| s.user.username.eq_ignore_ascii_case(u)) {
                s.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// Clears lockouts and the login rate window (admin).
    pub fn unlock_users(&self) {
        let mut inner = self.lock();
        inner.failures.clear();
        inner.recent_logins.clear();
    }
}
