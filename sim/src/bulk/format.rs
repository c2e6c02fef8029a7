//! Bulk data in its three formats: records read from CSV (`#N/A` clears a
//! field), JSON and XML; save results and query rows written back in the
//! job's format; rows flattened into CSV columns (`Account.Name`).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use twoway::xml::{self, XSI, elements, escape};

use super::super::rest;
use super::super::state::{Cell, Outcome, Row};
use super::NS;

/// One record of a batch: field → value ("" clears it).
pub type Record = BTreeMap<String, String>;

/// CSV with a header row; empty cells are left out, `#N/A` clears a field.
pub fn parse_csv(body: &[u8]) -> Result<(Vec<String>, Vec<Record>), String> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("Invalid CSV header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("The CSV has no header row".into());
    }
    let mut records = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("Invalid CSV at record {}: {e}", n + 1))?;
        let record = header
            .iter()
            .zip(row.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| {
                (
                    k.clone(),
                    if v == "#N/A" {
                        String::new()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect();
        records.push(record);
    }
    Ok((header, records))
}

/// A JSON array of records.
pub fn parse_json(body: &[u8]) -> Result<Vec<Record>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("Invalid JSON: {e}"))?;
    let Value::Array(items) = value else {
        return Err("A JSON batch is an array of records".into());
    };
    items
        .iter()
        .map(|item| rest::object_fields(item).map_err(|reply| reply.body))
        .collect()
}

/// `<sObjects xmlns="…/dataload"><sObject><Name>…</Name></sObject>…</sObjects>`.
pub fn parse_xml(body: &[u8]) -> Result<Vec<Record>, String> {
    let doc = xml::parse(body).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    if !root.has_tag_name((NS, "sObjects")) {
        return Err("Expected an sObjects element in the dataload namespace".into());
    }
    Ok(elements(root)
        .filter(|n| n.tag_name().name() == "sObject")
        .map(|record| {
            elements(record)
                .map(|f| {
                    let nil = f.attribute((XSI, "nil")) == Some("true");
                    let value = if nil {
                        String::new()
                    } else {
                        f.text().unwrap_or("").to_string()
                    };
                    (f.tag_name().name().to_string(), value)
                })
                .collect()
        })
        .collect())
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Bulk 1.0 save results as CSV: `"Id","Success","Created","Error"`.
pub fn outcomes_csv(outcomes: &[Outcome]) -> String {
    let mut out = String::from("\"Id\",\"Success\",\"Created\",\"Error\"\n");
    for outcome in outcomes {
        let line = match outcome {
            Ok((id, created)) => [
                quote(id),
                quote("true"),
                quote(&created.to_string()),
                quote(""),
            ],
            Err(e) => [
                quote(""),
                quote("false"),
                quote("false"),
                quote(&format!("{}:{}", e.code, e.message)),
            ],
        };
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Bulk 1.0 save results as JSON.
pub fn outcomes_json(outcomes: &[Outcome]) -> Value {
    outcomes
        .iter()
        .map(|o| match o {
            Ok((id, created)) => json!({ "success": true, "created": created, "id": id, "errors": [] }),
            Err(e) => json!({ "success": false, "created": false, "id": null, "errors": [{ "message": e.message, "fields": e.fields, "statusCode": e.code }] }),
        })
        .collect()
}

/// Bulk 1.0 save results as XML.
pub fn outcomes_xml(outcomes: &[Outcome]) -> String {
    let mut out = format!(r#"<?xml version="1.0" encoding="UTF-8"?><results xmlns="{NS}">"#);
    for outcome in outcomes {
        match outcome {
            Ok((id, created)) => out.push_str(&format!(
                "<result><id>{id}</id><success>true</success><created>{created}</created></result>"
            )),
            Err(e) => {
                let fields: String = e
                    .fields
                    .iter()
                    .map(|f| format!("<fields>{}</fields>", escape(f)))
                    .collect();
                out.push_str(&format!(
                    "<result><errors>{fields}<message>{}</message><statusCode>{}</statusCode></errors><success>false</success><created>false</created></result>",
                    escape(&e.message),
                    e.code
                ));
            }
        }
    }
    out.push_str("</results>");
    out
}

/// A row's values by column (`Account.Name`), nested rows flattened.
fn flatten(row: &Row, prefix: &str, out: &mut Vec<(String, String)>) {
    for (name, cell) in &row.cells {
        let path = format!("{prefix}{name}");
        match cell {
            Cell::Value(v, _) => out.push((path, v.clone().unwrap_or_default())),
            Cell::Parent(Some(parent)) => flatten(parent, &format!("{path}."), out),
            Cell::Parent(None) | Cell::Children(_) => {}
        }
    }
}

/// Rows as CSV: columns in select order across every row, empty for null.
pub fn rows_csv(rows: &[Row]) -> String {
    let flat: Vec<Vec<(String, String)>> = rows
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            flatten(r, "", &mut out);
            out
        })
        .collect();
    let mut header: Vec<String> = Vec::new();
    for row in &flat {
        for (path, _) in row {
            if !header.contains(path) {
                header.push(path.clone());
            }
        }
    }
    if header.is_empty() {
        return String::new();
    }
    let mut out = header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &flat {
        let line: Vec<String> = header
            .iter()
            .map(|h| {
                quote(
                    row.iter()
                        .find(|(p, _)| p == h)
                        .map_or("", |(_, v)| v.as_str()),
                )
            })
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Rows as Bulk 1.0 XML query results.
pub fn rows_xml(rows: &[Row]) -> String {
    fn record(row: &Row, tag: &str, out: &mut String) {
        out.push_str(&format!(
            r#"<{tag} xsi:type="sObject"><type>{}</type>"#,
            row.object
        ));
        for (name, cell) in &row.cells {
            match cell {
                Cell::Value(Some(v), _) => out.push_str(&format!("<{name}>{}</{name}>", escape(v))),
                Cell::Value(None, _) | Cell::Parent(None) => {
                    out.push_str(&format!(r#"<{name} xsi:nil="true"/>"#))
                }
                Cell::Parent(Some(parent)) => record(parent, name, out),
                Cell::Children(_) => {}
            }
        }
        out.push_str(&format!("</{tag}>"));
    }
    let mut out = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NS}" xmlns:xsi="{XSI}">"#
    );
    for row in rows {
        record(row, "records", &mut out);
    }
    out.push_str("</queryResult>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_reads_quotes_newlines_and_na() {
        let (header, records) =
            parse_csv(b"Name,Description,Phone\n\"Acme, Inc\",\"two\nlines\",#N/A\nPlain,,1\n")
                .unwrap();
        assert_eq!(header, ["Name", "Description", "Phone"]);
        assert_eq!(records[0]["Name"], "Acme, Inc");
        assert_eq!(records[0]["Description"], "two\nlines");
        assert_eq!(records[0]["Phone"], "");
        assert!(!records[1].contains_key("Description"));
        assert!(parse_csv(b"Name,Phone\nOnly one column,1,2\n").is_err());
    }

    #[test]
    fn save_results_in_every_format() {
        let outcomes = vec![Ok(("001A".to_string(), true))];
        assert_eq!(
            outcomes_csv(&outcomes),
            "\"Id\",\"Success\",\"Created\",\"Error\"\n\"001A\",\"true\",\"true\",\"\"\n"
        );
        assert_eq!(
            outcomes_json(&outcomes),
            json!([{ "success": true, "created": true, "id": "001A", "errors": [] }])
        );
        assert!(outcomes_xml(&outcomes).contains(
            "<result><id>001A</id><success>true</success><created>true</created></result>"
        ));
    }
}
