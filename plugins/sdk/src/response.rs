//! Building the [`WorkflowResponse`] a workflow answers its caller with.

use serde::Serialize;

use crate::{Header, WorkflowResponse};

/// Bytes set aside for a JSON answer before it is written.
const JSON_CAPACITY: usize = 2048;

/// A JSON answer (`content-type: application/json`) of anything
/// serializable: a [`serde_json::Value`] (`&json!({...})`), a
/// `#[derive(Serialize)]` type, or [`crate::soap::Fields`] and
/// [`crate::soap::FieldsRef`] (serialized straight to bytes, no
/// intermediate map).
pub fn json_response<T: Serialize + ?Sized>(status: u16, body: &T) -> WorkflowResponse {
    // Room for a typical answer at once (`to_vec` starts at 128 bytes and
    // doubles: four reallocations for getUserInfo's 25 fields).
    let mut out = Vec::with_capacity(JSON_CAPACITY);
    match serde_json::to_writer(&mut out, body) {
        Ok(()) => text_response(status, "application/json", out),
        // Only a type whose Serialize fails gets here (a Value never does).
        Err(e) => unwritable(&e),
    }
}

/// The 500 of an answer that cannot be JSON, naming why. A map of strings,
/// not a `Value`: writing a `Value` links serde_json's number formatting,
/// whose tables (about 15 KB) would sit in the memory image of every
/// workflow that answers JSON, and so in every live instance's pages.
fn unwritable(e: &serde_json::Error) -> WorkflowResponse {
    let error = format!("the workflow's answer cannot be written as JSON: {e}");
    let body = std::collections::BTreeMap::from([("error", error.as_str())]);
    match serde_json::to_vec(&body) {
        Ok(body) => text_response(500, "application/json", body),
        Err(_) => text_response(500, "text/plain", error),
    }
}

/// An answer with any content type and body.
pub fn text_response(
    status: u16,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> WorkflowResponse {
    WorkflowResponse {
        status,
        headers: vec![header("content-type", content_type)],
        body: body.into(),
    }
}

/// A header; the name is lower-cased as the WIT contract asks.
pub fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_ascii_lowercase(),
        value: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serializer;

    struct Unwritable;

    impl Serialize for Unwritable {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("a date out of range"))
        }
    }

    #[test]
    fn json_of_a_value_or_any_serializable() {
        let r = json_response(201, &serde_json::json!({"id": "001"}));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (201, &br#"{"id":"001"}"#[..])
        );
        assert_eq!(r.headers, vec![header("content-type", "application/json")]);
        let r = json_response(200, &[1, 2]);
        assert_eq!(r.body, b"[1,2]");
    }

    #[test]
    fn an_answer_that_cannot_be_json_is_a_500_naming_why() {
        let r = json_response(200, &Unwritable);
        assert_eq!(r.status, 500);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("a date out of range"),
            "{body}"
        );
    }
}
