//! The org's API usage as Salesforce last reported it (`LimitInfoHeader`,
//! `Sforce-Limit-Info`), the calls sent since, and the tenant's budget:
//! with `api_budget_per_day` or `api_reserve` set, calls are refused once
//! the usage last reported plus the calls sent since reach the lesser of
//! the budget and the limit less the reserve.
//!
//! Salesforce counts requests over a rolling 24-hour window and does not
//! say when old ones leave it, so the wait given to callers is an
//! estimate: the time for the excess to leave the window if the reported
//! usage was spread evenly over the last 24 hours. When that wait is over,
//! one call goes through as a probe; its answer reports the usage again.
//!
//! With a shared store, the other instances' reports count too
//! ([`ApiUsage::adopt`]): the newest report wins, wherever it was seen.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::session::UsageReport;

/// Salesforce's window for the daily API request limit.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The tenant's budget settings (`api_budget_per_day`, `api_reserve`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop when the org's usage reaches this many requests.
    pub per_day: Option<u64>,
    /// Stop this many requests short of the org's limit.
    pub reserve: Option<u64>,
}

impl Limits {
    /// The usage at which calls are refused, when there is one: the lesser
    /// of the budget and `limit - reserve` (that one only once the limit is
    /// known).
    pub fn threshold(&self, limit: u64) -> Option<u64> {
        if self.per_day.is_none() && self.reserve.is_none() {
            return None;
        }
        let by_limit = (limit > 0).then(|| limit.saturating_sub(self.reserve.unwrap_or(0)));
        match (self.per_day, by_limit) {
            (Some(budget), Some(by_limit)) => Some(budget.min(by_limit)),
            (budget, by_limit) => budget.or(by_limit),
        }
    }
}

/// Why a call was refused before it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Usage last reported plus the calls sent since.
    pub used: u64,
    pub limit: u64,
    pub threshold: u64,
    pub retry_after: Duration,
}

/// What `/metrics` shows of a tenant's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageView {
    /// As last reported (0 before any report).
    pub used: u64,
    pub limit: u64,
    /// Where calls stop, when a budget or reserve is set.
    pub threshold: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct State {
    used: u64,
    limit: u64,
    /// When Salesforce last reported the usage (here or to another instance).
    seen: Option<Instant>,
    /// The same moment on the wall clock, to compare with other instances'
    /// reports.
    seen_wall: Option<SystemTime>,
    /// Calls sent since that report.
    since: u64,
    /// While set and in the future, calls are refused; once past, one call
    /// goes through (and sets it again) until an answer reports the usage.
    refused_until: Option<Instant>,
}

/// One tenant's usage (kept across reloads by the upstream's successor).
#[derive(Debug, Default)]
pub struct ApiUsage {
    state: Mutex<State>,
}

impl ApiUsage {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one call about to be sent, or refuses it under `limits`.
    pub fn admit(&self, limits: &Limits, now: Instant) -> Result<(), Refusal> {
        let mut st = self.state();
        let threshold = match (st.seen, limits.threshold(st.limit)) {
            (Some(_), Some(threshold)) => threshold,
            _ => {
                st.since = st.since.saturating_add(1);
                return Ok(());
            }
        };
        let projected = st.used.saturating_add(st.since);
        if projected < threshold {
            st.since = st.since.saturating_add(1);
            return Ok(());
        }
        let limit = st.limit;
        let refusal = |retry_after| Refusal {
            used: projected,
            limit,
            threshold,
            retry_after,
        };
        match st.refused_until {
            Some(until) if now < until => Err(refusal(until - now)),
            Some(_) => {
                // The estimated wait is over: this call probes.
                st.refused_until = Some(now + estimate(projected, threshold, st.used));
                st.since = st.since.saturating_add(1);
                Ok(())
            }
            None => {
                let wait = estimate(projected, threshold, st.used);
                st.refused_until = Some(now + wait);
                Err(refusal(wait))
            }
        }
    }

    /// Salesforce reported `used` of `limit` to this instance.
    pub fn observe(&self, report: UsageReport, now: Instant) {
        *self.state() = State {
            used: report.used,
            limit: report.limit,
            seen: Some(now),
            seen_wall: Some(report.at),
            since: 0,
            refused_until: None,
        };
    }

    /// Another instance's report, when it is newer than the last one seen
    /// here: the org's usage then already holds this instance's calls that
    /// Salesforce had answered.
    pub fn adopt(&self, report: UsageReport, now: Instant) {
        let mut st = self.state();
        if st.seen_wall.is_some_and(|seen| seen >= report.at) {
            return;
        }
        let age = SystemTime::now()
            .duration_since(report.at)
            .unwrap_or_default();
        *st = State {
            used: report.used,
            limit: report.limit,
            seen: Some(now.checked_sub(age).unwrap_or(now)),
            seen_wall: Some(report.at),
            since: 0,
            refused_until: None,
        };
    }

