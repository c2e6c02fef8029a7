//! What an upstream answer means: success, an invalid session (re-login),
//! mutual authentication or client certificate trouble, a limit, a SOAP
//! fault, REST or Bulk errors, or a body nobody expected. Bounded, never
//! panics, and nothing in an [`Outcome`] can carry a session id: every
//! text taken from the answer, codes included, goes through `scan::redact`.

use std::fmt;

use crate::xml::{self, SOAP_ENV, XmlError};

use super::Api;
use super::scan;

/// Largest error body parsed as JSON or XML (error bodies are small).
const MAX_ERROR_BODY: usize = 1 << 20;
/// Most REST errors kept from one array.
const MAX_ERRORS: usize = 100;

/// The meaning of one upstream response: an answer the caller gets (with
/// the host's [`Verdict`]), or one the host acts on itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An answer for the caller: a success or a fault the caller handles.
    Answer(Verdict),
    /// INVALID_SESSION_ID (SOAP fault, REST 401) or Bulk InvalidSessionId: log in again.
    InvalidSession { message: String },
    /// MUTUAL_AUTHENTICATION_FAILED (SOAP, REST) or Bulk MutualAuthenticationFailed.
    MutualAuthFailed { message: String },
    /// The mutual-auth port's HTML "Certificate Error" page, with its reason.
    CertificateRejected { reason: String },
    /// REQUEST_LIMIT_EXCEEDED (SOAP, REST 403) or Bulk ExceededQuota.
    RequestLimitExceeded { message: String },
    /// An XML answer refused unparsed because it breaks the caps on the
    /// work a document may cause (see [`crate::xml::bounds`]); the reason
    /// names the cap, the element and its line.
    Refused { reason: String },
}

/// The host's verdict on an answer the caller gets (classify once:
/// workflows and the front door read it, never the body, to learn what the
/// answer was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx/3xx with the body the API speaks (a SOAP envelope without a fault).
    Success,
    /// Any other SOAP fault.
    Fault(Fault),
    /// A REST error array.
    RestErrors(Vec<RestError>),
    /// Any other Bulk 1.0 error.
    BulkError { code: String, message: String },
    /// A body in no format the API speaks (HTML for XML, a non-XML 500, ...).
    UnexpectedBody {
        status: u16,
        content_type: String,
        snippet: String,
    },
}

/// A SOAP fault: faultcode without its prefix, the detail's exceptionCode,
/// and the message (exceptionMessage, else faultstring).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub faultcode: String,
    pub exception_code: Option<String>,
    pub message: String,
}

/// One entry of a REST error array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub error_code: String,
    pub message: String,
    pub fields: Vec<String>,
}

impl Verdict {
    /// The label of the upstream-calls metric for an answered call.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Success => "success",
            Verdict::Fault(_) | Verdict::RestErrors(_) | Verdict::BulkError { .. } => "fault",
            Verdict::UnexpectedBody { .. } => "unexpected_body",
        }
    }

    /// A fault's code and message, as a workflow sees them: a SOAP fault's
    /// exceptionCode (else its faultcode) and message; a REST error array's
    /// first code and every message with its fields; a Bulk error's.
    /// `None` for a success or an unexpected body.
    pub fn fault(&self) -> Option<(String, String)> {
        match self {
            Verdict::Fault(f) => Some((
                f.exception_code
                    .clone()
                    .unwrap_or_else(|| f.faultcode.clone()),
                f.message.clone(),
            )),
            Verdict::RestErrors(errors) => {
                let code = errors
                    .first()
                    .map_or("UNKNOWN_EXCEPTION", |e| &e.error_code);
                let messages: Vec<String> = errors
                    .iter()
                    .map(|e| match e.fields.as_slice() {
                        [] => e.message.clone(),
                        fields => format!("{} (fields: {})", e.message, fields.join(", ")),
                    })
                    .collect();
                Some((code.to_string(), messages.join("; ")))
            }
            Verdict::BulkError { code, message } => Some((code.clone(), message.clone())),
            Verdict::Success | Verdict::UnexpectedBody { .. } => None,
        }
    }
}

