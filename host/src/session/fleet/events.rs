//! Fleet events over Redis pub/sub, so that an instance learns without a
//! Redis round trip per request that its in-process session is stale.
//!
//! The scripts publish on `{prefix}:events`, in the same atomic step as the
//! change: `new {gen} {base}` (a login stored generation `gen`), `drop {gen}
//! {base}` (the API rejected generation `gen`, now deleted) and `fail 0
//! {base}` (a login failed: its lock is free, a stop or backoff is set);
//! `usage {used} {limit} {at} {base}` is the org's API usage ([`super::usage`]).
//! Messages carry key names and numbers only, never a session. Each is
//! signed by the instance that sends it for the channel and expires
//! [`EVENT_TTL`] after ([`super::seal`]); one that does not verify, or is
//! larger than [`MAX_MESSAGE`], is ignored (and the connection ends when
//! it is far larger, [`super::wire`]).
//!
//! Each instance runs one subscriber task (RESP3 push messages on a
//! dedicated connection). On `new` or `drop` it drops its cached session of
//! an older or of exactly that generation, so its next request goes through
//! a login step that adopts the fleet's session; on every message it wakes
//! its login steps waiting for another instance's login. While the
//! subscription is down, the waiters fall back to polling; when it comes
//! back, cached sessions are checked once against Redis (messages may have
//! been missed).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use ::redis::{Client, PushKind, Value};
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

use super::seal::{Binding, MAX_VALUE};
use super::{PROBE, RedisStore, StoreError, lock, unix_ms};
use crate::session::SessionStore;

/// The largest message the fleet publishes (key bases are short: a
/// prefix of at most 64 characters, a tenant name, a 32-digit id).
pub(super) const MAX_MESSAGE: usize = 2048;
/// How long a message is good for after it is sent.
pub(super) const EVENT_TTL: Duration = Duration::from_secs(10);
/// At most one log line a minute about refused messages.
const REFUSED_LOG_EVERY_MS: u64 = 60_000;

/// What the subscriber task shares with the store.
pub(super) struct Events {
    client: Client,
    /// Woken on every message: login steps waiting for another instance.
    pub(super) wake: Notify,
    listening: AtomicBool,
    task: Mutex<Option<AbortHandle>>,
    /// When a refused message was last logged (unix ms).
    refused_logged: AtomicU64,
}

impl Events {
    pub(super) fn new(client: Client) -> Self {
        Self {
            client,
            wake: Notify::new(),
            listening: AtomicBool::new(false),
            task: Mutex::new(None),
            refused_logged: AtomicU64::new(0),
        }
    }

    /// True while the subscription is up (waiters can rely on being woken).
    pub(super) fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// A message: its kind (`new`, `drop`, `fail`), generation and key base.
fn parse(payload: &str) -> Option<(&str, u64, &str)> {
    let mut parts = payload.splitn(3, ' ');
    let kind = parts.next()?;
    let generation = parts.next()?.parse().ok()?;
    let base = parts.next().filter(|b| !b.is_empty())?;
    Some((kind, generation, base))
}

impl RedisStore {
    /// The channel every instance of this prefix publishes on.
    pub(super) fn channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// Starts this store's subscriber task (once; needs a tokio runtime).
    pub fn listen(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut task = lock(&self.events.task);
        if task.is_none() {
            let handle = runtime.spawn(subscriber(Arc::downgrade(self)));
            *task = Some(handle.abort_handle());
        }
    }

    /// `text` signed as a message on the channel, good for [`EVENT_TTL`].
    pub(super) fn message(&self, text: &str) -> String {
        let channel = self.channel();
        let expires = unix_ms(SystemTime::now() + EVENT_TTL);
        self.sealer.sign(Binding::key(&channel), expires, text)
    }

