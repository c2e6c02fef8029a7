//! What the session layer needs of a tenant ([`SessionSettings`]), built by
//! the gateway (or `twoway login`) from the config, and the fingerprint that
//! says whether two settings log in as the same session.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::config::Auth;

/// One tenant's login: where, as whom, and the policy around it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    /// The tenant's name (store key, logs).
    pub tenant: String,
    pub login_url: http::Uri,
    pub api_version: String,
    /// The strategy and its credentials (secret values included).
    pub auth: Auth,
    /// Session lifetime when the login does not say (OAuth tokens).
    pub session_seconds: u64,
    /// Longest one login may take, whatever its callers do.
    pub login_timeout: Duration,
    pub login_budget_per_hour: u32,
}

impl SessionSettings {
    /// SHA-256 (hex) of what makes a session: the login URL, the API version
    /// and the auth settings with the secret values themselves, so a rotated
    /// password changes it while a new budget or timeout does not. Two
    /// settings with the same fingerprint can share a session (a reload
    /// keeps it; a fleet store may key shared sessions by it). The tenant
    /// name is not part of it. It is derived from secrets: never log it.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        let mut field = |value: &str| {
            hash.update((value.len() as u64).to_be_bytes());
            hash.update(value.as_bytes());
        };
        field("twoway-session-v1");
        field(&self.login_url.to_string());
        field(&self.api_version);
        field(self.auth.kind());
        for value in super::strategy::plan(&self.auth).values {
            field(value);
        }
        hex::encode(hash.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn soap(password: &str, token: Option<&str>) -> SessionSettings {
        SessionSettings {
            tenant: "t".into(),
            login_url: "https://login.example".parse().unwrap(),
            api_version: "62.0".into(),
            auth: Auth::SoapLogin {
                username: "u@example.com".into(),
                password: Secret::new(password),
                security_token: token.map(Secret::new),
            },
            session_seconds: 7200,
            login_timeout: Duration::from_secs(30),
            login_budget_per_hour: 10,
        }
    }

    #[test]
    fn the_fingerprint_follows_the_session_not_the_policy() {
        let base = soap("pw", Some("TOKEN"));
        let same = base.fingerprint();
        assert_eq!(same.len(), 64);
        assert!(!same.contains("pw") && !same.contains("TOKEN"));
        let policy = SessionSettings {
            tenant: "renamed".into(),
            login_budget_per_hour: 1,
            login_timeout: Duration::from_secs(1),
            session_seconds: 60,
            ..base.clone()
        };
        assert_eq!(policy.fingerprint(), same, "policy is not the session");
        for other in [
            soap("pw2", Some("TOKEN")),
            soap("pw", Some("TOKEN2")),
            soap("pw", None),
            soap("pw", Some("")),
            SessionSettings {
                api_version: "61.0".into(),
                ..base.clone()
            },
            SessionSettings {
                login_url: "https://test.example".parse().unwrap(),
                ..base.clone()
            },
        ] {
            assert_ne!(other.fingerprint(), same, "{other:?}");
        }
        // Field boundaries are kept: moving text across fields changes it.
        assert_ne!(soap("pwT", Some("OKEN")).fingerprint(), same);
    }

    /// The fingerprint is stable across versions, so that the instances of a
    /// fleet in a rolling upgrade share sessions: values pinned as computed
    /// before `Auth` was read in one place (`strategy::plan`).
    #[test]
    fn the_fingerprint_is_stable() {
        assert_eq!(
            soap("pw", Some("TOKEN")).fingerprint(),
            "8089e81bc2e3a1d37fe9b1b5b84a524cee42d5697648f50d9dd404194f5752de"
        );
        let oauth = SessionSettings {
            auth: Auth::OAuthPassword {
                client_id: "cid".into(),
                client_secret: Secret::new("csecret"),
                username: "u@example.com".into(),
                password: Secret::new("pw"),
                security_token: None,
            },
            ..soap("pw", None)
        };
        assert_eq!(
            oauth.fingerprint(),
            "1d9eec93b3cc59485bc0d5f00842ed866456adb192644be303d73cac365a4964"
        );
    }
}