impl Outcome {
    /// What an operator should check, for the outcomes that are about configuration.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Outcome::MutualAuthFailed { .. } => Some(
                "the user must use mutual TLS: set mutual_auth = true for the tenant and check \
                 that mutual_auth_port is the instance's mutual-auth port (8443)",
            ),
            Outcome::CertificateRejected { .. } => Some(
                "the mutual-auth port refused the client certificate: check client_identity \
                 (full chain, a CA Salesforce trusts, uploaded as the org's mutual \
                 authentication certificate)",
            ),
            Outcome::RequestLimitExceeded { .. } => Some(
                "the org's API request limit is spent; calls succeed again as the 24-hour window moves",
            ),
            _ => None,
        }
    }

    /// True for a success.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Answer(Verdict::Success))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Answer(Verdict::Success) => f.write_str("success"),
            Outcome::InvalidSession { message } => write!(f, "INVALID_SESSION_ID: {message}"),
            Outcome::MutualAuthFailed { message } => {
                write!(f, "MUTUAL_AUTHENTICATION_FAILED: {message}")
            }
            Outcome::CertificateRejected { reason } => {
                write!(f, "client certificate error: {reason}")
            }
            Outcome::RequestLimitExceeded { message } => {
                write!(f, "REQUEST_LIMIT_EXCEEDED: {message}")
            }
            Outcome::Answer(Verdict::Fault(fault)) => {
                let code = fault.exception_code.as_deref().unwrap_or(&fault.faultcode);
                write!(f, "{code}: {}", fault.message)
            }
            Outcome::Answer(Verdict::RestErrors(errors)) => {
                let parts: Vec<String> = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.error_code, e.message))
                    .collect();
                f.write_str(&parts.join("; "))
            }
            Outcome::Answer(Verdict::BulkError { code, message }) => write!(f, "{code}: {message}"),
            Outcome::Refused { reason } => write!(f, "the answer was refused unread: {reason}"),
            Outcome::Answer(Verdict::UnexpectedBody {
                status,
                content_type,
                snippet,
            }) => write!(
                f,
                "unexpected HTTP {status} body ({content_type}): {snippet}"
            ),
        }
    }
}

/// Classifies one upstream response of `api`.
pub fn classify(api: Api, status: u16, headers: &http::HeaderMap, body: &[u8]) -> Outcome {
    if let Some(reason) = scan::certificate_error(body) {
        return Outcome::CertificateRejected { reason };
    }
    let recognised = if api.is_soap() {
        match soap(status, body) {
            Ok(outcome) => return outcome,
            Err(()) => None,
        }
    } else if status < 400 {
        return Outcome::Answer(Verdict::Success);
    } else {
        recognise(body)
    };
    recognised.unwrap_or_else(|| unexpected(status, headers, body))
}

/// A SOAP answer: a fault at any status, an envelope below 400; Err(()) when
/// the body is neither (a JSON error may still be recognised). A success
/// is told from its outline (one bounded pass, no tree); anything else is
/// parsed into a tree to read the fault.
fn soap(status: u16, body: &[u8]) -> Result<Outcome, ()> {
    match xml::outline(body) {
        Ok(outline) if status < 400 && is_envelope_without_fault(&outline) => {
            Ok(Outcome::Answer(Verdict::Success))
        }
        Ok(outline) => soap_by_tree(status, body, outline.tree()),
        Err(e) => not_parsed(status, body, e),
    }
}

/// [`soap`] from `tree`, the body's parse, which also reads faults.
fn soap_by_tree(
    status: u16,
    body: &[u8],
    tree: Result<roxmltree::Document<'_>, XmlError>,
) -> Result<Outcome, ()> {
    match tree {
        Ok(doc) => {
            if let Some(outcome) = recognise_xml(&doc) {
                return Ok(outcome);
            }
            let root = doc.root_element();
            let envelope = root.has_tag_name((SOAP_ENV, "Envelope"))
                && xml::elements(root).any(|c| c.has_tag_name((SOAP_ENV, "Body")));
            if status < 400 && envelope {
                Ok(Outcome::Answer(Verdict::Success))
            } else {
                Err(())
            }
        }
        Err(e) => not_parsed(status, body, e),
    }
}

/// A sound SOAP 1.1 Envelope with a Body whose first element is not a Fault.
fn is_envelope_without_fault(outline: &xml::outline::Outline<'_>) -> bool {
    let Some(root) = outline.root() else {
        return false;
    };
    if !outline.sound() || !root.is(SOAP_ENV, "Envelope") {
        return false;
    }
    let Some(body) = outline.children(root).find(|c| c.is(SOAP_ENV, "Body")) else {
        return false;
    };
    !outline
        .children(body)
        .next()
        .is_some_and(|first| first.is(SOAP_ENV, "Fault"))
}

/// What a SOAP answer the bounded parse refused with `e` means.
fn not_parsed(status: u16, body: &[u8], e: XmlError) -> Result<Outcome, ()> {
    match e {
        e if e.is_over_limits() => Ok(Outcome::Refused {
            reason: e.to_string(),
        }),
        // Too big to inspect: large query results are envelopes, faults are small.
        XmlError::TooManyNodes if status < 400 && root_is_envelope(body) => {
            Ok(Outcome::Answer(Verdict::Success))
        }
        _ if status >= 400 => recognise_json(body).ok_or(()),
        _ => Err(()),
    }
}

/// The first element of `body` is a SOAP `Envelope` (by name, cheaply).
fn root_is_envelope(body: &[u8]) -> bool {
    let text = scan::window(body, scan::WINDOW);
    scan::tags(&text)
        .next()
        .is_some_and(|t| !t.end && t.local() == "Envelope")
}