    /// The text of a message, when it verifies.
    fn verified_message<'p>(&self, payload: &'p [u8]) -> Result<&'p str, StoreError> {
        if payload.len() > MAX_MESSAGE {
            return Err(StoreError::Refused(format!(
                "a message of {} bytes, larger than any the fleet publishes",
                payload.len()
            )));
        }
        let text = std::str::from_utf8(payload)
            .map_err(|_| StoreError::Refused("a message that is not text".into()))?;
        let channel = self.channel();
        let now = unix_ms(SystemTime::now());
        Ok(self
            .sealer
            .verify(Binding::key(&channel), text, now, EVENT_TTL)?
            .text)
    }

    /// Acts on one message; ignores one that does not verify.
    fn on_event(&self, payload: &[u8]) {
        let payload = match self.verified_message(payload) {
            Ok(text) => text,
            Err(error) => {
                let now = unix_ms(SystemTime::now());
                let last = self.events.refused_logged.load(Ordering::Relaxed);
                if now.saturating_sub(last) >= REFUSED_LOG_EVERY_MS
                    && self
                        .events
                        .refused_logged
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::error!(%error, "ignored a message on the fleet's events channel that does not verify (written without this encryption_key: tampered, or an instance with another key); at most one such line a minute");
                }
                return;
            }
        };
        if let Some((report, base)) = super::usage::parse(payload) {
            self.on_usage(report, base);
            return;
        }
        if let Some((kind, generation, base)) = parse(payload) {
            let stale: Vec<(String, u64)> = lock(&self.fleet)
                .iter()
                .filter(|(_, r)| r.base == base)
                .filter(|(_, r)| match kind {
                    "new" => r.fleet < generation,
                    "drop" => r.fleet == generation,
                    _ => false,
                })
                .map(|(tenant, r)| (tenant.clone(), r.local))
                .collect();
            for (tenant, local) in stale {
                // Compare and swap: a newer session stays.
                if self.local.invalidate(&tenant, local) {
                    tracing::info!(%tenant, generation = local, fleet_generation = generation, event = kind, "another instance replaced the fleet's session; dropped the one kept here");
                }
            }
        }
        self.events.wake.notify_waiters();
    }

    /// After (re)subscribing: drops cached sessions whose generation Redis
    /// replaced meanwhile (one round trip per tenant, not per request).
    async fn resync(&self) -> Result<(), StoreError> {
        let cached: Vec<(String, String, u64, u64)> = lock(&self.fleet)
            .iter()
            .map(|(t, r)| (t.clone(), r.base.clone(), r.local, r.fleet))
            .collect();
        for (tenant, base, local, fleet) in cached {
            let current = match self.fleet_generation(&base).await {
                Ok(current) => current,
                Err(error @ StoreError::Refused(_)) => {
                    tracing::error!(%tenant, %error, "the fleet's session in Redis does not verify; kept the one kept here");
                    continue;
                }
                Err(error) => return Err(error),
            };
            if current.is_some_and(|g| g != fleet) && self.local.invalidate(&tenant, local) {
                tracing::info!(%tenant, generation = local, "the fleet's session changed while this instance was not listening; dropped the one kept here");
            }
        }
        self.events.wake.notify_waiters();
        Ok(())
    }

    /// The generation of the fleet's session under `base` (none: `None`),
    /// once its sealed blob opens for that generation.
    async fn fleet_generation(&self, base: &str) -> Result<Option<u64>, StoreError> {
        let key = format!("{base}:session");
        let mut conn = self.conn.clone();
        let mut call = self.session.prepare_invoke();
        call.key(&key).arg(MAX_VALUE);
        let answer: Vec<String> = self
            .bounded(async { call.invoke_async(&mut conn).await.map_err(StoreError::from) })
            .await?;
        match answer.as_slice() {
            [] => Ok(None),
            [generation, blob] => {
                let generation = super::login::generation(generation)?;
                self.open_session(&key, generation, blob)?;
                Ok(Some(generation))
            }
            _ => Err(StoreError::Refused(
                "the fleet's session is larger than any the fleet writes".into(),
            )),
        }
    }
}

/// Subscribes, handles messages until the connection drops, and subscribes
/// again every [`PROBE`]; ends with the store.
async fn subscriber(store: Weak<RedisStore>) {
    let mut logged = false;
    loop {
        let Some(s) = store.upgrade() else { return };
        let (client, channel, bound) = (s.events.client.clone(), s.channel(), s.bound);
        let ca = s.ca.clone();
        drop(s);
        let (tx, mut rx) = mpsc::unbounded_channel();
        match super::wire::subscribe(&client, ca.as_deref(), &channel, bound, tx).await {
            Ok(conn) => {
                logged = false;
                let Some(s) = store.upgrade() else { return };
                s.events.listening.store(true, Ordering::Relaxed);
                if let Err(error) = s.resync().await {
                    tracing::debug!(%error, "could not check the cached sessions against Redis");
                }
                drop(s);
                while let Some(push) = rx.recv().await {
                    let Some(s) = store.upgrade() else { return };
                    match push.kind {
                        PushKind::Message => {
                            if let Some(Value::BulkString(bytes)) = push.data.get(1) {
                                s.on_event(bytes);
                            }
                        }
                        PushKind::Disconnection => break,
                        _ => {}
                    }
                }
                drop(conn);
                if let Some(s) = store.upgrade() {
                    s.events.listening.store(false, Ordering::Relaxed);
                    s.events.wake.notify_waiters();
                }
            }
            Err(error) => {
                if !logged {
                    logged = true;
                    tracing::warn!(%error, "cannot subscribe to the fleet's events in Redis; waiting logins poll instead, and retry every 250 ms");
                }
            }
        }
        tokio::time::sleep(PROBE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn messages_parse_or_are_ignored() {
        assert_eq!(
            parse("new 17 tw:t:acme:ab12"),
            Some(("new", 17, "tw:t:acme:ab12"))
        );
        assert_eq!(parse("drop 3 tw:t:a b:x"), Some(("drop", 3, "tw:t:a b:x")));
        for bad in ["", "new", "new x base", "new 1", "new 1 "] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
