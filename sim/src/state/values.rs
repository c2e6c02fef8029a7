//! Field values as Salesforce checks and keeps them: read by the field's
//! type (numbers, booleans, dates and date-times normalized; too long, not
//! a number, a bad email or id refused), and the system and computed
//! fields every write sets.

use super::super::dates;
use super::super::schema::{Field, FieldType, Object};
use super::records::{DataError, Record};

/// A value as the field's type reads it: numbers, booleans, dates and
/// date-times normalized; too long, not a number, a bad email or id refused.
pub(super) fn check_value(field: &Field, value: &str) -> Result<String, DataError> {
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
pub(super) fn stamp(
    object: &Object,
    record: &mut Record,
    user_id: &str,
    number: u64,
    created: bool,
) {
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
