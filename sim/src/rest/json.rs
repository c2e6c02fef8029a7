//! Records, query results and save results as REST writes them: typed
//! values (numbers, booleans), `attributes`, nested parents, child lists.

use serde_json::{Map, Value, json};

use super::super::schema::{FieldType, Object};
use super::super::state::{Cell, DataError, QueryPage, Record, Row};

/// A field's text as JSON of its type.
pub fn typed(value: Option<&str>, kind: FieldType) -> Value {
    let Some(v) = value else { return Value::Null };
    match kind {
        FieldType::Boolean => Value::Bool(v == "true"),
        FieldType::Int => v
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(v)),
        k if k.is_number() => v
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| json!(v)),
        _ => json!(v),
    }
}

fn attributes(version: &str, object: &str, id: Option<&str>) -> Value {
    match id {
        Some(id) => {
            json!({ "type": object, "url": format!("/services/data/v{version}/sobjects/{object}/{id}") })
        }
        None => json!({ "type": object }),
    }
}

/// A result row: `attributes`, then its cells in order.
pub fn row(version: &str, row: &Row) -> Value {
    let mut map = Map::new();
    map.insert(
        "attributes".into(),
        attributes(version, &row.object, row.id.as_deref()),
    );
    for (name, cell) in &row.cells {
        let value = match cell {
            Cell::Value(v, kind) => typed(v.as_deref(), *kind),
            Cell::Parent(None) | Cell::Children(None) => Value::Null,
            Cell::Parent(Some(parent)) => self::row(version, parent),
            Cell::Children(Some(children)) => json!({
                "totalSize": children.total,
                "done": true,
                "records": children.rows.iter().map(|r| self::row(version, r)).collect::<Vec<_>>(),
            }),
        };
        map.insert(name.clone(), value);
    }
    Value::Object(map)
}

/// A query page; `all` picks the `queryAll` locator URL.
pub fn page(version: &str, page: &QueryPage, all: bool) -> Value {
    let records: Vec<Value> = page.rows.iter().map(|r| row(version, r)).collect();
    let mut out =
        json!({ "totalSize": page.total, "done": page.next.is_none(), "records": records });
    if let Some(next) = &page.next {
        let resource = if all { "queryAll" } else { "query" };
        out["nextRecordsUrl"] = json!(format!("/services/data/v{version}/{resource}/{next}"));
    }
    out
}

/// A whole record (every field of its object, null when unset), or only `fields`.
pub fn record(version: &str, object: &Object, record: &Record, fields: Option<&[&str]>) -> Value {
    let mut map = Map::new();
    map.insert(
        "attributes".into(),
        attributes(version, &object.name, Some(&record.id)),
    );
    for field in &object.fields {
        if fields.is_some_and(|wanted| !wanted.iter().any(|w| w.eq_ignore_ascii_case(&field.name)))
        {
            continue;
        }
        map.insert(
            field.name.clone(),
            typed(record.get(&field.name), field.kind),
        );
    }
    Value::Object(map)
}

/// An error entry of REST's arrays: message, errorCode, fields when any.
pub fn error(e: &DataError) -> Value {
    let mut error = json!({ "message": e.message, "errorCode": e.code });
    if !e.fields.is_empty() {
        error["fields"] = json!(e.fields);
    }
    error
}

/// An error as sObject Collections and composite tree write it (statusCode).
pub fn collection_error(e: &DataError) -> Value {
    json!({ "statusCode": e.code, "message": e.message, "fields": e.fields })
}

/// `query?q=...&columns=true` (the sf CLI's `data query` asks it): the
/// columns a query selects, parent paths and subqueries as `joinColumns`,
/// aggregates by their alias or `expr{n}`.
pub fn columns(query: &crate::soql::Query) -> Value {
    use crate::soql::SelectItem;
    fn column(name: &str, aggregate: bool, join: Vec<Value>) -> Value {
        json!({
            "aggregate": aggregate, "apexType": null, "booleanType": false,
            "columnName": name, "custom": name.ends_with("__c"), "displayName": name,
            "foreignKeyName": null, "insertable": false, "joinColumns": join,
            "numberType": false, "textType": false, "updatable": false,
        })
    }
    fn path(segments: &[String]) -> Value {
        match segments {
            [last] => column(last, false, vec![]),
            [first, rest @ ..] => column(first, false, vec![path(rest)]),
            [] => column("", false, vec![]),
        }
    }
    fn list(query: &crate::soql::Query) -> Vec<Value> {
        let mut expr = 0;
        let mut out = Vec::new();
        for item in &query.select {
            match item {
                SelectItem::Field(p) => out.push(path(&p.segments)),
                SelectItem::Aggregate(a) => {
                    let name = a.alias.clone().unwrap_or_else(|| {
                        expr += 1;
                        format!("expr{}", expr - 1)
                    });
                    out.push(column(&name, true, vec![]));
                }
                SelectItem::Subquery(q) => out.push(column(&q.object.text, true, list(q))),
                SelectItem::Fields(..) => {}
            }
        }
        out
    }
    let id = query
        .select
        .iter()
        .any(|s| matches!(s, SelectItem::Field(p) if p.text().eq_ignore_ascii_case("Id")));
    json!({
        "columnMetadata": list(query),
        "entityName": query.object.text,
        "groupBy": !query.group_by.is_empty(),
        "idSelected": id,
        "keyPrefix": null,
    })
}
