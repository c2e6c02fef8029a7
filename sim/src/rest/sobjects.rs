//! `/sobjects`: Describe Global, basic info, sObject Describe, create,
//! read (with `?fields=`), update, delete, GET/PATCH/DELETE by external
//! id, and the updated/deleted replication lists.

use serde_json::{Value, json};

use super::super::dates;
use super::super::reply::Reply;
use super::super::schema::{Field, Object};
use super::super::state::{DataError, external_id_field};
use super::{Rest, data_error, fields, json as rjson, not_found, param};

pub fn route(api: &Rest<'_, '_>, method: &str, segs: &[&str], query: &str, body: &[u8]) -> Reply {
    let state = api.state();
    if segs.is_empty() {
        return match method {
            "GET" => describe_global(api),
            _ => not_found(),
        };
    }
    let Some(object) = state.config.object(segs[0]) else {
        return not_found();
    };
    match (method, &segs[1..]) {
        ("GET", []) => basic_info(api, object),
        ("POST", []) => match fields(body) {
            Ok(fields) => match state.create(api.org(), api.user(), &object.name, &fields) {
                Ok(id) => saved(201, &id, None),
                Err(e) => data_error(&e),
            },
            Err(reply) => reply,
        },
        ("GET", ["describe"]) => Reply::json(200, &describe(api.version, object)),
        ("GET", [kind @ ("updated" | "deleted")]) => replication(api, object, kind, query),
        ("GET", [id]) => match state.get(api.org(), &object.name, id) {
            Ok(record) => {
                let wanted = param(query, "fields");
                let list: Option<Vec<&str>> = wanted
                    .as_deref()
                    .map(|f| f.split(',').map(str::trim).collect());
                if let Some(bad) = list.iter().flatten().find(|f| object.field(f).is_none()) {
                    return data_error(&DataError::new(
                        "INVALID_FIELD",
                        400,
                        format!("No such column '{bad}' on sobject of type {}", object.name),
                    ));
                }
                Reply::json(
                    200,
                    &rjson::record(api.version, object, &record, list.as_deref()),
                )
            }
            Err(e) => data_error(&e),
        },
        ("PATCH", [id]) => match fields(body) {
            Ok(fields) => match state
                .get(api.org(), &object.name, id)
                .and_then(|_| state.update(api.org(), api.user(), id, &fields))
            {
                Ok(()) => Reply::empty(204),
                Err(e) => data_error(&e),
            },
            Err(reply) => reply,
        },
        ("DELETE", [id]) => match state
            .get(api.org(), &object.name, id)
            .and_then(|_| state.delete(api.org(), api.user(), id))
        {
            Ok(()) => Reply::empty(204),
            Err(e) => data_error(&e),
        },
        ("PATCH", [field, value]) => match fields(body) {
            Ok(fields) => {
                match state.upsert(api.org(), api.user(), &object.name, field, value, &fields) {
                    Ok((id, created)) => saved(if created { 201 } else { 200 }, &id, Some(created)),
                    Err(e) => data_error(&e),
                }
            }
            Err(reply) => reply,
        },
        ("GET" | "DELETE", [field, value]) => {
            let found = external_id_field(object, field)
                .and_then(|f| state.find_by_external_id(api.org(), object, &f.name, value))
                .and_then(|id| {
                    id.ok_or_else(|| {
                        DataError::new("NOT_FOUND", 404, "The requested resource does not exist")
                    })
                });
            let id = match found {
                Ok(id) => id,
                Err(e) => return data_error(&e),
            };
            let outcome = if method == "GET" {
                state
                    .get(api.org(), &object.name, &id)
                    .map(|r| Reply::json(200, &rjson::record(api.version, object, &r, None)))
            } else {
                state
                    .delete(api.org(), api.user(), &id)
                    .map(|()| Reply::empty(204))
            };
            outcome.unwrap_or_else(|e| data_error(&e))
        }
        _ => not_found(),
    }
}

/// A save result: `{"id":..,"success":true,"errors":[]}` (and `created` for upsert).
pub fn saved(status: u16, id: &str, created: Option<bool>) -> Reply {
    let mut body = json!({ "id": id, "errors": [], "success": true });
    if let Some(created) = created {
        body["created"] = json!(created);
    }
    Reply::json(status, &body)
}

