//! Records and queries: create, update, upsert, delete, get, snapshots for
//! composite rollback, and query cursors.

use std::collections::BTreeMap;

use super::super::config::ObjectSchema;
use super::super::ids;
use super::super::soql::Query;
use super::{Inner, State};

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

/// A data error, with what both SOAP (statusCode) and REST (errorCode, HTTP status) need.
#[derive(Debug, Clone)]
pub struct DataError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
    pub http_status: u16,
}

impl DataError {
    pub(super) fn new(code: &'static str, http_status: u16, message: impl Into<String>) -> Self {
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

pub(super) struct Cursor {
    org_id: String,
    object: String,
    fields: Vec<String>,
    records: Vec<Record>,
}

impl State {
    pub(super) fn schema(&self, object: &str) -> Result<&ObjectSchema, DataError> {
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
