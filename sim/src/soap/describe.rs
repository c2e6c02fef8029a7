//! SOAP `describeSObject`, `describeSObjects` and `describeGlobal`: the
//! REST describe's content written as the partner WSDL's elements, in its
//! (alphabetical) order, without what only REST answers (`urls`).

use serde_json::Value;
use twoway::xml::{child_text, elements, escape};

use super::super::rest::sobjects;
use super::super::state::{DataError, State};

/// REST keys with no element in the SOAP results.
const REST_ONLY: [&str; 3] = ["urls", "listviewable", "lookupLayoutable"];

/// The answer to `operation` (one of the three), or INVALID_TYPE.
pub fn answer(
    state: &State,
    version: &str,
    operation: &str,
    op: roxmltree::Node<'_, '_>,
) -> Result<String, DataError> {
    let results = match operation {
        "describeGlobal" => {
            let objects: Vec<Value> = state
                .config
                .schema
                .objects
                .iter()
                .map(|o| sobjects::summary(version, o))
                .collect();
            let mut out =
                String::from("<result><encoding>UTF-8</encoding><maxBatchSize>200</maxBatchSize>");
            for object in &objects {
                element(&mut out, "sobjects", object);
            }
            out.push_str("</result>");
            out
        }
        "describeSObject" => {
            let name = child_text(op, "sObjectType").unwrap_or("");
            let object = state.schema(name)?;
            let mut out = String::new();
            element(&mut out, "result", &sobjects::describe(version, object));
            out
        }
        _ => {
            let mut out = String::new();
            for node in elements(op).filter(|c| c.tag_name().name() == "sObjectType") {
                let object = state.schema(node.text().unwrap_or(""))?;
                element(&mut out, "result", &sobjects::describe(version, object));
            }
            out
        }
    };
    Ok(format!(
        "<{operation}Response>{results}</{operation}Response>"
    ))
}

/// `value` as the element `name`: an object's keys as children in
/// alphabetical order, an array as the element repeated, null as nil.
fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => out.push_str(&format!(r#"<{name} xsi:nil="true"/>"#)),
        Value::Array(items) => items.iter().for_each(|item| element(out, name, item)),
        Value::Object(fields) => {
            out.push_str(&format!("<{name}>"));
            let mut keys: Vec<&String> = fields
                .keys()
                .filter(|k| !REST_ONLY.contains(&k.as_str()))
                .collect();
            keys.sort();
            for key in keys {
                element(out, key, &fields[key]);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(text) => out.push_str(&format!("<{name}>{}</{name}>", escape(text))),
        Value::Bool(_) | Value::Number(_) => out.push_str(&format!("<{name}>{value}</{name}>")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_becomes_elements_in_alphabetical_order_without_rest_only_keys() {
        let mut out = String::new();
        let value = json!({
            "name": "Account",
            "fields": [{ "name": "Id", "length": 18 }, { "name": "A&B", "length": 0 }],
            "keyPrefix": null,
            "urls": { "sobject": "/services/data/v62.0/sobjects/Account" },
            "createable": true,
        });
        element(&mut out, "result", &value);
        assert_eq!(
            out,
            r#"<result><createable>true</createable><fields><length>18</length><name>Id</name></fields><fields><length>0</length><name>A&amp;B</name></fields><keyPrefix xsi:nil="true"/><name>Account</name></result>"#
        );
    }
}