fn urls(version: &str, object: &Object) -> Value {
    let base = format!("/services/data/v{version}/sobjects/{}", object.name);
    json!({
        "compactLayouts": format!("{base}/describe/compactLayouts"),
        "rowTemplate": format!("{base}/{{ID}}"),
        "approvalLayouts": format!("{base}/describe/approvalLayouts"),
        "defaultValues": format!("{base}/defaultValues?recordTypeId&fields"),
        "describe": format!("{base}/describe"),
        "quickActions": format!("{base}/quickActions"),
        "layouts": format!("{base}/describe/layouts"),
        "sobject": base,
    })
}

/// An object's entry of Describe Global (also the head of its describe).
pub fn summary(version: &str, object: &Object) -> Value {
    let user = object.name == "User";
    json!({
        "activateable": false,
        "createable": !user,
        "custom": object.custom,
        "customSetting": false,
        "deletable": !user,
        "deprecatedAndHidden": false,
        "feedEnabled": !object.custom,
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": object.key_prefix,
        "label": object.label,
        "labelPlural": object.label_plural,
        "layoutable": true,
        "mergeable": matches!(object.name.as_str(), "Account" | "Contact" | "Lead" | "Case"),
        "mruEnabled": true,
        "name": object.name,
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": true,
        "triggerable": true,
        "undeletable": !user,
        "updateable": true,
        "urls": urls(version, object),
    })
}

