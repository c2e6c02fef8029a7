//! The tokens the front door issues in place of a Salesforce session:
//! random, shaped like a session id so clients accept them
//! (`00D` + 12 characters + `!` + 64 hex digits: the sf CLI's check, and no
//! dots, so jsforce never takes one for a JWT), kept only as SHA-256
//! digests with the tenant and the digest of the API key that obtained
//! them, at most `max_tokens` per tenant, in memory or in the fleet store
//! ([`super::fleet_tokens`]), and accepted until they expire. A token whose
//! key left the config stops working at once (checked on every use, by
//! every instance, [`super::credential`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::errors::FrontDoorError;
use crate::problem::{ProblemCode, UpstreamCode};
use crate::secret::Secret;
use crate::session::BoxFuture;

/// Every token starts so: it tells a token from an API key.
pub const PREFIX: &str = "00DGATEWAYTOKEN!";

/// What a token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub tenant: String,
    /// SHA-256 of the API key that obtained it.
    pub key: [u8; 32],
    pub expires_at: SystemTime,
}

/// Why no token was issued, or a token could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "tenant {tenant:?} holds {held} live gateway tokens ([front_door] max_tokens); retry when some expire or raise the limit"
    )]
    Full { tenant: String, held: usize },
    /// The fleet store could not be asked (Redis down or slow).
    #[error(
        "the gateway's token store (Redis) cannot be used now: {0}; retry shortly, and check [store] and the Redis server"
    )]
    Unavailable(String),
    /// A token's record does not verify (written without the encryption
    /// key, edited, moved, or out of time).
    #[error("a gateway token's record in the fleet store is refused: {0}")]
    Refused(String),
}

impl TokenError {
    /// The error the client gets, in its API's format.
    pub fn to_front_door(&self) -> FrontDoorError {
        match self {
            Self::Full { .. } => FrontDoorError::new(ProblemCode::Overloaded, self.to_string()),
            Self::Unavailable(_) => FrontDoorError {
                code: ProblemCode::Upstream(UpstreamCode::SessionUnavailable),
                detail: self.to_string(),
                retry_after: Some(1),
            },
            Self::Refused(_) => FrontDoorError::new(ProblemCode::Unauthorized, "refused"),
        }
    }
}

/// Where issued tokens live: this process's memory ([`MemoryTokens`]) or
/// the fleet's Redis ([`super::fleet_tokens::FleetTokens`]).
pub trait TokenStore: Send + Sync {
    /// Keeps `grant` under `digest`, unless its tenant holds `max` live tokens.
    fn insert<'a>(
        &'a self,
        digest: [u8; 32],
        grant: &'a Grant,
        max: usize,
    ) -> BoxFuture<'a, Result<(), TokenError>>;
    /// The live grant of `digest`; `longest` is the most a token lives
    /// (a record expiring further ahead is refused).
    fn get<'a>(
        &'a self,
        digest: [u8; 32],
        longest: Duration,
    ) -> BoxFuture<'a, Result<Option<Grant>, TokenError>>;
}

/// A fresh token for `grant`, kept in `store` (only its digest).
pub async fn issue(
    store: &dyn TokenStore,
    tenant: &str,
    key: [u8; 32],
    ttl: Duration,
    max: usize,
) -> Result<(Secret, Grant), TokenError> {
    let random: [u8; 32] = rand::random();
    let token = format!("{PREFIX}{}", hex::encode(random));
    let grant = Grant {
        tenant: tenant.to_string(),
        key,
        expires_at: SystemTime::now() + ttl,
    };
    store.insert(digest(&token), &grant, max).await?;
    Ok((Secret::new(token), grant))
}

/// True when `presented` has a token's shape (else it may be an API key).
pub fn is_token(presented: &str) -> bool {
    presented.starts_with(PREFIX)
}

/// SHA-256 of `text`.
pub fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Tokens of this process.
#[derive(Default)]
pub struct MemoryTokens {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    grants: HashMap<[u8; 32], Grant>,
    /// Tenant → how many of `grants` are its.
    counts: HashMap<String, usize>,
}