    /// What `/metrics` shows.
    pub fn view(&self, limits: &Limits) -> UsageView {
        let st = self.state();
        UsageView {
            used: st.used,
            limit: st.limit,
            threshold: limits.threshold(st.limit),
        }
    }
}

/// The time for `projected - threshold + 1` requests to leave the rolling
/// window, if the `used` ones were spread evenly over it (1 s to 24 h).
pub fn estimate(projected: u64, threshold: u64, used: u64) -> Duration {
    let excess = projected.saturating_sub(threshold).saturating_add(1);
    let per_request = WINDOW.as_secs_f64() / used.max(1) as f64;
    let secs = (excess as f64 * per_request).ceil();
    Duration::from_secs_f64(secs.clamp(1.0, WINDOW.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Limits = Limits {
        per_day: Some(100),
        reserve: None,
    };

    fn report(used: u64, limit: u64) -> UsageReport {
        UsageReport {
            used,
            limit,
            at: SystemTime::now(),
        }
    }

    #[test]
    fn another_instances_newer_report_counts() {
        let usage = ApiUsage::default();
        let now = Instant::now();
        let older = report(10, 15000);
        usage.observe(report(50, 15000), now);
        usage.adopt(older, now);
        assert_eq!(usage.view(&BUDGET).used, 50, "an older report is ignored");
        let newer = UsageReport {
            at: SystemTime::now() + Duration::from_millis(5),
            ..report(99, 15000)
        };
        usage.adopt(newer, now);
        assert_eq!(usage.view(&BUDGET).used, 99);
        assert!(usage.admit(&BUDGET, now).is_ok(), "the 100th");
        assert!(usage.admit(&BUDGET, now).is_err(), "over the budget");
    }

    #[test]
    fn thresholds() {
        assert_eq!(Limits::default().threshold(15000), None);
        assert_eq!(BUDGET.threshold(0), Some(100));
        assert_eq!(BUDGET.threshold(50), Some(50));
        let reserve = Limits {
            per_day: None,
            reserve: Some(1000),
        };
        assert_eq!(reserve.threshold(0), None, "no limit known yet");
        assert_eq!(reserve.threshold(15000), Some(14000));
        assert_eq!(reserve.threshold(500), Some(0));
        let both = Limits {
            per_day: Some(14500),
            reserve: Some(1000),
        };
        assert_eq!(both.threshold(15000), Some(14000));
        assert_eq!(both.threshold(100000), Some(14500));
    }

    #[test]
    fn calls_since_the_report_count_and_a_probe_follows_the_wait() {
        let usage = ApiUsage::default();
        let t0 = Instant::now();
        assert!(usage.admit(&BUDGET, t0).is_ok(), "no report yet");
        usage.observe(report(97, 15000), t0);
        assert!(usage.admit(&BUDGET, t0).is_ok()); // 97
        assert!(usage.admit(&BUDGET, t0).is_ok()); // 98
        assert!(usage.admit(&BUDGET, t0).is_ok()); // 99
        let refusal = usage.admit(&BUDGET, t0).unwrap_err();
        assert_eq!(
            (refusal.used, refusal.threshold, refusal.limit),
            (100, 100, 15000)
        );
        // One request of 97 spread over 24 h leaves every ~891 s.
        assert_eq!(refusal.retry_after, Duration::from_secs(891));
        let later = usage
            .admit(&BUDGET, t0 + Duration::from_secs(91))
            .unwrap_err();
        assert_eq!(later.retry_after, Duration::from_secs(800));
        let probe = t0 + Duration::from_secs(891);
        assert!(usage.admit(&BUDGET, probe).is_ok(), "one probe");
        assert!(usage.admit(&BUDGET, probe).is_err(), "only one");
        usage.observe(report(90, 15000), probe);
        assert!(usage.admit(&BUDGET, probe).is_ok());
        assert_eq!(
            usage.view(&BUDGET),
            UsageView {
                used: 90,
                limit: 15000,
                threshold: Some(100)
            }
        );
    }

    #[test]
    fn without_a_budget_nothing_is_refused() {
        let usage = ApiUsage::default();
        let now = Instant::now();
        usage.observe(report(15000, 15000), now);
        assert!(usage.admit(&Limits::default(), now).is_ok());
    }

    #[test]
    fn estimates_are_bounded() {
        assert_eq!(estimate(10, 10, 0), WINDOW);
        assert_eq!(estimate(15000, 15000, 15000), Duration::from_secs(6));
        assert_eq!(estimate(u64::MAX, 0, 1), WINDOW);
    }
}
