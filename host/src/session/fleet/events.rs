//! Fleet events over Redis pub/sub, so that an instance learns without a
//! Redis round trip per request that its in-process session is stale.
//!
//! The scripts publish on `{prefix}:events`, in the same atomic step as the
//! change: `new {gen} {base}` (a login stored generation `gen`), `drop {gen}
//! {base}` (the API rejected generation `gen`, now deleted) and `fail 0
//! {base}` (a login failed: its lock is free, a stop or backoff is set);
//! `usage {used} {limit} {at} {base}` is the org's API usage ([`super::usage`]).
//! Messages carry key names and numbers only, never a session.
//!
//! Each instance runs one subscriber task (RESP3 push messages on a
//! dedicated connection). On `new` or `drop` it drops its cached session of
//! an older or of exactly that generation, so its next request goes through
//! a login step that adopts the fleet's session; on every message it wakes
//! its login steps waiting for another instance's login. While the
//! subscription is down, the waiters fall back to polling; when it comes
//! back, cached sessions are checked once against Redis (messages may have
//! been missed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ::redis::{AsyncConnectionConfig, Client, ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

use super::{PROBE, RedisStore, StoreError, lock};
use crate::session::SessionStore;

/// What the subscriber task shares with the store.
pub(super) struct Events {
    client: Client,
    /// Woken on every message: login steps waiting for another instance.
    pub(super) wake: Notify,
    listening: AtomicBool,
    task: Mutex<Option<AbortHandle>>,
}

impl Events {
    pub(super) fn new(client: Client) -> Self {
        Self {
            client,
            wake: Notify::new(),
            listening: AtomicBool::new(false),
            task: Mutex::new(None),
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

    /// Acts on one message.
    fn on_event(&self, payload: &str) {
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
            let mut conn = self.conn.clone();
            let current: Option<u64> = self
                .bounded(async {
                    ::redis::cmd("HGET")
                        .arg(format!("{base}:session"))
                        .arg("gen")
                        .query_async(&mut conn)
                        .await
                        .map_err(StoreError::from)
                })
                .await?;
            if current.is_some_and(|g| g != fleet) && self.local.invalidate(&tenant, local) {
                tracing::info!(%tenant, generation = local, "the fleet's session changed while this instance was not listening; dropped the one kept here");
            }
        }
        self.events.wake.notify_waiters();
        Ok(())
    }
}

/// A RESP3 connection subscribed to `channel`, its messages sent to `tx`.
async fn subscribe(
    client: &Client,
    channel: &str,
    bound: Duration,
    tx: mpsc::UnboundedSender<PushInfo>,
) -> Result<::redis::aio::MultiplexedConnection, StoreError> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = Client::open(info.set_redis_settings(settings))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(bound))
        .set_response_timeout(Some(bound))
        .set_push_sender(tx);
    let attempt = async {
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        conn.subscribe(channel).await?;
        Ok::<_, ::redis::RedisError>(conn)
    };
    match tokio::time::timeout(bound, attempt).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(StoreError::Timeout(bound)),
    }
}

/// Subscribes, handles messages until the connection drops, and subscribes
/// again every [`PROBE`]; ends with the store.
async fn subscriber(store: Weak<RedisStore>) {
    let mut logged = false;
    loop {
        let Some(s) = store.upgrade() else { return };
        let (client, channel, bound) = (s.events.client.clone(), s.channel(), s.bound);
        drop(s);
        let (tx, mut rx) = mpsc::unbounded_channel();
        match subscribe(&client, &channel, bound, tx).await {
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
                                s.on_event(&String::from_utf8_lossy(bytes));
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
