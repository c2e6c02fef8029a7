//! The simulator's mutable world: sessions, logins and lockouts, records,
//! query cursors, API usage and the counters tests read through the admin port.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::{ObjectSchema, Org, SimConfig, User};
use super::ids;
use super::soql::Query;

/// A record of an org: its type, id and string fields (absent = null).
#[derive(Debug, Clone)]
pub struct Record {
    pub object: String,
    pub id: String,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    /// A field's value; `Id` comes from the record itself.
    pub fn get(&self, field: &str) -> Option<&str> {
        if field.eq_ignore_ascii_case("Id") {
            return Some(&self.id);
        }
        self.fields.get(field).map(String::as_str)
    }
}

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

/// A data error, with what both SOAP (statusCode) and REST (errorCode, HTTP status) need.
#[derive(Debug, Clone)]
pub struct DataError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
    pub http_status: u16,
}

impl DataError {
    fn new(code: &'static str, http_status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            http_status,
        }
    }
}

/// One page of query results.
#[derive(Debug)]
pub struct QueryPage {
    pub object: String,
    pub fields: Vec<String>,
    pub records: Vec<Record>,
    pub total: usize,
    /// `locator-offset` of the next page, when there is one.
    pub next: Option<String>,
}

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

/// A Bulk v1 job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub operation: String,
    pub object: String,
    pub content_type: String,
    pub created_by: String,
}

struct Cursor {
    org_id: String,
    object: String,
    fields: Vec<String>,
    records: Vec<Record>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    records: HashMap<String, Vec<Record>>,
    next_id: u64,
    cursors: HashMap<String, Cursor>,
    recent_logins: HashMap<String, VecDeque<Instant>>,
    failures: HashMap<String, u32>,
    logins_by_user: BTreeMap<String, u64>,
    api_usage: HashMap<String, u64>,
    jobs: HashMap<String, Job>,
}

/// The simulator's state, shared by all connections.
pub struct State {
    pub config: SimConfig,
    pub counters: Counters,
    inner: Mutex<Inner>,
}

const HOUR: Duration = Duration::from_secs(3600);

