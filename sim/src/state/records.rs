//! Records: create, update, upsert, delete (kept, flagged IsDeleted, for
//! queryAll and getDeleted), get, and snapshots for composite rollback.
//! Every write checks names and values against the schema (types, lengths,
//! read-only fields, required fields) and keeps the system fields
//! (CreatedDate, LastModifiedById, OwnerId...) and computed ones (a
//! person's Name, CaseNumber) as Salesforce does.

use std::collections::BTreeMap;

use super::super::ids;
use super::super::schema::{Field, Object};
use super::values::{check_value, stamp};
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
        if field == "Id" {
            return Some(&self.id);
        }
        self.fields.get(field).map(String::as_str)
    }

    pub fn is_deleted(&self) -> bool {
        self.get("IsDeleted") == Some("true")
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
    pub fn new(code: &'static str, http_status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            http_status,
        }
    }

    pub(super) fn on(mut self, field: &str) -> Self {
        self.fields.push(field.to_string());
        self
    }
}

/// Whether a write creates or updates (which fields it may set).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
}

impl State {
    /// The object named `object`, or INVALID_TYPE.
    pub fn schema(&self, object: &str) -> Result<&Object, DataError> {
        self.config.object(object).ok_or_else(|| {
            DataError::new(
                "INVALID_TYPE",
                400,
                format!("sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."),
            )
        })
    }

