//! Gateway tokens kept in the fleet's Redis (`[store] kind = "redis"`), so
//! any instance accepts a token another one issued. Redis never holds a
//! token: a record is stored under `{prefix}:tok:{id}`, where `id` is an
//! HMAC of the token's SHA-256 under a key derived from `encryption_key`
//! ([`Sealer::key_id`]); its value is sealed ([`Sealer::seal`], AES-256-GCM)
//! and bound to that key name and the token's expiry, and holds the tenant
//! and the digest of the API key that obtained the token. Its Redis TTL is
//! the token's life. `{prefix}:toks:{tenant}` (a sorted set of ids by
//! expiry) counts a tenant's live tokens against `max_tokens`, in the same
//! atomic step as the write.
//!
//! A record that does not open (written without the encryption key, edited,
//! moved to another token's name, out of time, too large or of another
//! type) refuses the token; Redis down or slow is
//! [`TokenError::Unavailable`], never an acceptance.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::redis::Script;
use serde::{Deserialize, Serialize};

use super::tokens::{Grant, TokenError, TokenStore};
use crate::session::BoxFuture;
use crate::session::fleet::{Binding, MAX_VALUE, Shelf, StoreError, unix_ms};

/// Keeps a token's record and counts it, unless its tenant is full.
/// KEYS: record, tenant's set. ARGV: sealed record, ttl ms, now ms, max,
/// id, expiry ms. Answers -1 when stored, else the live count.
const ISSUE: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local held = redis.call('ZCARD', KEYS[2])
if held >= tonumber(ARGV[4]) then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return -1
"#;

/// A token's record. KEYS: record. ARGV: largest value handed back.
/// Answers `{}` (none), `{record}` or `{"refused", why}`.
const READ: &str = r#"
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return {} end
if kind ~= 'string' then return {'refused', 'not a string'} end
if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then
  return {'refused', 'larger than any token record'}
end
return {redis.call('GET', KEYS[1])}
"#;

/// What a record holds (sealed).
#[derive(Serialize, Deserialize)]
struct Record {
    tenant: String,
    /// SHA-256 of the API key that obtained the token.
    key: [u8; 32],
}

/// The fleet's tokens, through the session store's Redis connection.
pub struct FleetTokens {
    shelf: Shelf,
    issue: Script,
    read: Script,
}

fn unavailable(e: StoreError) -> TokenError {
    TokenError::Unavailable(e.to_string())
}

impl FleetTokens {
    pub fn new(shelf: Shelf) -> Self {
        Self {
            shelf,
            issue: Script::new(ISSUE),
            read: Script::new(READ),
        }
    }

    /// The record's key name: nothing about the token can be learned from it.
    fn record(&self, digest: &[u8; 32]) -> String {
        let id = self.shelf.sealer.key_id(&hex::encode(digest));
        format!("{}:tok:{id}", self.shelf.prefix)
    }

    async fn store(&self, digest: [u8; 32], grant: &Grant, max: usize) -> Result<(), TokenError> {
        let record = self.record(&digest);
        let id = record.rsplit(':').next().unwrap_or_default().to_string();
        let now = unix_ms(SystemTime::now());
        let expires = unix_ms(grant.expires_at);
        let plain = serde_json::to_vec(&Record {
            tenant: grant.tenant.clone(),
            key: grant.key,
        })
        .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let sealed = self
            .shelf
            .sealer
            .seal(Binding::key(&record), expires, &plain)
            .map_err(unavailable)?;
        let set = format!("{}:toks:{}", self.shelf.prefix, grant.tenant);
        let mut invocation = self.issue.key(&record);
        invocation
            .key(&set)
            .arg(sealed)
            .arg(expires.saturating_sub(now).max(1))
            .arg(now)
            .arg(max)
            .arg(id)
            .arg(expires);
        let mut conn = self.shelf.conn.clone();
        let held: i64 = self
            .shelf
            .bounded(invocation.invoke_async(&mut conn))
            .await
            .map_err(unavailable)?;
        match usize::try_from(held) {
            Ok(held) => Err(TokenError::Full {
                tenant: grant.tenant.clone(),
                held,
            }),
            Err(_) => Ok(()),
        }
    }

    async fn find(&self, digest: [u8; 32], longest: Duration) -> Result<Option<Grant>, TokenError> {
        let record = self.record(&digest);
        let mut invocation = self.read.key(&record);
        invocation.arg(MAX_VALUE);
        let mut conn = self.shelf.conn.clone();
        let answer: Vec<String> = self
            .shelf
            .bounded(invocation.invoke_async(&mut conn))
            .await
            .map_err(unavailable)?;
        let sealed = match answer.as_slice() {
            [] => return Ok(None),
            [sealed] => sealed,
            [_, why] => return Err(TokenError::Refused(why.clone())),
            _ => return Err(TokenError::Refused("an unexpected answer".into())),
        };
        let now = unix_ms(SystemTime::now());
        let plain = self
            .shelf
            .sealer
            .open(Binding::key(&record), sealed, now, longest)
            .map_err(|e| TokenError::Refused(e.to_string()))?;
        let unreadable = || TokenError::Refused("not a token record".into());
        let record: Record = serde_json::from_slice(&plain).map_err(|_| unreadable())?;
        // The expiry is the sealed frame's, authenticated with the record.
        let expires_ms: u64 = sealed
            .rsplit_once('|')
            .and_then(|(_, ms)| ms.parse().ok())
            .ok_or_else(unreadable)?;
        Ok(Some(Grant {
            tenant: record.tenant,
            key: record.key,
            expires_at: UNIX_EPOCH + Duration::from_millis(expires_ms),
        }))
    }
}

impl TokenStore for FleetTokens {
    fn insert<'a>(
        &'a self,
        digest: [u8; 32],
        grant: &'a Grant,
        max: usize,
    ) -> BoxFuture<'a, Result<(), TokenError>> {
        Box::pin(self.store(digest, grant, max))
    }

    fn get<'a>(
        &'a self,
        digest: [u8; 32],
        longest: Duration,
    ) -> BoxFuture<'a, Result<Option<Grant>, TokenError>> {
        Box::pin(self.find(digest, longest))
    }
}
