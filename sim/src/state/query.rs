//! Queries: SOQL text parsed, planned against the schema and run over the
//! org's records under the state's lock; result rows (values, parent
//! records, child lists) kept behind a query locator when they span pages.

use super::super::ids;
use super::super::schema::FieldType;
use super::super::soql::{self, QueryError};
use super::State;
use super::eval::Data;
use super::plan;
use super::records::{DataError, Record};

/// One cell of a result row.
#[derive(Debug, Clone)]
pub enum Cell {
    /// A value (None: null) and its field's type, for typed JSON.
    Value(Option<String>, FieldType),
    /// A parent record reached through a relationship (None: no parent).
    Parent(Option<Box<Row>>),
    /// A child subquery's records (None: none).
    Children(Option<Children>),
}

#[derive(Debug, Clone)]
pub struct Children {
    pub total: usize,
    pub rows: Vec<Row>,
}

/// One record of a result: its type, id, and the selected cells in order.
#[derive(Debug, Clone)]
pub struct Row {
    pub object: String,
    /// None for an AggregateResult.
    pub id: Option<String>,
    pub cells: Vec<(String, Cell)>,
}

impl Row {
    pub fn of(record: &Record) -> Self {
        Self {
            object: record.object.clone(),
            id: Some(record.id.clone()),
            cells: Vec::new(),
        }
    }

    /// Whether `Id` was selected.
    pub fn has_id(&self) -> bool {
        self.cells.iter().any(|(n, _)| n == "Id")
    }
}

/// How a query runs: queryAll includes deleted records; the batch size is
/// `Sforce-Query-Options: batchSize=n` (200 to 2000).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryOptions {
    pub all_rows: bool,
    pub batch_size: Option<usize>,
    /// Every row in one page, no cursor (Bulk results).
    pub whole: bool,
}

/// One page of query results.
#[derive(Debug)]
pub struct QueryPage {
    pub object: String,
    pub rows: Vec<Row>,
    pub total: usize,
    /// `locator-offset` of the next page, when there is one.
    pub next: Option<String>,
}

pub(super) struct Cursor {
    org_id: String,
    object: String,
    rows: Vec<Row>,
    total: usize,
    batch: usize,
}

/// Open cursors kept at most; the oldest beyond it are dropped.
const MAX_CURSORS: usize = 10_000;

/// A query error with its message rendered as Salesforce renders it.
pub fn query_error(e: QueryError, text: &str) -> DataError {
    DataError::new(e.code, 400, e.render(text))
}

impl State {
    /// Runs a query; rows beyond the batch size stay behind a cursor.
    pub fn query(
        &self,
        org_id: &str,
        text: &str,
        options: QueryOptions,
    ) -> Result<QueryPage, DataError> {
        let parsed = soql::parse(text).map_err(|e| query_error(e, text))?;
        self.query_parsed(org_id, &parsed, text, options)
    }

    /// Runs an already parsed query (`text` is what its errors quote).
    pub fn query_parsed(
        &self,
        org_id: &str,
        parsed: &soql::Query,
        text: &str,
        options: QueryOptions,
    ) -> Result<QueryPage, DataError> {
        let mut inner = self.lock();
        let (object, total, rows) = {
            let records: &[Record] = inner.records.get(org_id).map(Vec::as_slice).unwrap_or(&[]);
            let data = Data::new(records, options.all_rows);
            let plan = plan::plan(&self.config.schema, parsed, None, &data)
                .map_err(|e| query_error(e, text))?;
            let object = if plan.aggregate {
                "AggregateResult".to_string()
            } else {
                plan.object.name.clone()
            };
            let (total, rows) = data.run(&plan, None);
            (object, total, rows)
        };
        let batch = options
            .batch_size
            .map(|b| b.clamp(200, 2000))
            .unwrap_or(self.config.limits.query_batch_size)
            .max(1);
        if rows.len() <= batch || options.whole {
            return Ok(QueryPage {
                object,
                rows,
                total,
                next: None,
            });
        }
        let locator = ids::query_locator();
        if inner.cursors.len() >= MAX_CURSORS
            && let Some(oldest) = inner.cursor_order.pop_front()
        {
            inner.cursors.remove(&oldest);
        }
        inner.cursor_order.push_back(locator.clone());
        inner.cursors.insert(
            locator.clone(),
            Cursor {
                org_id: org_id.to_string(),
                object,
                rows,
                total,
                batch,
            },
        );
        drop(inner);
        self.page(org_id, &locator, 0)
    }

    /// The page of cursor `locator` starting at `offset`.
    pub fn page(&self, org_id: &str, locator: &str, offset: usize) -> Result<QueryPage, DataError> {
        let inner = self.lock();
        let cursor = inner
            .cursors
            .get(locator)
            .filter(|c| c.org_id == org_id && offset <= c.rows.len())
            .ok_or_else(|| DataError::new("INVALID_QUERY_LOCATOR", 400, "invalid query locator"))?;
        let end = (offset + cursor.batch).min(cursor.rows.len());
        Ok(QueryPage {
            object: cursor.object.clone(),
            rows: cursor.rows[offset..end].to_vec(),
            total: cursor.total,
            next: (end < cursor.rows.len()).then(|| format!("{locator}-{end}")),
        })
    }
}
