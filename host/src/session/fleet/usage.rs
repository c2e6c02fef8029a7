//! The org's API usage, shared across the fleet: an instance that reads a
//! usage report in an answer (`LimitInfoHeader`, `Sforce-Limit-Info`)
//! writes it to `{base}:usage` and publishes it, off the request path (one
//! write in flight per tenant; reports that arrive meanwhile are coalesced
//! into the newest); the others keep the newest report in memory, so an
//! instance that has not called the API for a while still counts what its
//! peers spent (`api_budget_per_day`, `api_reserve`). A report is signed
//! like every message ([`super::events`]), and one dated beyond now plus
//! [`SKEW`] is ignored: a report from the future would stay the newest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ::redis::Script;
use ::redis::aio::ConnectionManager;

use super::seal::{SKEW, Sealer, ms};
use super::{RedisStore, lock, scripts, unix_ms};
use crate::session::{SessionSettings, UsageReport};

/// What the store keeps of the fleet's usage.
#[derive(Default)]
pub(super) struct Usage {
    outbox: Arc<Outbox>,
    /// Tenant → the newest report another instance published.
    received: Mutex<HashMap<String, UsageReport>>,
}

/// Reports waiting to be written, by tenant.
struct Outbox {
    script: Script,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            script: Script::new(scripts::USAGE),
            pending: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct Pending {
    /// The newest report not written yet, with its key base.
    next: Option<(String, UsageReport)>,
    /// A task is writing this tenant's reports.
    sending: bool,
}

/// A `usage {used} {limit} {at} {base}` message: the report and the base.
pub(super) fn parse(payload: &str) -> Option<(UsageReport, &str)> {
    let mut parts = payload.strip_prefix("usage ")?.splitn(4, ' ');
    let used = parts.next()?.parse().ok()?;
    let limit = parts.next()?.parse().ok()?;
    let at_ms: u64 = parts.next()?.parse().ok()?;
    let base = parts.next().filter(|b| !b.is_empty())?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(at_ms);
    Some((UsageReport { used, limit, at }, base))
}

impl RedisStore {
    /// Queues `report` to be written and published (by a background task;
    /// a failure only means the peers learn the usage from their own
    /// answers). Only a tenant whose session is the fleet's is shared.
    pub(super) fn share_usage_report(&self, settings: &SessionSettings, report: UsageReport) {
        if self.degraded() {
            return;
        }
        let Some(base) = lock(&self.fleet)
            .get(&settings.tenant)
            .filter(|r| !r.alone)
            .map(|r| r.base.clone())
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let outbox = &self.usage.outbox;
        let start = {
            let mut pending = lock(&outbox.pending);
            let p = pending.entry(settings.tenant.clone()).or_default();
            if p.next.as_ref().is_some_and(|(_, r)| r.at >= report.at) {
                return;
            }
            p.next = Some((base, report));
            !std::mem::replace(&mut p.sending, true)
        };
        if start {
            runtime.spawn(send(
                outbox.clone(),
                settings.tenant.clone(),
                self.conn.clone(),
                self.sealer.clone(),
                self.channel(),
                self.bound,
            ));
        }
    }

    /// A report another instance published for key base `base` (its
    /// message verified); one from the future is ignored.
    pub(super) fn on_usage(&self, report: UsageReport, base: &str) {
        if report.at > SystemTime::now() + SKEW {
            tracing::warn!(
                "ignored an API usage report dated in the future (is this instance's clock behind the others'?)"
            );
            return;
        }
        let tenants: Vec<String> = lock(&self.fleet)
            .iter()
            .filter(|(_, r)| r.base == base)
            .map(|(tenant, _)| tenant.clone())
            .collect();
        let mut received = lock(&self.usage.received);
        for tenant in tenants {
            let newest = received.get(&tenant).is_none_or(|r| r.at < report.at);
            if newest {
                received.insert(tenant, report);
            }
        }
    }

    /// The newest report another instance published for `tenant`.
    pub(super) fn received_usage(&self, tenant: &str) -> Option<UsageReport> {
        lock(&self.usage.received).get(tenant).copied()
    }
}

/// Writes `tenant`'s newest pending report until none is left.
async fn send(
    outbox: Arc<Outbox>,
    tenant: String,
    mut conn: ConnectionManager,
    sealer: Arc<Sealer>,
    channel: String,
    bound: Duration,
) {
    loop {
        let (base, report) = {
            let mut pending = lock(&outbox.pending);
            let Some(p) = pending.get_mut(&tenant) else {
                return;
            };
            match p.next.take() {
                Some(next) => next,
                None => {
                    p.sending = false;
                    return;
                }
            }
        };
        let at = unix_ms(report.at);
        let now = SystemTime::now();
        let message = sealer.sign(
            super::Binding::key(&channel),
            unix_ms(now + super::events::EVENT_TTL),
            &format!("usage {} {} {at} {base}", report.used, report.limit),
        );
        let mut call = outbox.script.prepare_invoke();
        call.key(format!("{base}:usage"))
            .arg(at)
            .arg(unix_ms(now))
            .arg(ms(SKEW))
            .arg(&channel)
            .arg(message);
        let sent = tokio::time::timeout(bound, call.invoke_async::<i64>(&mut conn)).await;
        if !matches!(sent, Ok(Ok(_))) {
            tracing::debug!(%tenant, "could not share the API usage through Redis");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_or_are_ignored() {
        let (report, base) = parse("usage 97 15000 1700000000123 tw:t:a b:x").unwrap();
        assert_eq!((report.used, report.limit, base), (97, 15000, "tw:t:a b:x"));
        assert_eq!(unix_ms(report.at), 1_700_000_000_123);
        for bad in [
            "",
            "usage",
            "usage 1 2 3",
            "usage 1 2 3 ",
            "usage x 2 3 b",
            "new 1 b",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
