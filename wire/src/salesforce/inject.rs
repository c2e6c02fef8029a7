//! Puts the session into a request a plugin wrote (SOAP `SessionHeader`,
//! REST `Authorization: Bearer`, Bulk `X-SFDC-Session`) after removing any
//! session the plugin wrote itself, and strips secrets from responses.
//! SOAP bodies are spliced by byte range: the rest of the XML is untouched.

use std::ops::Range;

use bytes::Bytes;
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

/// A request body checked once and split where the session goes, so that
/// a retry after a re-login neither parses nor checks it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    api: Api,
    body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    /// REST, Bulk and Apex REST bodies go as written.
    AsIs(Bytes),
    /// A SOAP envelope without the plugin's SessionHeaders, and where our
    /// session id goes in it (one text: one allocation to make or clone).
    Soap { text: String, at: usize },
}

/// Checks a body a plugin wrote for `api` (a SOAP API needs a SOAP 1.1
/// envelope the host accepts) and prepares it for [`Prepared::apply`].
pub fn prepare(api: Api, body: &Bytes) -> Result<Prepared, SalesforceError> {
    if api.soap_namespace().is_none() {
        return Ok(Prepared {
            api,
            body: Body::AsIs(body.clone()),
        });
    }
    let doc = xml::parse(body).map_err(|e| {
        if e.is_over_limits() {
            SalesforceError::OverLimits(e)
        } else {
            SalesforceError::NotAnEnvelope(format!("it is not XML the host accepts ({e})"))
        }
    })?;
    prepare_parsed(api, body, &doc)
}

/// [`prepare`] for a body its caller has already parsed (`doc`, from
/// [`xml::parse`] of `body`), so that a SOAP envelope is not parsed twice.
pub fn prepare_parsed(
    api: Api,
    body: &Bytes,
    doc: &roxmltree::Document<'_>,
) -> Result<Prepared, SalesforceError> {
    let body = match api.soap_namespace() {
        Some(ns) => {
            let (text, at) = soap(ns, doc)?;
            Body::Soap { text, at }
        }
        None => Body::AsIs(body.clone()),
    };
    Ok(Prepared { api, body })
}

impl Prepared {
    /// The body with `session_id` in it; `headers` lose any session or
    /// credentials the plugin wrote and gain ours where the API wants it.
    pub fn apply(
        &self,
        session_id: &Secret,
        headers: &mut HeaderMap,
    ) -> Result<Bytes, SalesforceError> {
        for name in REQUEST_SECRETS {
            headers.remove(name);
        }
        let value = |text: String| {
            let mut value =
                HeaderValue::from_str(&text).map_err(|_| SalesforceError::InvalidSessionId)?;
            value.set_sensitive(true);
            Ok::<_, SalesforceError>(value)
        };
        match &self.body {
            Body::Soap { text, at } => {
                let id = xml::escape(session_id.expose());
                let (head, tail) = text.split_at(*at);
                let mut body = Vec::with_capacity(text.len() + id.len());
                body.extend_from_slice(head.as_bytes());
                body.extend_from_slice(id.as_bytes());
                body.extend_from_slice(tail.as_bytes());
                // The body changed length; the transport sets Content-Length again.
                headers.remove(header::CONTENT_LENGTH);
                Ok(Bytes::from(body))
            }
            Body::AsIs(body) if self.api == Api::Bulk => {
                headers.insert(X_SFDC_SESSION, value(session_id.expose().to_string())?);
                Ok(body.clone())
            }
            Body::AsIs(body) => {
                headers.insert(
                    header::AUTHORIZATION,
                    value(format!("Bearer {}", session_id.expose()))?,
                );
                Ok(body.clone())
            }
        }
    }
}

/// Adds the session to a request the plugin wrote, after removing any
/// session the plugin wrote itself. Returns the body to send
/// ([`prepare`] then [`Prepared::apply`]).
pub fn inject(
    api: Api,
    session_id: &Secret,
    headers: &mut HeaderMap,
    body: &[u8],
) -> Result<Vec<u8>, SalesforceError> {
    let prepared = prepare(api, &Bytes::copy_from_slice(body))?;
    Ok(prepared.apply(session_id, headers)?.to_vec())
}

/// Removes cookies and credentials from a response going back to a plugin.
pub fn strip_secrets(headers: &mut HeaderMap) {
    for name in RESPONSE_SECRETS {
        headers.remove(name);
    }
}

/// Where the session goes in an envelope, and the SessionHeaders that go
/// out of it: found in the tree ([`soap`]) or by the plain reader
/// ([`super::envelope`]).
pub(super) struct Places<'t> {
    /// The Envelope's first SOAP Header, if it has one.
    pub first_header: Option<HeaderAt<'t>>,
    /// Just past the Envelope's start tag (`None`: unterminated).
    pub envelope_open_end: Option<usize>,
    /// The prefix the Envelope was written with (`soapenv:`), or "".
    pub envelope_prefix: &'t str,
    /// Every SessionHeader in a SOAP Header, but those inside one already
    /// listed, in document order.
    pub removed: Vec<Range<usize>>,
}

