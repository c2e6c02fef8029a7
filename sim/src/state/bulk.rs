//! Bulk v1 jobs.

use super::super::ids;
use super::{DataError, State};

/// A Bulk v1 job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub operation: String,
    pub object: String,
    pub content_type: String,
    pub created_by: String,
}

impl State {
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