impl Held {
    fn count(&self, tenant: &str) -> usize {
        self.counts.get(tenant).copied().unwrap_or(0)
    }

    fn forget(&mut self, digest: &[u8; 32]) {
        if let Some(grant) = self.grants.remove(digest)
            && let Some(n) = self.counts.get_mut(&grant.tenant)
        {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&grant.tenant);
            }
        }
    }

    fn prune(&mut self, now: SystemTime) {
        let expired: Vec<[u8; 32]> = self
            .grants
            .iter()
            .filter(|(_, g)| g.expires_at <= now)
            .map(|(d, _)| *d)
            .collect();
        for digest in &expired {
            self.forget(digest);
        }
    }
}

impl MemoryTokens {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TokenStore for MemoryTokens {
    fn insert<'a>(
        &'a self,
        digest: [u8; 32],
        grant: &'a Grant,
        max: usize,
    ) -> BoxFuture<'a, Result<(), TokenError>> {
        let result = (|| {
            let mut held = self.held();
            if held.count(&grant.tenant) >= max {
                held.prune(SystemTime::now());
            }
            let count = held.count(&grant.tenant);
            if count >= max {
                return Err(TokenError::Full {
                    tenant: grant.tenant.clone(),
                    held: count,
                });
            }
            held.forget(&digest);
            held.grants.insert(digest, grant.clone());
            *held.counts.entry(grant.tenant.clone()).or_default() += 1;
            Ok(())
        })();
        Box::pin(std::future::ready(result))
    }

    fn get<'a>(
        &'a self,
        digest: [u8; 32],
        _longest: Duration,
    ) -> BoxFuture<'a, Result<Option<Grant>, TokenError>> {
        let mut held = self.held();
        let grant = match held.grants.get(&digest) {
            Some(g) if g.expires_at > SystemTime::now() => Some(g.clone()),
            Some(_) => {
                held.forget(&digest);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(grant)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn tokens_have_a_session_shape_and_are_kept_as_digests() {
        let store = MemoryTokens::default();
        let (token, grant) = issue(&store, "acme", [7; 32], MINUTE, 10).await.unwrap();
        let text = token.expose();
        assert!(is_token(text));
        // The sf CLI's check: 00D\w{12,15}! then [.\w]*; no dots (not a JWT).
        let (org, rest) = text.split_once('!').unwrap();
        assert!(org.starts_with("00D") && (15..=18).contains(&org.len()));
        assert!(org.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(rest.len() == 64 && rest.chars().all(|c| c.is_ascii_hexdigit()));
        let get = |d| store.get(d, MINUTE);
        assert_eq!(get(digest(text)).await.unwrap(), Some(grant));
        assert_eq!(get(digest(&text.replace('!', "?"))).await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_tokens_are_gone_and_each_tenant_is_bounded() {
        let store = MemoryTokens::default();
        let (token, _) = issue(&store, "acme", [1; 32], Duration::ZERO, 2)
            .await
            .unwrap();
        let get = |t: &Secret| store.get(digest(t.expose()), MINUTE);
        assert_eq!(get(&token).await.unwrap(), None);
        issue(&store, "acme", [1; 32], MINUTE, 2).await.unwrap();
        issue(&store, "acme", [1; 32], MINUTE, 2).await.unwrap();
        let full = issue(&store, "acme", [1; 32], MINUTE, 2).await.unwrap_err();
        assert!(matches!(full, TokenError::Full { held: 2, .. }), "{full}");
        // Another tenant has its own count.
        issue(&store, "globex", [2; 32], MINUTE, 2).await.unwrap();
        // Expired tokens make room.
        let store = MemoryTokens::default();
        issue(&store, "acme", [1; 32], Duration::ZERO, 1)
            .await
            .unwrap();
        let (token, _) = issue(&store, "acme", [1; 32], MINUTE, 1).await.unwrap();
        let found = store.get(digest(token.expose()), MINUTE).await.unwrap();
        assert_eq!(found.map(|g| g.tenant).as_deref(), Some("acme"));
    }
}
