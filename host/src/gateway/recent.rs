//! The last problems the callers' listener answered, newest first, for the
//! admin dashboard: when, where (tenant and workflow, or the front door's
//! API), which code and request id; never a detail, a header or a body.
//! Bounded: the oldest falls off.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::problem::ProblemCode;

/// How many problems are kept.
pub const KEPT: usize = 50;

/// One problem answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recent {
    /// RFC 3339, UTC.
    pub at: String,
    pub tenant: Option<String>,
    pub workflow: Option<String>,
    /// The front door's API (`rest`, `soap-partner`, `bulk2`, ...).
    pub api: Option<&'static str>,
    pub status: u16,
    pub code: &'static str,
    pub request_id: String,
}

/// The ring of recent problems.
#[derive(Debug, Default)]
pub struct Problems {
    ring: Mutex<VecDeque<Recent>>,
}

impl Problems {
    /// Remembers one problem (dropping the oldest past [`KEPT`]): at a
    /// workflow, or at the front door's `api`.
    pub fn record(
        &self,
        code: ProblemCode,
        status: u16,
        tenant: Option<&str>,
        workflow: Option<&str>,
        api: Option<&'static str>,
        request_id: &str,
    ) {
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let entry = Recent {
            at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            tenant: tenant.map(str::to_string),
            workflow: workflow.map(str::to_string),
            api,
            status,
            code: code.code(),
            request_id: request_id.to_string(),
        };
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.push_front(entry);
        ring.truncate(KEPT);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<Recent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_and_bounded() {
        let problems = Problems::default();
        for i in 0..KEPT + 5 {
            let id = format!("r{i}");
            problems.record(
                ProblemCode::UnknownRoute,
                404,
                Some("acme"),
                Some("user"),
                None,
                &id,
            );
        }
        let list = problems.list();
        assert_eq!(list.len(), KEPT);
        assert_eq!(list[0].request_id, format!("r{}", KEPT + 4));
        assert_eq!(list[KEPT - 1].request_id, "r5");
        assert_eq!(list[0].code, "unknown_route");
        assert_eq!(list[0].tenant.as_deref(), Some("acme"));
    }
}
