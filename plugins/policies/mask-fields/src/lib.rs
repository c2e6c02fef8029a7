//! Front-door policy `mask-fields`: the values of the configured fields
//! never reach the tenant's existing clients. REST and Bulk 2.0 JSON answers
//! have every member of those names replaced by `"****"` (records,
//! subqueries, composite answers); SOAP answers have the text of every
//! element of those names replaced. Requests pass unchanged.
//!
//! Config: `fields`, a comma-separated list of field names (`SSN__c,Phone`).

use serde_json::Value;
use twoway_plugin::policy::*;

struct MaskFields;

const MASK: &str = "****";

impl Policy for MaskFields {
    fn on_request(_request: FrontRequest) -> RequestDecision {
        // Requests pass; the same instance masks the answer.
        RequestDecision::Pass
    }

    fn on_response(_request: FrontRequest, mut response: FrontResponse) -> ResponseDecision {
        let fields: Vec<String> = config("fields")
            .unwrap_or_default()
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return ResponseDecision::Pass;
        }
        let content_type = header(&response.headers, "content-type").unwrap_or_default();
        let masked = if content_type.contains("json") {
            mask_json(&response.body, &fields)
        } else if content_type.contains("xml") {
            mask_xml(&response.body, &fields)
        } else {
            None
        };
        match masked {
            Some(body) => {
                response.body = body;
                ResponseDecision::Change(response)
            }
            None => ResponseDecision::Pass,
        }
    }
}

/// The JSON body with every member named in `fields` masked; `None` when
/// nothing was masked.
fn mask_json(body: &[u8], fields: &[String]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let mut count = 0;
    walk(&mut value, fields, &mut count);
    (count > 0).then(|| value.to_string().into_bytes())
}

fn walk(value: &mut Value, fields: &[String], count: &mut usize) {
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if fields.iter().any(|f| f.eq_ignore_ascii_case(key)) && !member.is_null() {
                    *member = Value::String(MASK.into());
                    *count += 1;
                } else {
                    walk(member, fields, count);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, fields, count)),
        _ => {}
    }
}

/// The XML body with the text of every element named in `fields` (any
/// prefix) masked; `None` when nothing was masked.
fn mask_xml(body: &[u8], fields: &[String]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let mut spans: Vec<std::ops::Range<usize>> = doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && fields
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(n.tag_name().name()))
        })
        .filter_map(|n| n.first_child().filter(|c| c.is_text()).map(|c| c.range()))
        .collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        out.push_str(&text[at..span.start]);
        out.push_str(MASK);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Some(out.into_bytes())
}

twoway_plugin::policy::export_policy!(MaskFields);
