//! Bulk jobs of both APIs: a job (its operation, object, state and owner),
//! its batches (Bulk 1.0) or its uploaded data (Bulk 2.0), and running them:
//! records saved one by one through the same checks as every other write,
//! query results kept whole. Work runs when the data arrives, so a job is
//! done by the time a client polls it.

use std::collections::BTreeMap;

use super::super::{dates, ids};
use super::query::Row;
use super::{DataError, QueryOptions, State};

/// Most records a Bulk 1.0 batch or a Bulk 2.0 upload takes.
pub const MAX_RECORDS: usize = 10_000;
/// Most jobs kept per org; the oldest finished ones go first.
const MAX_JOBS: usize = 1_000;

/// Which API a job belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    V1,
    Ingest,
    Query,
}

/// The outcome of one record: its id and whether it was created, or its error.
pub type Outcome = Result<(String, bool), DataError>;

/// A Bulk 1.0 batch, or the single upload of a Bulk 2.0 ingest job.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: String,
    pub state: String,
    pub state_message: Option<String>,
    pub created: String,
    /// The records as sent (field → value).
    pub records: Vec<BTreeMap<String, String>>,
    pub outcomes: Vec<Outcome>,
    /// A query batch's rows.
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub org_id: String,
    pub operation: String,
    pub object: String,
    pub content_type: String,
    pub external_id: Option<String>,
    pub state: String,
    pub created_by: String,
    pub created: String,
    pub modified: String,
    pub api_version: String,
    /// Bulk 2.0 query: its SOQL; the column order of uploads.
    pub query: Option<String>,
    pub columns: Vec<String>,
    pub error_message: Option<String>,
    pub batches: Vec<Batch>,
}

impl Job {
    pub fn records_processed(&self) -> usize {
        self.batches
            .iter()
            .map(|b| b.outcomes.len() + b.rows.len())
            .sum()
    }

    pub fn records_failed(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|b| &b.outcomes)
            .filter(|o| o.is_err())
            .count()
    }
}

/// What a new job is.
pub struct NewJob<'a> {
    pub kind: JobKind,
    pub operation: &'a str,
    pub object: &'a str,
    pub content_type: &'a str,
    pub external_id: Option<&'a str>,
    pub api_version: &'a str,
    pub query: Option<&'a str>,
}

impl State {
    /// Creates a job; INVALID_TYPE for an unknown object.
    pub fn create_job(
        &self,
        org_id: &str,
        user_id: &str,
        new: NewJob<'_>,
    ) -> Result<Job, DataError> {
        let object = match new.query {
            Some(_) => new.object.to_string(),
            None => self.schema(new.object)?.name.clone(),
        };
        let mut inner = self.lock();
        let n = inner.next_id;
        inner.next_id += 1;
        let now = dates::now();
        let job = Job {
            id: ids::record_id("750", org_id, n),
            kind: new.kind,
            org_id: org_id.to_string(),
            operation: new.operation.to_string(),
            object,
            content_type: new.content_type.to_string(),
            external_id: new.external_id.map(str::to_string),
            state: "Open".into(),
            created_by: user_id.to_string(),
            created: now.clone(),
            modified: now,
            api_version: new.api_version.to_string(),
            query: new.query.map(str::to_string),
            columns: Vec::new(),
            error_message: None,
            batches: Vec::new(),
        };
        let jobs = inner.jobs.entry(org_id.to_string()).or_default();
        if jobs.len() >= MAX_JOBS
            && let Some(i) = jobs.iter().position(|j| j.state != "Open")
        {
            jobs.remove(i);
        }
        jobs.push(job.clone());
        Ok(job)
    }

    /// Job `id` of the org.
    pub fn job(&self, org_id: &str, id: &str) -> Option<Job> {
        let inner = self.lock();
        inner.jobs.get(org_id)?.iter().find(|j| j.id == id).cloned()
    }

    /// The org's jobs of `kind`.
    pub fn jobs(&self, org_id: &str, kind: JobKind) -> Vec<Job> {
        let inner = self.lock();
        inner
            .jobs
            .get(org_id)
            .map(|js| js.iter().filter(|j| j.kind == kind).cloned().collect())
            .unwrap_or_default()
    }

