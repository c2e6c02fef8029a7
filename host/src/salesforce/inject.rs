//! Puts the session into a request a plugin wrote (SOAP `SessionHeader`,
//! REST `Authorization: Bearer`, Bulk `X-SFDC-Session`) after removing any
//! session the plugin wrote itself, and strips secrets from responses.
//! SOAP bodies are spliced by byte range: the rest of the XML is untouched.

use std::ops::Range;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::secret::Secret;
use crate::xml::{self, SOAP_ENV};

use super::{Api, SalesforceError, scan};

const X_SFDC_SESSION: HeaderName = HeaderName::from_static("x-sfdc-session");

/// Request headers that carry a session or credentials; never the plugin's.
const REQUEST_SECRETS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    X_SFDC_SESSION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// Response headers a plugin never sees.
const RESPONSE_SECRETS: [HeaderName; 5] = [
    header::SET_COOKIE,
    header::AUTHORIZATION,
    X_SFDC_SESSION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// Adds the session to a request the plugin wrote, after removing any
/// session the plugin wrote itself. Returns the body to send.
pub fn inject(
    api: Api,
    session_id: &Secret,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, SalesforceError> {
    for name in REQUEST_SECRETS {
        headers.remove(name);
    }
    let value = |text: String| {
        let mut value =
            HeaderValue::from_str(&text).map_err(|_| SalesforceError::InvalidSessionId)?;
        value.set_sensitive(true);
        Ok::<_, SalesforceError>(value)
    };
    match api.soap_namespace() {
        Some(ns) => {
            let body = soap(ns, session_id, body)?;
            // The body changed length; the transport sets Content-Length again.
            headers.remove(header::CONTENT_LENGTH);
            Ok(body)
        }
        None if api == Api::Bulk => {
            headers.insert(X_SFDC_SESSION, value(session_id.expose().to_string())?);
            Ok(body.to_vec())
        }
        None => {
            headers.insert(
                header::AUTHORIZATION,
                value(format!("Bearer {}", session_id.expose()))?,
            );
            Ok(body.to_vec())
        }
    }
}

/// Removes cookies and credentials from a response going back to a plugin.
pub fn strip_secrets(headers: &mut HeaderMap) {
    for name in RESPONSE_SECRETS {
        headers.remove(name);
    }
}

/// The envelope with every SessionHeader in its Header removed and ours added.
fn soap(ns: &str, session_id: &Secret, body: &[u8]) -> Result<Vec<u8>, SalesforceError> {
    let not = |why: String| SalesforceError::NotAnEnvelope(why);
    let doc = xml::parse(body).map_err(|e| not(format!("it is not XML the host accepts ({e})")))?;
    let text = doc.input_text();
    let envelope = doc.root_element();
    if envelope.tag_name().name() != "Envelope" || envelope.tag_name().namespace() != Some(SOAP_ENV)
    {
        let found = match envelope.tag_name().namespace() {
            Some("http://www.w3.org/2003/05/soap-envelope") => "a SOAP 1.2 Envelope".to_string(),
            Some(other) => format!(
                "`{}` in namespace `{}`",
                envelope.tag_name().name(),
                scan::cap(other, 100)
            ),
            None => format!("`{}`", scan::cap(envelope.tag_name().name(), 100)),
        };
        return Err(not(format!(
            "the root element is {found}, not a SOAP 1.1 Envelope"
        )));
    }
    if !xml::elements(envelope).any(|c| c.has_tag_name((SOAP_ENV, "Body"))) {
        return Err(not("the Envelope has no Body".into()));
    }
    let ours = format!(
        r#"<SessionHeader xmlns="{ns}"><sessionId>{}</sessionId></SessionHeader>"#,
        xml::escape(session_id.expose())
    );
    let open_end = |node: roxmltree::Node<'_, '_>| {
        let range = node.range();
        scan::tag_end(&text[range.start..range.end]).map(|i| range.start + i + 1)
    };
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let headers: Vec<_> = xml::elements(envelope)
        .filter(|c| c.has_tag_name((SOAP_ENV, "Header")))
        .collect();
    match headers.first() {
        None => {
            let at = open_end(envelope)
                .ok_or_else(|| not("its Envelope start tag is unterminated".into()))?;
            let prefix = qname_prefix(text, envelope);
            edits.push((at..at, format!("<{prefix}Header>{ours}</{prefix}Header>")));
        }
        Some(&first) => {
            let range = first.range();
            let open = &text[range.start..];
            let end = scan::tag_end(open)
                .ok_or_else(|| not("its Header start tag is unterminated".into()))?;
            if open[..end].ends_with('/') {
                let qname = qname(text, first);
                let start_tag = &open[..end - 1];
                edits.push((range.clone(), format!("{start_tag}>{ours}</{qname}>")));
            } else {
                let at = range.start + end + 1;
                edits.push((at..at, ours));
            }
        }
    }
    for header in &headers {
        for node in header
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "SessionHeader")
        {
            let nested = node
                .ancestors()
                .skip(1)
                .take_while(|a| a != header)
                .any(|a| a.tag_name().name() == "SessionHeader");
            if !nested {
                edits.push((node.range(), String::new()));
            }
        }
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    let mut out = String::with_capacity(text.len() + 256);
    let mut pos = 0;
    for (range, replacement) in edits {
        out.push_str(&text[pos..range.start.max(pos)]);
        out.push_str(&replacement);
        pos = pos.max(range.end);
    }
    out.push_str(&text[pos..]);
    Ok(out.into_bytes())
}

/// The qualified name an element was written with (`soapenv:Header`).
fn qname<'t>(text: &'t str, node: roxmltree::Node<'_, '_>) -> &'t str {
    let tag = &text[node.range().start + 1..];
    let len = tag
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(tag.len());
    &tag[..len]
}

/// `prefix:` of the element's written name, or "" when unprefixed.
fn qname_prefix<'t>(text: &'t str, node: roxmltree::Node<'_, '_>) -> &'t str {
    let name = qname(text, node);
    match name.find(':') {
        Some(i) => &name[..=i],
        None => "",
    }
}

#[cfg(test)]
#[path = "inject_tests.rs"]
mod tests;
