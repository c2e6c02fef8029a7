//! The simulator's mutable world, shared by all connections: one lock over
//! sessions, records, cursors, jobs and API usage, and the counters tests
//! read through the admin port. Logins and sessions are in [`sessions`],
//! records and queries in [`records`], Bulk jobs in [`bulk`].

mod bulk;
mod eval;
mod plan;
mod query;
mod records;
mod resolve;
mod search;
mod sessions;
mod values;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::config::{Org, SimConfig, User};
use super::ids;

pub use bulk::{Batch, Job, JobKind, MAX_RECORDS, NewJob, Outcome};
use query::Cursor;
pub use query::{Cell, Children, QueryOptions, QueryPage, Row, query_error};
pub use records::{DataError, Record, external_id_field, same_id};
pub use search::{SearchScope, SearchSpec};
pub use sessions::{LoginError, Session};

/// Counters that tests and benchmarks read through the admin port.
#[derive(Debug, Default)]
pub struct Counters {
    pub logins: AtomicU64,
    pub login_failures: AtomicU64,
    pub handshakes_login: AtomicU64,
    pub handshakes_standard: AtomicU64,
    pub handshakes_mutual: AtomicU64,
    pub api_requests: AtomicU64,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    records: HashMap<String, Vec<Record>>,
    next_id: u64,
    cursors: HashMap<String, Cursor>,
    cursor_order: VecDeque<String>,
    recent_logins: HashMap<String, VecDeque<Instant>>,
    failures: HashMap<String, u32>,
    logins_by_user: BTreeMap<String, u64>,
    api_usage: HashMap<String, u64>,
    jobs: HashMap<String, Vec<Job>>,
}

/// A configured user as a User record.
fn user_record(config: &SimConfig, org: &Org, user: &User) -> Record {
    let (first, last) = match user.full_name.rsplit_once(' ') {
        Some((first, last)) => (Some(first.to_string()), last.to_string()),
        None => (None, user.full_name.clone()),
    };
    let alias: String = user
        .username
        .chars()
        .take_while(|c| *c != '@')
        .take(8)
        .collect();
    let mut fields: BTreeMap<String, String> = [
        ("Username", user.username.clone()),
        ("LastName", last),
        ("Email", user.email.clone()),
        ("Alias", alias),
        ("IsActive", "true".into()),
        ("ProfileId", ids::profile_id(&org.id)),
        ("TimeZoneSidKey", "America/Chicago".into()),
        ("LocaleSidKey", "en_US".into()),
        ("LanguageLocaleKey", "en_US".into()),
        ("EmailEncodingKey", "UTF-8".into()),
        ("UserType", "Standard".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(first) = first {
        fields.insert("FirstName".into(), first);
    }
    let schema = config.object("User").expect("a standard object");
    records::seeded(schema, user.id.clone(), fields, &user.id, 0)
}

/// The simulator's state, shared by all connections.
pub struct State {
    pub config: SimConfig,
    pub counters: Counters,
    inner: Mutex<Inner>,
}

impl State {
    /// A fresh world holding the config's seed records.
    pub fn new(config: SimConfig) -> Self {
        let users: usize = config.orgs.iter().map(|o| o.users.len()).sum();
        let mut inner = Inner {
            next_id: users as u64 + 1,
            ..Default::default()
        };
        for org in &config.orgs {
            let mut records: Vec<Record> = org
                .users
                .iter()
                .map(|u| user_record(&config, org, u))
                .collect();
            let owner = org
                .users
                .first()
                .map(|u| u.id.clone())
                .unwrap_or_else(|| ids::user_id(&org.id, 0));
            let mut refs = HashMap::new();
            let mut seeds = Vec::new();
            for seed in &org.records {
                let schema = config.object(&seed.object).expect("checked by config");
                let n = inner.next_id;
                inner.next_id += 1;
                let id = ids::record_id(&schema.key_prefix, &org.id, n);
                if let Some(name) = &seed.ref_name {
                    refs.insert(name.clone(), id.clone());
                }
                seeds.push((schema, id, n, &seed.fields));
            }
            for (schema, id, n, fields) in seeds {
                let fields = fields
                    .iter()
                    .map(|(k, v)| {
                        let canonical = schema.field(k).map_or(k.clone(), |f| f.name.clone());
                        let value = v
                            .strip_prefix('@')
                            .and_then(|r| refs.get(r))
                            .cloned()
                            .unwrap_or_else(|| v.clone());
                        (canonical, value)
                    })
                    .collect();
                records.push(records::seeded(schema, id, fields, &owner, n));
            }
            inner.records.insert(org.id.clone(), records);
        }
        Self {
            config,
            counters: Counters::default(),
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-written in
        // a way that matters to a simulator; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The org and user of `username` (case-insensitive).
    pub fn find_user(&self, username: &str) -> Option<(&Org, &User)> {
        self.config.orgs.iter().find_map(|org| {
            org.users
                .iter()
                .find(|u| u.username.eq_ignore_ascii_case(username))
                .map(|u| (org, u))
        })
    }

    /// The org with id `org_id`.
    pub fn org(&self, org_id: &str) -> Option<&Org> {
        self.config.orgs.iter().find(|o| o.id == org_id)
    }

    /// Counts one API request for the org; Err when the daily limit is spent.
    /// Returns (current, limit) for LimitInfoHeader / Sforce-Limit-Info.
    pub fn count_api_request(&self, org_id: &str) -> Result<(u64, u64), (u64, u64)> {
        let limit = self.config.limits.api_requests_per_day;
        let mut inner = self.lock();
        let used = inner.api_usage.entry(org_id.to_string()).or_default();
        if *used >= limit {
            return Err((*used, limit));
        }
        *used += 1;
        self.counters.api_requests.fetch_add(1, Ordering::Relaxed);
        Ok((*used, limit))
    }

    /// The org's current API usage and limit, without counting.
    pub fn api_usage(&self, org_id: &str) -> (u64, u64) {
        let inner = self.lock();
        let used = inner.api_usage.get(org_id).copied().unwrap_or(0);
        (used, self.config.limits.api_requests_per_day)
    }

    /// Counters as JSON, for the admin port.
    pub fn counters_json(&self) -> serde_json::Value {
        let inner = self.lock();
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "logins": get(&c.logins),
            "login_failures": get(&c.login_failures),
            "logins_by_user": inner.logins_by_user,
            "api_requests": get(&c.api_requests),
            "api_usage_by_org": inner.api_usage,
            "handshakes": {
                "login": get(&c.handshakes_login),
                "standard": get(&c.handshakes_standard),
                "mutual": get(&c.handshakes_mutual),
            },
            "live_sessions": inner.sessions.values().filter(|s| s.is_live()).count(),
        })
    }

    /// Resets counters (not sessions or records), for tests that measure a phase.
    pub fn reset_counters(&self) {
        let c = &self.counters;
        for a in [
            &c.logins,
            &c.login_failures,
            &c.handshakes_login,
            &c.handshakes_standard,
            &c.handshakes_mutual,
            &c.api_requests,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        let mut inner = self.lock();
        inner.logins_by_user.clear();
        inner.api_usage.clear();
    }
}