    /// Canonical names and checked values; "" clears a field.
    fn check_fields(
        object: &Object,
        fields: &BTreeMap<String, String>,
        write: Write,
    ) -> Result<BTreeMap<String, String>, DataError> {
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            if name.eq_ignore_ascii_case("Id") {
                return Err(DataError::new(
                    "INVALID_FIELD",
                    400,
                    "The Id field should not be specified in the sobject data.",
                )
                .on("Id"));
            }
            let field = object.field(name).ok_or_else(|| {
                DataError::new(
                    "INVALID_FIELD",
                    400,
                    format!("No such column '{name}' on sobject of type {}", object.name),
                )
                .on(name)
            })?;
            let allowed = match write {
                Write::Create => field.createable,
                Write::Update => field.updateable,
            };
            if !allowed {
                let verb = if write == Write::Create {
                    "create"
                } else {
                    "update"
                };
                return Err(DataError::new(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    400,
                    format!("Unable to {verb} fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", field.name),
                )
                .on(&field.name));
            }
            let value = if value.is_empty() {
                String::new()
            } else {
                check_value(field, value)?
            };
            out.insert(field.name.clone(), value);
        }
        Ok(out)
    }

    /// Creates a record as `user_id`; returns its id.
    pub fn create(
        &self,
        org_id: &str,
        user_id: &str,
        object: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<String, DataError> {
        let schema = self.schema(object)?;
        let mut fields = Self::check_fields(schema, fields, Write::Create)?;
        fields.retain(|_, v| !v.is_empty());
        for field in &schema.fields {
            if let (Some(default), false) = (&field.default, fields.contains_key(&field.name)) {
                fields.insert(field.name.clone(), default.clone());
            }
        }
        let missing: Vec<String> = schema
            .fields
            .iter()
            .filter(|f| f.required() && !fields.contains_key(&f.name))
            .map(|f| f.name.clone())
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
        let n = inner.next_id;
        inner.next_id += 1;
        let id = ids::record_id(&schema.key_prefix, org_id, n);
        let mut record = Record {
            object: schema.name.clone(),
            id: id.clone(),
            fields,
        };
        stamp(schema, &mut record, user_id, n, true);
        inner
            .records
            .entry(org_id.to_string())
            .or_default()
            .push(record);
        Ok(id)
    }

    /// Updates fields of record `id` (15 or 18 characters) as `user_id`.
    pub fn update(
        &self,
        org_id: &str,
        user_id: &str,
        id: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DataError> {
        let mut inner = self.lock();
        let record = find_live(&mut inner, org_id, id)?;
        let schema = self.schema(&record.object)?;
        let fields = Self::check_fields(schema, fields, Write::Update)?;
        for (name, value) in fields {
            let cleared = value.is_empty();
            if cleared && schema.field(&name).is_some_and(|f| !f.nillable) {
                return Err(DataError::new(
                    "REQUIRED_FIELD_MISSING",
                    400,
                    format!("Required fields are missing: [{name}]"),
                )
                .on(&name));
            }
            if cleared {
                record.fields.remove(&name);
            } else {
                record.fields.insert(name, value);
            }
        }
        stamp(schema, record, user_id, 0, false);
        Ok(())
    }

    /// Upserts by external id (or `Id`); returns (id, created).
    pub fn upsert(
        &self,
        org_id: &str,
        user_id: &str,
        object: &str,
        external_field: &str,
        value: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<(String, bool), DataError> {
        let schema = self.schema(object)?;
        let ext = external_id_field(schema, external_field)?;
        let mut fields = fields.clone();
        fields.retain(|k, _| !k.eq_ignore_ascii_case(&ext.name));
        let found = self.find_by_external_id(org_id, schema, &ext.name, value)?;
        match found {
            None if ext.name == "Id" => Err(not_found()),
            None => {
                fields.insert(ext.name.clone(), value.to_string());
                self.create(org_id, user_id, object, &fields)
                    .map(|id| (id, true))
            }
            Some(id) => self
                .update(org_id, user_id, &id, &fields)
                .map(|()| (id, false)),
        }
    }

    /// The id of the live record of `object` whose `field` is `value`;
    /// MULTIPLE_CHOICES (300) when there are several.
    pub fn find_by_external_id(
        &self,
        org_id: &str,
        object: &Object,
        field: &str,
        value: &str,
    ) -> Result<Option<String>, DataError> {
        let inner = self.lock();
        let matches: Vec<&Record> = inner
            .records
            .get(org_id)
            .map(|rs| {
                rs.iter()
                    .filter(|r| r.object == object.name && !r.is_deleted())
                    .filter(|r| {
                        if field == "Id" {
                            same_id(&r.id, value)
                        } else {
                            r.get(field).is_some_and(|v| v.eq_ignore_ascii_case(value))
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        match matches.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.id.clone())),
            _ => Err(DataError::new(
                "MULTIPLE_CHOICES",
                300,
                format!(
                    "More than one record found for external id field {field} with value {value}"
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

    /// Deletes record `id`: it stays, IsDeleted, for queryAll and getDeleted.
    pub fn delete(&self, org_id: &str, user_id: &str, id: &str) -> Result<(), DataError> {
        let mut inner = self.lock();
        let record = find_live(&mut inner, org_id, id)?;
        record.fields.insert("IsDeleted".into(), "true".into());
        if let Some(schema) = self.config.object(&record.object) {
            stamp(schema, record, user_id, 0, false);
        }
        Ok(())
    }

    /// Live record `id` of type `object`.
    pub fn get(&self, org_id: &str, object: &str, id: &str) -> Result<Record, DataError> {
        let schema = self.schema(object)?;
        let inner = self.lock();
        let record = inner
            .records
            .get(org_id)
            .and_then(|rs| {
                rs.iter()
                    .find(|r| same_id(&r.id, id) && r.object == schema.name)
            })
            .ok_or_else(not_found)?;
        if record.is_deleted() {
            return Err(deleted());
        }
        Ok(record.clone())
    }
}

/// The field an external-id URL or upsert names: `Id` or an external id.
pub fn external_id_field<'a>(object: &'a Object, name: &str) -> Result<&'a Field, DataError> {
    object
        .external_ids()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            DataError::new(
                "NOT_FOUND",
                404,
                format!("Provided external ID field does not exist or is not accessible: {name}"),
            )
        })
}

pub(super) fn not_found() -> DataError {
    DataError::new("NOT_FOUND", 404, "The requested resource does not exist")
}

fn deleted() -> DataError {
    DataError::new("ENTITY_IS_DELETED", 404, "entity is deleted")
}

/// 15- and 18-character forms of one id are the same record.
pub fn same_id(stored: &str, given: &str) -> bool {
    stored == given || (given.len() == 15 && stored.starts_with(given))
}

/// The record `id`, NOT_FOUND when unknown, ENTITY_IS_DELETED when deleted.
fn find_live<'a>(
    inner: &'a mut Inner,
    org_id: &str,
    id: &str,
) -> Result<&'a mut Record, DataError> {
    let record = inner
        .records
        .get_mut(org_id)
        .and_then(|rs| rs.iter_mut().find(|r| same_id(&r.id, id)))
        .ok_or_else(not_found)?;
    if record.is_deleted() {
        return Err(deleted());
    }
    Ok(record)
}

/// The record as seeded or created: system fields set by `user_id`.
pub(super) fn seeded(
    object: &Object,
    id: String,
    fields: BTreeMap<String, String>,
    user_id: &str,
    number: u64,
) -> Record {
    let mut record = Record {
        object: object.name.clone(),
        id,
        fields,
    };
    stamp(object, &mut record, user_id, number, true);
    record
}