    /// Changes job `id` with `change`; returns it as changed.
    pub fn update_job(&self, org_id: &str, id: &str, change: impl FnOnce(&mut Job)) -> Option<Job> {
        let mut inner = self.lock();
        let job = inner
            .jobs
            .get_mut(org_id)?
            .iter_mut()
            .find(|j| j.id == id)?;
        change(job);
        job.modified = dates::now();
        Some(job.clone())
    }

    /// Removes job `id` (Bulk 2.0 DELETE).
    pub fn delete_job(&self, org_id: &str, id: &str) -> bool {
        let mut inner = self.lock();
        let Some(jobs) = inner.jobs.get_mut(org_id) else {
            return false;
        };
        let before = jobs.len();
        jobs.retain(|j| j.id != id);
        jobs.len() != before
    }

    /// Runs `records` as the job's operation and stores them as a batch of
    /// it (a failed batch when there are too many); returns the batch.
    pub fn run_batch(
        &self,
        job: &Job,
        user_id: &str,
        records: Vec<BTreeMap<String, String>>,
    ) -> Option<Batch> {
        let (state, message, outcomes) = if records.len() > MAX_RECORDS {
            let message = format!("The number of records in a batch exceeded {MAX_RECORDS}");
            ("Failed", Some(message), Vec::new())
        } else {
            let outcomes = records
                .iter()
                .map(|r| self.save_one(job, user_id, r))
                .collect();
            ("Completed", None, outcomes)
        };
        self.store_batch(job, records, outcomes, Vec::new(), state, message)
    }

    /// Runs a query batch (Bulk 1.0) or job (Bulk 2.0): every row, unpaged.
    pub fn run_query_batch(&self, job: &Job, soql: &str) -> Option<Batch> {
        let all_rows = job.operation == "queryAll";
        let options = QueryOptions {
            all_rows,
            batch_size: None,
            whole: true,
        };
        let (rows, state, message) = match self.query(&job.org_id, soql, options) {
            Ok(page) => (page.rows, "Completed", None),
            Err(e) => (
                Vec::new(),
                "Failed",
                Some(format!("{}: {}", e.code, e.message)),
            ),
        };
        self.store_batch(job, Vec::new(), Vec::new(), rows, state, message)
    }

    fn store_batch(
        &self,
        job: &Job,
        records: Vec<BTreeMap<String, String>>,
        outcomes: Vec<Outcome>,
        rows: Vec<Row>,
        state: &str,
        message: Option<String>,
    ) -> Option<Batch> {
        let n = {
            let mut inner = self.lock();
            inner.next_id += 1;
            inner.next_id
        };
        let batch = Batch {
            id: ids::record_id("751", &job.org_id, n),
            state: state.to_string(),
            state_message: message,
            created: dates::now(),
            records,
            outcomes,
            rows,
        };
        self.update_job(&job.org_id, &job.id, |j| j.batches.push(batch.clone()))?;
        Some(batch)
    }

    /// One record of a DML job.
    fn save_one(&self, job: &Job, user_id: &str, record: &BTreeMap<String, String>) -> Outcome {
        let org = &job.org_id;
        let mut fields = record.clone();
        let id = fields
            .remove("Id")
            .or_else(|| fields.remove("ID"))
            .or_else(|| fields.remove("id"));
        let need_id = || {
            DataError::new(
                "MISSING_ARGUMENT",
                400,
                "Id not specified in an update call",
            )
        };
        match job.operation.as_str() {
            "insert" => self
                .create(org, user_id, &job.object, &fields)
                .map(|id| (id, true)),
            "update" => {
                let id = id.filter(|i| !i.is_empty()).ok_or_else(need_id)?;
                self.update(org, user_id, &id, &fields)
                    .map(|()| (id, false))
            }
            "upsert" => {
                let ext = job.external_id.clone().unwrap_or_else(|| "Id".into());
                let value = match (
                    &id,
                    fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(&ext)),
                ) {
                    (_, Some((_, v))) => v.clone(),
                    (Some(id), None) if ext == "Id" => id.clone(),
                    _ => String::new(),
                };
                self.upsert(org, user_id, &job.object, &ext, &value, &fields)
            }
            "delete" | "hardDelete" => {
                let id = id.filter(|i| !i.is_empty()).ok_or_else(need_id)?;
                self.delete(org, user_id, &id).map(|()| (id, false))
            }
            other => Err(DataError::new(
                "INVALID_OPERATION",
                400,
                format!("Invalid operation: {other}"),
            )),
        }
    }
}
