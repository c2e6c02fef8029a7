//! Reading the caller's [`InboundRequest`]: JSON body, query string, headers.

use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::{InboundRequest, WorkflowError, bad_request};

/// Conveniences on [`InboundRequest`]; in the prelude.
pub trait RequestExt {
    /// The body parsed as JSON into `T`; anything else is a bad request
    /// whose message names the problem: an empty body; text that is not
    /// JSON ("not valid JSON: expected value at line 1 column 5"); or
    /// valid JSON of another shape ("valid JSON but not the expected
    /// shape: missing field `email` at line 1 column 20").
    fn json<T: DeserializeOwned>(&self) -> Result<T, WorkflowError>;
    /// The first value of query parameter `name`, percent-decoded
    /// (`+` is a space).
    fn query_param(&self, name: &str) -> Option<String>;
    /// Every query parameter in order, percent-decoded.
    fn query_pairs(&self) -> Vec<(String, String)>;
    /// The first value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str>;
    /// The body as UTF-8 text; invalid UTF-8 is a bad request.
    fn text(&self) -> Result<&str, WorkflowError>;
}

impl RequestExt for InboundRequest {
    fn json<T: DeserializeOwned>(&self) -> Result<T, WorkflowError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(bad_request("the request body is empty; send a JSON object"));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            bad_request(match e.classify() {
                Category::Data => {
                    format!("the request body is valid JSON but not the expected shape: {e}")
                }
                Category::Syntax | Category::Eof | Category::Io => {
                    format!("the request body is not valid JSON: {e}")
                }
            })
        })
    }

    fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn text(&self) -> Result<&str, WorkflowError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| bad_request(format!("the request body is not UTF-8 text: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, body: &str) -> InboundRequest {
        InboundRequest {
            method: "POST".into(),
            path: "/".into(),
            query: query.into(),
            headers: vec![crate::response::header("Content-Type", "application/json")],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn decodes_query_parameters() {
        let r = request("q=SELECT+Id%2C+Name+FROM+Account&x=%C3%A9", "");
        assert_eq!(
            r.query_param("q").as_deref(),
            Some("SELECT Id, Name FROM Account")
        );
        assert_eq!(r.query_param("x").as_deref(), Some("é"));
        assert_eq!(r.query_param("nope"), None);
        assert_eq!(r.header("CONTENT-TYPE"), Some("application/json"));
    }

    #[test]
    fn bad_json_is_a_bad_request() {
        let e = request("", "{\"a\":")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert!(matches!(e, WorkflowError::BadRequest(m) if m.contains("not valid JSON")));
        let e = request("", "  ").json::<serde_json::Value>().unwrap_err();
        assert!(matches!(e, WorkflowError::BadRequest(m) if m.contains("empty")));
        let e = request("", "{\"email\" 1}")
            .json::<serde_json::Value>()
            .unwrap_err();
        assert_eq!(
            e,
            bad_request("the request body is not valid JSON: expected `:` at line 1 column 10")
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Contact {
        email: String,
        age: Option<u8>,
    }

    #[test]
    fn valid_json_of_another_shape_is_named_as_such() {
        let e = request("", r#"{"name": "x"}"#)
            .json::<Contact>()
            .unwrap_err();
        assert_eq!(
            e,
            bad_request(
                "the request body is valid JSON but not the expected shape: missing field `email` at line 1 column 13"
            )
        );
        let e = request("", r#"{"email": "a@b.c", "age": "old"}"#)
            .json::<Contact>()
            .unwrap_err();
        assert!(
            matches!(&e, WorkflowError::BadRequest(m) if m.starts_with("the request body is valid JSON but not the expected shape: invalid type: string \"old\", expected u8")),
            "{e:?}"
        );
        let e = request("", "[1, 2]").json::<Contact>().unwrap_err();
        assert!(
            matches!(&e, WorkflowError::BadRequest(m) if m.contains("not the expected shape")),
            "{e:?}"
        );
    }
}