/// An error body in any of the formats Salesforce uses.
fn recognise(body: &[u8]) -> Option<Outcome> {
    if body.len() > MAX_ERROR_BODY {
        return None;
    }
    match body.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' | b'{' => recognise_json(body),
        b'<' => match xml::parse(body) {
            Ok(doc) => recognise_xml(&doc),
            Err(e) if e.is_over_limits() => Some(Outcome::Refused {
                reason: e.to_string(),
            }),
            Err(_) => None,
        },
        _ => None,
    }
}

fn recognise_xml(doc: &roxmltree::Document<'_>) -> Option<Outcome> {
    if let Some(fault) = soap_fault(doc) {
        let code = fault.exception_code.as_deref().unwrap_or(&fault.faultcode);
        return Some(
            special(code, &fault.message).unwrap_or(Outcome::Answer(Verdict::Fault(fault))),
        );
    }
    let root = doc.root_element();
    if root.tag_name().name() != "error" {
        return None;
    }
    let code = xml::child_text(root, "exceptionCode")?.trim();
    let message = xml::child_text(root, "exceptionMessage").unwrap_or("");
    Some(bulk(code, message))
}

fn soap_fault(doc: &roxmltree::Document<'_>) -> Option<Fault> {
    let fault = xml::soap_body_element(doc).filter(|n| n.has_tag_name((SOAP_ENV, "Fault")))?;
    let faultcode = xml::child_text(fault, "faultcode").unwrap_or("").trim();
    let faultcode = faultcode.rsplit(':').next().unwrap_or(faultcode);
    let detail_text = |name: &str| {
        xml::child(fault, "detail")?
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .map(|n| n.text().unwrap_or("").trim())
    };
    let exception_code = detail_text("exceptionCode").filter(|c| !c.is_empty());
    let message = match detail_text("exceptionMessage") {
        Some(m) => m.to_string(),
        None => {
            let text = xml::child_text(fault, "faultstring").unwrap_or("").trim();
            let code = exception_code.unwrap_or(faultcode);
            text.strip_prefix(code)
                .and_then(|t| t.strip_prefix(": "))
                .unwrap_or(text)
                .to_string()
        }
    };
    Some(Fault {
        faultcode: scan::short(faultcode, 100),
        exception_code: exception_code.map(|c| scan::short(c, 100)),
        message: scan::message(&message),
    })
}

fn recognise_json(body: &[u8]) -> Option<Outcome> {
    if body.len() > MAX_ERROR_BODY {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|x| x.as_str()).map(str::to_string);
    if let Some(code) = text(&value, "exceptionCode") {
        return Some(bulk(
            &code,
            &text(&value, "exceptionMessage").unwrap_or_default(),
        ));
    }
    let items = match &value {
        serde_json::Value::Array(items) => items.as_slice(),
        serde_json::Value::Object(_) => std::slice::from_ref(&value),
        _ => return None,
    };
    let mut errors = Vec::new();
    for item in items.iter().take(MAX_ERRORS) {
        let error_code = text(item, "errorCode")?;
        let fields = item
            .get("fields")
            .and_then(|f| f.as_array())
            .map(|f| {
                f.iter()
                    .take(MAX_ERRORS)
                    .filter_map(|x| x.as_str())
                    .map(|s| scan::short(s, 200))
                    .collect()
            })
            .unwrap_or_default();
        errors.push(RestError {
            error_code: scan::short(&error_code, 100),
            message: scan::message(&text(item, "message").unwrap_or_default()),
            fields,
        });
    }
    if errors.is_empty() {
        return None;
    }
    let special = errors
        .iter()
        .find_map(|e| special(&e.error_code, &e.message));
    Some(special.unwrap_or(Outcome::Answer(Verdict::RestErrors(errors))))
}

fn bulk(code: &str, message: &str) -> Outcome {
    let message = scan::message(message);
    special(code, &message).unwrap_or_else(|| {
        Outcome::Answer(Verdict::BulkError {
            code: scan::short(code, 100),
            message,
        })
    })
}

/// The outcomes the host acts on, from a SOAP, REST or Bulk error code.
fn special(code: &str, message: &str) -> Option<Outcome> {
    let message = message.to_string();
    match code {
        "INVALID_SESSION_ID" | "InvalidSessionId" => Some(Outcome::InvalidSession { message }),
        "MUTUAL_AUTHENTICATION_FAILED" | "MutualAuthenticationFailed" => {
            Some(Outcome::MutualAuthFailed { message })
        }
        "REQUEST_LIMIT_EXCEEDED" | "ExceededQuota" => {
            Some(Outcome::RequestLimitExceeded { message })
        }
        _ => None,
    }
}

fn unexpected(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Outcome {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Outcome::Answer(Verdict::UnexpectedBody {
        status,
        content_type: scan::short(&content_type, 100),
        snippet: scan::snippet(body),
    })
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
