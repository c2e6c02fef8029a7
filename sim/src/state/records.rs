//! Records: create, update, upsert, delete (kept, flagged IsDeleted, for
//! queryAll and getDeleted), get, and snapshots for composite rollback.
//! Every write checks names and values against the schema (types, lengths,
//! read-only fields, required fields) and keeps the system fields
//! (CreatedDate, LastModifiedById, OwnerId...) and computed ones (a
//! person's Name, CaseNumber) as Salesforce does.

use std::collections::BTreeMap;

use super::super::dates;
use super::super::ids;
use super::super::schema::{Field, FieldType, Object};
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

    fn on(mut self, field: &str) -> Self {
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

/// A value as the field's type reads it: numbers, booleans, dates and
/// date-times normalized; too long, not a number, a bad email or id refused.
fn check_value(field: &Field, value: &str) -> Result<String, DataError> {
    let wrong = || {
        DataError::new(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            400,
            format!("{}: value not of required type: {value}", field.label),
        )
        .on(&field.name)
    };
    let out = match field.kind {
        FieldType::Boolean => match value.to_ascii_lowercase().as_str() {
            "true" | "1" => "true".to_string(),
            "false" | "0" => "false".to_string(),
            _ => return Err(wrong()),
        },
        FieldType::Int => value.parse::<i64>().map_err(|_| wrong())?.to_string(),
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            let n: f64 = value.parse().map_err(|_| wrong())?;
            if !n.is_finite() {
                return Err(wrong());
            }
            value.trim().to_string()
        }
        FieldType::Date => {
            let date = value
                .get(..10)
                .and_then(dates::parse_date)
                .ok_or_else(wrong)?;
            dates::format_date(date)
        }
        FieldType::Datetime => {
            dates::format_datetime(dates::parse_datetime(value).ok_or_else(wrong)?)
        }
        FieldType::Id | FieldType::Reference => {
            if !(value.len() == 15 || value.len() == 18)
                || !value.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return Err(DataError::new(
                    "FIELD_INTEGRITY_EXCEPTION",
                    400,
                    format!("{}: id value of incorrect type: {value}", field.label),
                )
                .on(&field.name));
            }
            value.to_string()
        }
        FieldType::Email if !is_email(value) => {
            return Err(DataError::new(
                "INVALID_EMAIL_ADDRESS",
                400,
                format!("{}: invalid email address: {value}", field.label),
            )
            .on(&field.name));
        }
        _ => value.to_string(),
    };
    if field.length > 0 && out.chars().count() > field.length as usize && !field.kind.is_number() {
        let shown: String = out.chars().take(64).collect();
        return Err(DataError::new(
            "STRING_TOO_LONG",
            400,
            format!(
                "{}: data value too large: {shown} (max length={})",
                field.label, field.length
            ),
        )
        .on(&field.name));
    }
    Ok(out)
}

fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
}

/// Sets the system fields of a write and recomputes the computed ones.
fn stamp(object: &Object, record: &mut Record, user_id: &str, number: u64, created: bool) {
    let now = dates::now();
    let f = &mut record.fields;
    if created {
        f.insert("CreatedDate".into(), now.clone());
        f.insert("CreatedById".into(), user_id.to_string());
        f.entry("IsDeleted".into())
            .or_insert_with(|| "false".into());
        if object.field("OwnerId").is_some() {
            f.entry("OwnerId".into())
                .or_insert_with(|| user_id.to_string());
        }
        if object.name == "Case" {
            f.insert("CaseNumber".into(), format!("{:08}", 1000 + number));
        }
    }
    f.insert("LastModifiedDate".into(), now.clone());
    f.insert("LastModifiedById".into(), user_id.to_string());
    f.insert("SystemModstamp".into(), now);
    if object.field("Name").is_some_and(|n| !n.createable) {
        let name: Vec<&str> = ["FirstName", "LastName"]
            .iter()
            .filter_map(|k| f.get(*k).map(String::as_str))
            .collect();
        f.insert("Name".into(), name.join(" "));
    }
    if object.name == "Opportunity" {
        let stage = f.get("StageName").cloned().unwrap_or_default();
        f.insert("IsClosed".into(), stage.starts_with("Closed").to_string());
        f.insert("IsWon".into(), (stage == "Closed Won").to_string());
    }
    if object.name == "Case" {
        let closed = f.get("Status").is_some_and(|s| s == "Closed");
        f.insert("IsClosed".into(), closed.to_string());
    }
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