fn describe_global(api: &Rest<'_, '_>) -> Reply {
    let objects: Vec<Value> = api
        .state()
        .config
        .schema
        .objects
        .iter()
        .map(|o| summary(api.version, o))
        .collect();
    Reply::json(
        200,
        &json!({ "encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects }),
    )
}

/// `GET /sobjects/{type}`: the object's summary and its most recently changed records.
fn basic_info(api: &Rest<'_, '_>, object: &Object) -> Reply {
    let text = format!(
        "SELECT Id, {} FROM {} ORDER BY LastModifiedDate DESC LIMIT 5",
        name_field(object),
        object.name
    );
    let recent = match api.state().query(api.org(), &text, Default::default()) {
        Ok(page) => page
            .rows
            .iter()
            .map(|r| rjson::row(api.version, r))
            .collect(),
        Err(_) => Vec::new(),
    };
    Reply::json(
        200,
        &json!({ "objectDescribe": summary(api.version, object), "recentItems": recent }),
    )
}

fn name_field(object: &Object) -> &str {
    if object.field("Name").is_some() {
        "Name"
    } else if object.field("CaseNumber").is_some() {
        "CaseNumber"
    } else {
        "Id"
    }
}

/// sObject Describe: the summary, fields and child relationships.
pub fn describe(version: &str, object: &Object) -> Value {
    let mut out = summary(version, object);
    let name_field = name_field(object);
    let fields: Vec<Value> = object
        .fields
        .iter()
        .map(|f| field(f, f.name == name_field))
        .collect();
    let children: Vec<Value> = object
        .children
        .iter()
        .map(|c| {
            json!({
                "cascadeDelete": false,
                "childSObject": c.child,
                "deprecatedAndHidden": false,
                "field": c.field,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": c.name,
                "restrictedDelete": false,
            })
        })
        .collect();
    out["actionOverrides"] = json!([]);
    out["childRelationships"] = json!(children);
    out["compactLayoutable"] = json!(true);
    out["fields"] = json!(fields);
    out["listviewable"] = Value::Null;
    out["lookupLayoutable"] = Value::Null;
    out["namedLayoutInfos"] = json!([]);
    out["networkScopeFieldName"] = Value::Null;
    out["recordTypeInfos"] = json!([]);
    out["searchLayoutable"] = json!(true);
    out["sobjectDescribeOption"] = json!("FULL");
    out["supportedScopes"] = json!([{ "label": "All records", "name": "everything" }]);
    out
}

fn field(f: &Field, name_field: bool) -> Value {
    use super::super::schema::FieldType as T;
    let text = f.kind.is_text() || matches!(f.kind, T::Id | T::Reference);
    let (precision, scale, digits) = match f.kind {
        T::Currency | T::Double | T::Percent => (18, 2, 0),
        T::Int => (0, 0, 9),
        _ => (0, 0, 0),
    };
    let picklist: Vec<Value> = f
        .picklist
        .iter()
        .map(|v| json!({ "active": true, "defaultValue": f.default.as_deref() == Some(v), "label": v, "validFor": null, "value": v }))
        .collect();
    json!({
        "aggregatable": f.kind != T::Textarea,
        "autoNumber": f.name == "CaseNumber",
        "byteLength": if text { f.length * 3 } else { 0 },
        "calculated": false,
        "calculatedFormula": null,
        "cascadeDelete": false,
        "caseSensitive": false,
        "compoundFieldName": null,
        "controllerName": null,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": if f.kind == T::Boolean { json!(f.default.as_deref() == Some("true")) } else { json!(f.default) },
        "defaultValueFormula": null,
        "defaultedOnCreate": f.defaulted_on_create,
        "dependentPicklist": false,
        "deprecatedAndHidden": false,
        "digits": digits,
        "displayLocationInDecimal": false,
        "encrypted": false,
        "externalId": f.external_id,
        "extraTypeInfo": null,
        "filterable": f.kind != T::Textarea,
        "filteredLookupInfo": null,
        "groupable": !matches!(f.kind, T::Textarea | T::Double | T::Currency | T::Percent | T::Datetime),
        "highScaleNumber": false,
        "htmlFormatted": false,
        "idLookup": f.name == "Id" || f.external_id,
        "inlineHelpText": null,
        "label": f.label,
        "length": if text { f.length } else { 0 },
        "mask": null,
        "maskType": null,
        "name": f.name,
        "nameField": name_field,
        "namePointing": false,
        "nillable": f.nillable,
        "permissionable": f.nillable && !f.custom,
        "picklistValues": picklist,
        "polymorphicForeignKey": false,
        "precision": precision,
        "queryByDistance": false,
        "referenceTargetField": null,
        "referenceTo": f.reference_to,
        "relationshipName": f.relationship_name,
        "relationshipOrder": null,
        "restrictedDelete": false,
        "restrictedPicklist": false,
        "scale": scale,
        "searchPrefilterable": false,
        "soapType": f.kind.soap_type(),
        "sortable": f.kind != T::Textarea,
        "type": f.kind.name(),
        "unique": f.unique,
        "updateable": f.updateable,
        "writeRequiresMasterRead": false,
    })
}

/// `updated/?start=..&end=..` and `deleted/?start=..&end=..`.
fn replication(api: &Rest<'_, '_>, object: &Object, kind: &str, query: &str) -> Reply {
    let read = |name: &str| {
        param(query, name)
            .and_then(|v| dates::parse_datetime(&v))
            .map(dates::format_datetime)
    };
    let (Some(start), Some(end)) = (read("start"), read("end")) else {
        return Reply::rest_error(
            400,
            "MISSING_ARGUMENT",
            "start and end are required, as date-times (2024-05-01T00:00:00Z)",
        );
    };
    if start > end {
        return Reply::rest_error(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        );
    }
    let deleted = kind == "deleted";
    let text = format!(
        "SELECT Id, LastModifiedDate FROM {} WHERE IsDeleted = {deleted} AND LastModifiedDate >= {} AND LastModifiedDate <= {} ORDER BY LastModifiedDate",
        object.name,
        start.replace("+0000", "Z").replace(".000Z", "Z"),
        end.replace("+0000", "Z").replace(".000Z", "Z"),
    );
    let options = super::super::state::QueryOptions {
        all_rows: true,
        batch_size: Some(2000),
        ..Default::default()
    };
    let page = match api.state().query(api.org(), &text, options) {
        Ok(page) => page,
        Err(e) => return data_error(&e),
    };
    let values = |row: &super::super::state::Row| -> (String, String) {
        let modified = row.cells.iter().find_map(|(n, c)| match c {
            super::super::state::Cell::Value(Some(v), _) if n == "LastModifiedDate" => {
                Some(v.clone())
            }
            _ => None,
        });
        (
            row.id.clone().unwrap_or_default(),
            modified.unwrap_or_default(),
        )
    };
    if deleted {
        let records: Vec<Value> = page
            .rows
            .iter()
            .map(values)
            .map(|(id, at)| json!({ "id": id, "deletedDate": at }))
            .collect();
        Reply::json(
            200,
            &json!({ "deletedRecords": records, "earliestDateAvailable": start, "latestDateCovered": end }),
        )
    } else {
        let ids: Vec<String> = page.rows.iter().map(values).map(|(id, _)| id).collect();
        Reply::json(200, &json!({ "ids": ids, "latestDateCovered": end }))
    }
}
