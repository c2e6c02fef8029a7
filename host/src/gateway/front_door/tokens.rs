//! The tokens the front door issues in place of a Salesforce session:
//! random, shaped like a session id so clients accept them
//! (`00D` + 12 characters + `!` + 64 hex digits: the sf CLI's check, and no
//! dots, so jsforce never takes one for a JWT), kept only as SHA-256
//! digests with the tenant and the digest of the API key that obtained
//! them, and accepted until they expire. A token whose key left the config
//! stops working at once (checked on every use, [`super::credential`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::secret::Secret;

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

/// Why no token was issued.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the gateway holds {0} live tokens ([front_door] max_tokens); retry when some expire or raise the limit"
    )]
    Full(usize),
}

/// Where issued tokens live (in memory; a fleet store keeps them shared).
pub trait TokenStore: Send + Sync {
    /// Keeps `grant` under `digest`, unless `max` live tokens are kept.
    fn insert(&self, digest: [u8; 32], grant: Grant, max: usize) -> Result<(), TokenError>;
    /// The live grant of `digest`.
    fn get(&self, digest: &[u8; 32]) -> Option<Grant>;
    /// Forgets `digest`.
    fn remove(&self, digest: &[u8; 32]);
}

/// A fresh token for `grant`, kept in `store` (only its digest).
pub fn issue(
    store: &dyn TokenStore,
    tenant: &str,
    key: [u8; 32],
    ttl: Duration,
    max: usize,
) -> Result<(Secret, Grant), TokenError> {
    let random: [u8; 32] = rand::random();
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!("{PREFIX}{hex}");
    let grant = Grant {
        tenant: tenant.to_string(),
        key,
        expires_at: SystemTime::now() + ttl,
    };
    store.insert(digest(&token), grant.clone(), max)?;
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
    grants: Mutex<HashMap<[u8; 32], Grant>>,
}

impl TokenStore for MemoryTokens {
    fn insert(&self, digest: [u8; 32], grant: Grant, max: usize) -> Result<(), TokenError> {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if grants.len() >= max {
            let now = SystemTime::now();
            grants.retain(|_, g| g.expires_at > now);
        }
        if grants.len() >= max {
            return Err(TokenError::Full(grants.len()));
        }
        grants.insert(digest, grant);
        Ok(())
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Grant> {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        match grants.get(digest) {
            Some(g) if g.expires_at > SystemTime::now() => Some(g.clone()),
            Some(_) => {
                grants.remove(digest);
                None
            }
            None => None,
        }
    }

    fn remove(&self, digest: &[u8; 32]) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants.remove(digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_session_shape_and_are_kept_as_digests() {
        let store = MemoryTokens::default();
        let (token, grant) = issue(&store, "acme", [7; 32], Duration::from_secs(60), 10).unwrap();
        let text = token.expose();
        assert!(is_token(text));
        // The sf CLI's check: 00D\w{12,15}! then [.\w]*; no dots (not a JWT).
        let (org, rest) = text.split_once('!').unwrap();
        assert!(org.starts_with("00D") && (15..=18).contains(&org.len()));
        assert!(org.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(rest.len() == 64 && rest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(store.get(&digest(text)), Some(grant));
        assert_eq!(store.get(&digest(&text.replace('!', "?"))), None);
    }

    #[test]
    fn expired_tokens_are_gone_and_the_store_is_bounded() {
        let store = MemoryTokens::default();
        let (token, _) = issue(&store, "acme", [1; 32], Duration::ZERO, 2).unwrap();
        assert_eq!(store.get(&digest(token.expose())), None);
        issue(&store, "acme", [1; 32], Duration::from_secs(60), 2).unwrap();
        issue(&store, "acme", [1; 32], Duration::from_secs(60), 2).unwrap();
        assert!(issue(&store, "acme", [1; 32], Duration::from_secs(60), 2).is_err());
        let (token, _) = issue(&store, "acme", [1; 32], Duration::from_secs(60), 5).unwrap();
        store.remove(&digest(token.expose()));
        assert_eq!(store.get(&digest(token.expose())), None);
    }
}