impl State {
    /// A fresh world holding the config's seed records.
    pub fn new(config: SimConfig) -> Self {
        let mut inner = Inner {
            next_id: 1,
            ..Default::default()
        };
        for org in &config.orgs {
            let mut records = Vec::new();
            for seed in &org.records {
                let schema = config.object(&seed.object).expect("checked by config");
                let id = ids::record_id(&schema.key_prefix, &org.id, inner.next_id);
                inner.next_id += 1;
                records.push(Record {
                    object: schema.name.clone(),
                    id,
                    fields: seed.fields.clone(),
                });
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
            "live_sessions": inner.sessions.values().filter(|s| !s.revoked && s.expires_at > Instant::now()).count(),
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

    fn schema(&self, object: &str) -> Result<&ObjectSchema, DataError> {
        self.config.object(object).ok_or_else(|| {
            DataError::new(
                "INVALID_TYPE",
                400,
                format!("sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name."),
            )
        })
    }

    /// Canonical field names; INVALID_FIELD for a name the type lacks.
    fn check_fields(
        schema: &ObjectSchema,
        fields: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, DataError> {
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            if name.eq_ignore_ascii_case("Id") {
                let mut e = DataError::new(
                    "INVALID_FIELD",
                    400,
                    "The Id field should not be specified in the sobject data.",
                );
                e.fields.push("Id".into());
                return Err(e);
            }
            let canonical = canonical_field(schema, name).ok_or_else(|| {
                let mut e = DataError::new(
                    "INVALID_FIELD",
                    400,
                    format!("No such column '{name}' on sobject of type {}", schema.name),
                );
                e.fields.push(name.clone());
                e
            })?;
            out.insert(canonical.to_string(), value.clone());
        }
        Ok(out)
    }

    /// Creates a record; returns its id.
    pub fn create(
        &self,
        org_id: &str,
        object: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<String, DataError> {
        let schema = self.schema(object)?;
        let fields = Self::check_fields(schema, fields)?;
        let missing: Vec<String> = schema
            .required
            .iter()
            .filter(|r| fields.get(r.as_str()).is_none_or(|v| v.is_empty()))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let mut e = DataError::new(
                "REQUIRED_FIELD_MISSING",
                400,
                format!("Required fields are missing: [{}]", missing.join(", ")),
            );
            e.fields = missing;
            return Err(e);
        }
        let mut inner = self.lock();
        let id = ids::record_id(&schema.key_prefix, org_id, inner.next_id);
        inner.next_id += 1;
        inner
            .records
            .entry(org_id.to_string())
            .or_default()
            .push(Record {
                object: schema.name.clone(),
                id: id.clone(),
                fields,
            });
        Ok(id)
    }

    /// Updates fields of record `id` (15 or 18 characters).
    pub fn update(
        &self,
        org_id: &str,
        id: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DataError> {
        let mut inner = self.lock();
        let record = find_mut(&mut inner, org_id, id)?;
        let schema = self.schema(&record.object)?;
        let fields = Self::check_fields(schema, fields)?;
        record.fields.extend(fields);
        Ok(())
    }

    /// Upserts by external id; returns (id, created).
    pub fn upsert(
        &self,
        org_id: &str,
        object: &str,
        external_field: &str,
        value: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<(String, bool), DataError> {
        let schema = self.schema(object)?;
        let Some(ext) = schema
            .external_ids
            .iter()
            .find(|f| f.eq_ignore_ascii_case(external_field))
        else {
            return Err(DataError::new(
                "NOT_FOUND",
                404,
                format!(
                    "Provided external ID field does not exist or is not accessible: {external_field}"
                ),
            ));
        };
        let mut fields = fields.clone();
        fields.retain(|k, _| !k.eq_ignore_ascii_case(ext));
        let fields = Self::check_fields(schema, &fields)?;
        let mut inner = self.lock();
        let records = inner.records.entry(org_id.to_string()).or_default();
        let matches: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.object == schema.name && r.fields.get(ext).is_some_and(|v| v == value)
            })
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [] => {
                drop(inner);
                let mut all = fields;
                all.insert(ext.clone(), value.to_string());
                self.create(org_id, object, &all).map(|id| (id, true))
            }
            [i] => {
                let record = &mut records[*i];
                record.fields.extend(fields);
                Ok((record.id.clone(), false))
            }
            _ => Err(DataError::new(
                "MULTIPLE_CHOICES",
                300,
                format!(
                    "More than one record found for external id field {ext} with value {value}"
                ),
            )),
        }
    }

    /// A copy of the org's records, for a later [`State::restore`].
    pub fn snapshot(&self, org_id: &str) -> Vec<Record> {
        self.lock().records.get(org_id).cloned().unwrap_or_default()
    }

    /// Puts the org's records back as a [`State::snapshot`] found them
    /// (composite allOrNone rollback).
    pub fn restore(&self, org_id: &str, records: Vec<Record>) {
        self.lock().records.insert(org_id.to_string(), records);
    }

    /// Deletes record `id`.
    pub fn delete(&self, org_id: &str, id: &str) -> Result<(), DataError> {
        let mut inner = self.lock();
        let records = inner.records.entry(org_id.to_string()).or_default();
        let before = records.len();
        records.retain(|r| !same_id(&r.id, id));
        if records.len() == before {
            return Err(not_found());
        }
        Ok(())
    }

    /// Record `id` of type `object`.
    pub fn get(&self, org_id: &str, object: &str, id: &str) -> Result<Record, DataError> {
        let schema = self.schema(object)?;
        let mut inner = self.lock();
        let record = find_mut(&mut inner, org_id, id)?;
        if record.object != schema.name {
            return Err(not_found());
        }
        Ok(record.clone())
    }

    /// Runs a query; results beyond the batch size stay behind a cursor.
    pub fn query(&self, org_id: &str, query: &Query) -> Result<QueryPage, DataError> {
        let schema = self.schema(&query.object)?;
        let mut fields = Vec::new();
        for f in &query.fields {
            let canonical = canonical_field(schema, f).ok_or_else(|| invalid_column(f, schema))?;
            fields.push(canonical.to_string());
        }
        let mut conditions = Vec::new();
        for condition in &query.conditions {
            let field = &condition.field;
            let canonical =
                canonical_field(schema, field).ok_or_else(|| invalid_column(field, schema))?;
            conditions.push((canonical.to_string(), condition));
        }
        let mut inner = self.lock();
        let mut rows: Vec<Record> = inner
            .records
            .get(org_id)
            .map(|rs| {
                rs.iter()
                    .filter(|r| r.object == schema.name)
                    .filter(|r| conditions.iter().all(|(f, c)| c.matches(r.get(f))))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Some(limit) = query.limit {
            rows.truncate(limit);
        }
        let locator = ids::query_locator();
        inner.cursors.insert(
            locator.clone(),
            Cursor {
                org_id: org_id.to_string(),
                object: schema.name.clone(),
                fields,
                records: rows,
            },
        );
        drop(inner);
        self.page(org_id, &locator, 0)
            .map_err(|_| DataError::new("INVALID_QUERY_LOCATOR", 400, "invalid query locator"))
    }

    /// The page of cursor `locator` starting at `offset`.
    pub fn page(&self, org_id: &str, locator: &str, offset: usize) -> Result<QueryPage, DataError> {
        let batch = self.config.limits.query_batch_size.max(1);
        let inner = self.lock();
        let cursor = inner
            .cursors
            .get(locator)
            .filter(|c| c.org_id == org_id && offset <= c.records.len())
            .ok_or_else(|| DataError::new("INVALID_QUERY_LOCATOR", 400, "invalid query locator"))?;
        let end = (offset + batch).min(cursor.records.len());
        Ok(QueryPage {
            object: cursor.object.clone(),
            fields: cursor.fields.clone(),
            records: cursor.records[offset..end].to_vec(),
            total: cursor.records.len(),
            next: (end < cursor.records.len()).then(|| format!("{locator}-{end}")),
        })
    }

    /// Creates a Bulk v1 job.
    pub fn create_job(
        &self,
        org_id: &str,
        created_by: &str,
        operation: &str,
        object: &str,
        content_type: &str,
    ) -> Result<Job, DataError> {
        let schema = self.schema(object)?;
        let mut inner = self.lock();
        let id = ids::record_id("750", org_id, inner.next_id);
        inner.next_id += 1;
        let job = Job {
            id: id.clone(),
            operation: operation.to_string(),
            object: schema.name.clone(),
            content_type: content_type.to_string(),
            created_by: created_by.to_string(),
        };
        inner.jobs.insert(id, job.clone());
        Ok(job)
    }

    /// Bulk v1 job `id`.
    pub fn job(&self, id: &str) -> Option<Job> {
        self.lock().jobs.get(id).cloned()
    }
}

fn canonical_field<'a>(schema: &'a ObjectSchema, name: &str) -> Option<&'a str> {
    if name.eq_ignore_ascii_case("Id") {
        return Some("Id");
    }
    schema
        .fields
        .iter()
        .find(|f| f.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

fn invalid_column(field: &str, schema: &ObjectSchema) -> DataError {
    DataError::new(
        "INVALID_FIELD",
        400,
        format!(
            "No such column '{field}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.",
            schema.name
        ),
    )
}

fn not_found() -> DataError {
    DataError::new("NOT_FOUND", 404, "The requested resource does not exist")
}

/// 15- and 18-character forms of one id are the same record.
fn same_id(stored: &str, given: &str) -> bool {
    stored == given || (given.len() == 15 && stored.starts_with(given))
}

fn find_mut<'a>(inner: &'a mut Inner, org_id: &str, id: &str) -> Result<&'a mut Record, DataError> {
    inner
        .records
        .get_mut(org_id)
        .and_then(|rs| rs.iter_mut().find(|r| same_id(&r.id, id)))
        .ok_or_else(not_found)
}