/// The first SOAP Header of an envelope.
pub(super) struct HeaderAt<'t> {
    /// From its start tag's `<` to the end of the element.
    pub range: Range<usize>,
    /// The offset of its start tag's `>` from `range.start` (`None`:
    /// unterminated).
    pub gt: Option<usize>,
    /// The name it was written with (`soapenv:Header`).
    pub qname: &'t str,
}

impl Prepared {
    /// A SOAP envelope for `api`, `text` with the session id to go at `at`.
    pub(super) fn soap(api: Api, text: String, at: usize) -> Self {
        Self {
            api,
            body: Body::Soap { text, at },
        }
    }
}

/// The envelope with every SessionHeader in its Header removed and ours
/// added, and where our session id goes in it.
fn soap(ns: &str, doc: &roxmltree::Document<'_>) -> Result<(String, usize), SalesforceError> {
    let not = |why: String| SalesforceError::NotAnEnvelope(why);
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
    let open_end = |node: roxmltree::Node<'_, '_>| {
        let range = node.range();
        scan::tag_end(&text[range.start..range.end]).map(|i| range.start + i + 1)
    };
    let headers: Vec<_> = xml::elements(envelope)
        .filter(|c| c.has_tag_name((SOAP_ENV, "Header")))
        .collect();
    let mut removed = Vec::new();
    for header in &headers {
        // Document order: a SessionHeader inside one already removed goes
        // with it (one pass, not a walk up the ancestors of each).
        let mut removed_to = 0;
        for node in header
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "SessionHeader")
        {
            let range = node.range();
            if range.start >= removed_to {
                removed_to = range.end;
                removed.push(range);
            }
        }
    }
    let places = Places {
        first_header: headers.first().map(|&first| HeaderAt {
            range: first.range(),
            gt: scan::tag_end(&text[first.range().start..]),
            qname: qname(text, first),
        }),
        envelope_open_end: open_end(envelope),
        envelope_prefix: qname_prefix(text, envelope),
        removed,
    };
    splice(ns, text, places)
}

/// `text`, an envelope for the API of namespace `ns`, without the
/// SessionHeaders `places` lists and with ours where it says, and where our
/// session id goes in it.
pub(super) fn splice(
    ns: &str,
    text: &str,
    mut places: Places<'_>,
) -> Result<(String, usize), SalesforceError> {
    let not = |why: &str| SalesforceError::NotAnEnvelope(why.into());
    // Ours, split around the session id: `ours_head` id `ours_tail`.
    let ours_head = [r#"<SessionHeader xmlns=""#, ns, r#""><sessionId>"#];
    let ours_tail = "</sessionId></SessionHeader>";
    // The range ours replaces, and the pieces written before and after the
    // session id there (written as pieces: no string is made for them).
    let (at, before, after): (Range<usize>, [&str; 3], [&str; 4]) = match places.first_header {
        None => {
            let at = places
                .envelope_open_end
                .ok_or_else(|| not("its Envelope start tag is unterminated"))?;
            let prefix = places.envelope_prefix;
            (
                at..at,
                ["<", prefix, "Header>"],
                [ours_tail, "</", prefix, "Header>"],
            )
        }
        Some(first) => {
            let range = first.range;
            let open = &text[range.start..];
            let end = first
                .gt
                .ok_or_else(|| not("its Header start tag is unterminated"))?;
            if open[..end].ends_with('/') {
                let start_tag = &open[..end - 1];
                (
                    range,
                    [start_tag, ">", ""],
                    [ours_tail, "</", first.qname, ">"],
                )
            } else {
                let at = range.start + end + 1;
                (at..at, ["", "", ""], [ours_tail, "", "", ""])
            }
        }
    };
    let before = before.into_iter().chain(ours_head);
    // The SessionHeaders that go, in order; ours goes before any starting
    // where it does.
    let removed = &mut places.removed;
    removed.sort_by_key(|r| (r.start, r.end));
    let split = removed.partition_point(|r| (r.start, r.end) < (at.start, at.end));
    // Copies `text` from `pos` to `to` into `out`, leaving out `removed`.
    let copy = |out: &mut String, pos: &mut usize, removed: &[Range<usize>], to: usize| {
        for range in removed {
            out.push_str(&text[*pos..range.start.max(*pos)]);
            *pos = (*pos).max(range.end);
        }
        out.push_str(&text[*pos..to.max(*pos)]);
        *pos = (*pos).max(to);
    };
    let mut out = String::with_capacity(
        text.len()
            + before.clone().map(str::len).sum::<usize>()
            + after.iter().map(|p| p.len()).sum::<usize>(),
    );
    let mut pos = 0;
    copy(&mut out, &mut pos, &removed[..split], at.start);
    out.extend(before);
    let id_at = out.len();
    pos = pos.max(at.end);
    out.extend(after);
    copy(&mut out, &mut pos, &removed[split..], text.len());
    Ok((out, id_at))
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
    prefix_of(qname(text, node))
}

/// `prefix:` of a written name, or "" when unprefixed.
fn prefix_of(qname: &str) -> &str {
    match qname.find(':') {
        Some(i) => &qname[..=i],
        None => "",
    }
}

#[cfg(test)]
#[path = "inject_tests.rs"]
mod tests;
