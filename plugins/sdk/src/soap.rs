//! SOAP helpers: envelopes for the partner, enterprise and metadata APIs,
//! XML escaping, one-call request/response with faults turned into
//! upstream faults, and namespace-agnostic readers for
//! `<result>` elements and save results.
//!
//! The readers ([`results`], [`result_fields`], [`save_results`]) ask the
//! host (WIT `soap`, 0.3.2): it reads the answer natively with the bounded
//! reader that classified it, so the workflow's fresh instance parses no
//! XML. [`call_for_results`] and [`post_for_results`] (0.3.3) send the
//! request and get the fields back in one call, the answer read while
//! the host holds it. On the native target the same reader runs in
//! process.
//!
//! Write no SessionHeader: the host adds the session to every envelope.

use roxmltree::{Document, Node};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

#[cfg(target_arch = "wasm32")]
use crate::bindings::twoway::gateway::soap as host;
use crate::bindings::twoway::gateway::soap::{PackedResults, ResultField, Span};
use crate::response::header;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::soap as host;
use crate::{
    Api, OutboundRequest, UpstreamError, Verdict, WorkflowError, internal, send, upstream_fault,
};

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The namespaces bound to the prefixes `urn` (operations) and `urn1`
/// (sObject types, absent for metadata) by [`envelope`]. APIs that are not
/// SOAP get the partner namespaces.
pub fn namespaces(api: Api) -> (&'static str, Option<&'static str>) {
    match api {
        Api::SoapEnterprise => (
            "urn:enterprise.soap.sforce.com",
            Some("urn:sobject.enterprise.soap.sforce.com"),
        ),
        Api::SoapMetadata => ("http://soap.sforce.com/2006/04/metadata", None),
        _ => (
            "urn:partner.soap.sforce.com",
            Some("urn:sobject.partner.soap.sforce.com"),
        ),
    }
}

/// A complete envelope around `body` (the Body's content, e.g.
/// `<urn:getUserInfo/>`), declaring `soapenv`, `xsi`, `urn` and `urn1`
/// (see [`namespaces`]). It has no Header: the host adds the session.
pub fn envelope(api: Api, body: &str) -> String {
    let (urn, urn1) = namespaces(api);
    let (declare_urn1, urn1) = match urn1 {
        Some(ns) => (r#"" xmlns:urn1=""#, ns),
        None => ("", ""),
    };
    // One allocation of the exact size (format! costs a guest several µs).
    [
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv=""#,
        SOAP_ENV,
        r#"" xmlns:xsi=""#,
        XSI,
        r#"" xmlns:urn=""#,
        urn,
        declare_urn1,
        urn1,
        r#""><soapenv:Body>"#,
        body,
        "</soapenv:Body></soapenv:Envelope>",
    ]
    .concat()
}

/// `text` escaped for XML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Wraps `body` in an [`envelope`] for `api` and [`post`]s it.
pub fn call(api: Api, body: &str) -> Result<String, WorkflowError> {
    post(api, &envelope(api, body))
}

/// Wraps `body` in an [`envelope`] for `api` and [`post_for_results`]s
/// it: the fields of every `<result>` of the answer, with no XML in the
/// workflow.
pub fn call_for_results(api: Api, body: &str) -> Result<Results, WorkflowError> {
    post_for_results(api, &envelope(api, body))
}

/// Posts a complete envelope as [`post`] does and answers the fields of
/// every `<result>` of the answer, as [`read_results`] of [`post`]'s text
/// would, with the same errors, in one call to the host (WIT
/// `soap.send-for-results`, 0.3.3): the host reads the answer while it
/// holds it, so the answer never enters the workflow's instance.
pub fn post_for_results(api: Api, envelope: &str) -> Result<Results, WorkflowError> {
    Results::checked(host::send_for_results(&soap_request(api, envelope))?)
}

/// The request [`post`] and [`post_for_results`] send: `envelope` to the
/// base of `api` as `text/xml`, with `SOAPAction: ""`.
fn soap_request(api: Api, envelope: &str) -> OutboundRequest {
    OutboundRequest {
        api,
        method: "POST".into(),
        path: String::new(),
        headers: vec![
            header("content-type", "text/xml; charset=utf-8"),
            header("soapaction", r#""""#),
        ],
        body: envelope.as_bytes().to_vec(),
    }
}

/// Posts a complete envelope to the base of `api` (`text/xml`,
/// `SOAPAction: ""`) and returns the response document's text.
///
/// A SOAP fault becomes an upstream fault with the `exceptionCode` (else
/// the faultcode without its prefix) and the `exceptionMessage` (else the
/// faultstring), as the host's verdict names them; any other answer that is
/// not a 2xx becomes an upstream fault with code `HTTP_{status}` and the
/// start of the body.
pub fn post(api: Api, envelope: &str) -> Result<String, WorkflowError> {
    let response = send(&soap_request(api, envelope))?;
    let status = response.status;
    failure(status, &response.verdict)?;
    // The body moves into the String when it is UTF-8 (it is, from Salesforce).
    Ok(String::from_utf8(response.body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// The error for an answer the host judged a fault, or that is not a 2xx:
/// the fault as the host read it, else code `HTTP_{status}` with the start
/// of the body.
pub(crate) fn failure(status: u16, verdict: &Verdict) -> Result<(), WorkflowError> {
    unsuccessful(status, verdict).map_or(Ok(()), |e| Err(e.into()))
}

/// The upstream error [`failure`] passes on; `None` for a 2xx success.
pub(crate) fn unsuccessful(status: u16, verdict: &Verdict) -> Option<UpstreamError> {
    Some(match verdict {
        Verdict::Fault(f) => UpstreamError::UpstreamFault(f.clone()),
        Verdict::Unexpected(snippet) => {
            crate::upstream_error::upstream_fault(format!("HTTP_{status}"), snippet)
        }
        Verdict::Success if !(200..300).contains(&status) => {
            crate::upstream_error::upstream_fault(format!("HTTP_{status}"), "")
        }
        Verdict::Success => return None,
    })
}

/// The first 200 characters of `text`, for error messages.
pub(crate) fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Parses XML, refusing any DOCTYPE (no entity expansion), for reading
/// what [`results`] does not give; this parses in the workflow's instance.
pub fn parse(xml: &str) -> Result<Document<'_>, WorkflowError> {
    Document::parse(xml).map_err(|e| {
        upstream_fault(
            "INVALID_XML",
            format!("the API answered with XML that cannot be read: {e}"),
        )
    })
}

/// The first element child of the envelope's Body: the operation's response
/// (`getUserInfoResponse`, `createResponse`, ...) or `Fault`.
pub fn body_element<'a, 'input>(doc: &'a Document<'input>) -> Option<Node<'a, 'input>> {
    let body = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "Body")?;
    body.children().find(Node::is_element)
}

/// The children of one `<result>` element, in document order: local name
/// and text, `None` for `xsi:nil="true"`. An element with element children
/// has the text of its own text nodes only (usually empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, Option<String>)>);

impl Fields {
    /// The text of the first child named `name`; `None` when absent or nil.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// A JSON object of the fields (nil as `null`; the first of repeated
    /// names). To answer with the fields, pass `&fields` to
    /// [`json_response`](crate::json_response) instead: the same JSON,
    /// written without building this map.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (name, value) in self.unique() {
            map.insert(name.to_string(), value.map_or(Value::Null, Value::from));
        }
        Value::Object(map)
    }

    /// The fields in document order, each name once (its first occurrence).
    fn unique(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        let pairs = self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()));
        first_of_each(pairs, self.0.len())
    }
}

/// `fields` (`len` of them) in order, each name once (its first occurrence).
fn first_of_each<'a>(
    fields: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    len: usize,
) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
    // Results have tens of fields: a look back over the names kept so far
    // (most differ in length, so a comparison is a length check) is cheaper
    // than hashing each name; past that, a set keeps it linear.
    let mut seen = Seen::new(len);
    fields.filter(move |&(name, _)| seen.first(name))
}

/// The names [`first_of_each`] has let through.
enum Seen<'a> {
    Few(Vec<&'a str>),
    Many(std::collections::HashSet<&'a str>),
}

impl<'a> Seen<'a> {
    /// Room for `len` names, looked back over when there are at most 64.
    fn new(len: usize) -> Self {
        if len > 64 {
            Self::Many(std::collections::HashSet::with_capacity(len))
        } else {
            Self::Few(Vec::with_capacity(len))
        }
    }

    /// True the first time `name` is seen.
    fn first(&mut self, name: &'a str) -> bool {
        match self {
            Self::Many(set) => set.insert(name),
            Self::Few(names) if names.contains(&name) => false,
            Self::Few(names) => {
                names.push(name);
                true
            }
        }
    }
}

/// A JSON object of `fields`, each name once (its first occurrence).
fn serialize_fields<'a, S: Serializer>(
    fields: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    len: usize,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    for (name, value) in first_of_each(fields, len) {
        map.serialize_entry(name, &value)?;
    }
    map.end()
}

/// The same JSON object as [`Fields::to_json`], written directly.
impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pairs = self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()));
        serialize_fields(pairs, self.0.len(), serializer)
    }
}

/// The fields of every `<result>` of an answer as the host read them (WIT
/// `soap.packed-results`: one text, and where each name and value lies in
/// it), read in place: [`FieldsRef`] borrows each field's text instead of
/// copying it into a `String` of its own, as [`Fields`] does.
#[derive(Debug, Clone)]
pub struct Results(PackedResults);

impl Results {
    /// The host's reading, its spans checked (every one inside `text`, at
    /// character boundaries, and every `<result>` inside `fields`).
    fn checked(read: PackedResults) -> Result<Self, WorkflowError> {
        let text = read.text.as_str();
        let inside = |span: &Span| text.get(span.start as usize..span.end as usize).is_some();
        if !read
            .fields
            .iter()
            .all(|f| inside(&f.name) && f.value.as_ref().is_none_or(inside))
        {
            return Err(internal("the host's SOAP results point outside their text"));
        }
        let mut start = 0;
        for &end in &read.ends {
            if end < start || end as usize > read.fields.len() {
                return Err(internal(
                    "the host's SOAP results point outside their fields",
                ));
            }
            start = end;
        }
        Ok(Self(read))
    }

    /// How many `<result>` elements the answer has.
    pub fn len(&self) -> usize {
        self.0.ends.len()
    }

    /// True when the answer has no `<result>` (a fault, another document).
    pub fn is_empty(&self) -> bool {
        self.0.ends.is_empty()
    }

    /// Each `<result>`'s fields, in document order.
    pub fn iter(&self) -> impl Iterator<Item = FieldsRef<'_>> {
        let mut start = 0;
        self.0.ends.iter().map(move |&end| {
            let fields = &self.0.fields[start..end as usize];
            start = end as usize;
            FieldsRef {
                text: &self.0.text,
                fields,
            }
        })
    }

    /// The first `<result>`'s fields; an answer without one is an upstream
    /// fault `NO_RESULT`.
    pub fn first(&self) -> Result<FieldsRef<'_>, WorkflowError> {
        self.iter()
            .next()
            .ok_or_else(|| upstream_fault("NO_RESULT", "the SOAP answer has no <result> element"))
    }
}

/// One `<result>`'s fields, borrowed from [`Results`]: what [`Fields`]
/// holds, without a copy of each.
#[derive(Debug, Clone, Copy)]
pub struct FieldsRef<'a> {
    text: &'a str,
    fields: &'a [ResultField],
}

impl<'a> FieldsRef<'a> {
    /// Each field's local name and text (`None` for nil), in document
    /// order, repeated names kept.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + Clone + use<'a> {
        let text = self.text;
        // Checked by `Results::checked`: never the empty fallback.
        let at = move |span: &Span| {
            text.get(span.start as usize..span.end as usize)
                .unwrap_or("")
        };
        self.fields
            .iter()
            .map(move |f| (at(&f.name), f.value.as_ref().map(at)))
    }

    /// The text of the first field named `name`; `None` when absent or nil.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(n, _)| *n == name).and_then(|(_, v)| v)
    }

    /// The fields, each copied into a `String` of its own.
    pub fn to_fields(&self) -> Fields {
        Fields(
            self.iter()
                .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
                .collect(),
        )
    }
}

/// The same JSON object as [`Fields`]' (nil as `null`, the first of
/// repeated names), written from the host's text.
impl Serialize for FieldsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fields(self.iter(), self.fields.len(), serializer)
    }
}

/// The fields of every `<result>` in the operation's response, read by the
/// host and left in its one text (see [`Results`]); XML that cannot be read
/// is an upstream fault `INVALID_XML`, one over the host's caps `refused`.
pub fn read_results(xml: &str) -> Result<Results, WorkflowError> {
    Results::checked(host::results(xml.as_bytes())?)
}

/// The fields of every `<result>` in the operation's response, each copied
/// out (see [`read_results`] for the same without copies).
pub fn results(xml: &str) -> Result<Vec<Fields>, WorkflowError> {
    Ok(read_results(xml)?.iter().map(|r| r.to_fields()).collect())
}

/// The fields of the first `<result>`; an answer without one is an upstream fault.
pub fn result_fields(xml: &str) -> Result<Fields, WorkflowError> {
    Ok(read_results(xml)?.first()?.to_fields())
}

/// A `create`/`update`/`upsert`/`delete` result and its errors, as the
/// host read them (WIT `soap.save-result`, `soap.save-error`).
pub use crate::bindings::twoway::gateway::soap::{SaveError, SaveResult};

impl SaveResult {
    /// The id when it succeeded; else an upstream fault with the first
    /// error's statusCode and message (naming its fields).
    pub fn into_id(self) -> Result<String, WorkflowError> {
        match (self.success, self.id) {
            (true, Some(id)) => Ok(id),
            _ => Err(match self.errors.into_iter().next() {
                Some(e) if e.fields.is_empty() => upstream_fault(e.status_code, e.message),
                Some(e) => upstream_fault(
                    e.status_code,
                    format!("{} (fields: {})", e.message, e.fields.join(", ")),
                ),
                None => upstream_fault("UNKNOWN_EXCEPTION", "the save failed without an error"),
            }),
        }
    }
}

/// Every save result in the operation's response, in request order (read
/// by the host, as [`results`]).
pub fn save_results(xml: &str) -> Result<Vec<SaveResult>, WorkflowError> {
    Ok(host::save_results(xml.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_INFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><LimitInfoHeader><limitInfo><current>1</current></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body><getUserInfoResponse><result><organizationId>00D5g000004AcmeAAA</organizationId><roleId xsi:nil="true"/><userName>a&amp;b</userName></result></getUserInfoResponse></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn envelope_declares_namespaces_without_header() {
        let e = envelope(Api::SoapPartner, "<urn:getUserInfo/>");
        assert!(e.contains(r#"xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#));
        assert!(!e.contains("Header"));
        assert!(Document::parse(&e).is_ok());
        assert!(envelope(Api::SoapEnterprise, "").contains("urn:enterprise.soap.sforce.com"));
        let metadata = envelope(Api::SoapMetadata, "<urn:listMetadata/>");
        assert!(
            metadata
                .contains(r#"xmlns:urn="http://soap.sforce.com/2006/04/metadata"><soapenv:Body>"#)
        );
        assert!(!metadata.contains("urn1"));
        assert!(Document::parse(&metadata).is_ok());
    }

    #[test]
    fn escapes() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn reads_result_fields() {
        let f = result_fields(USER_INFO).unwrap();
        assert_eq!(f.get("organizationId"), Some("00D5g000004AcmeAAA"));
        assert_eq!(f.get("roleId"), None);
        assert_eq!(f.get("userName"), Some("a&b"));
        let json = r#"{"organizationId":"00D5g000004AcmeAAA","roleId":null,"userName":"a&b"}"#;
        assert_eq!(f.to_json().to_string(), json);
        assert_eq!(serde_json::to_string(&f).unwrap(), json);
    }

    #[test]
    fn fields_read_in_place_are_the_copied_fields() {
        let read = read_results(USER_INFO).unwrap();
        assert_eq!((read.len(), read.is_empty()), (1, false));
        let first = read.first().unwrap();
        assert_eq!(first.to_fields(), result_fields(USER_INFO).unwrap());
        assert_eq!(first.get("userName"), Some("a&b"));
        assert_eq!((first.get("roleId"), first.get("absent")), (None, None));
        assert_eq!(
            serde_json::to_string(&first).unwrap(),
            serde_json::to_string(&first.to_fields()).unwrap()
        );
        let none = read_results(&envelope(Api::SoapPartner, "<x/>")).unwrap();
        assert!(none.is_empty());
        assert!(matches!(
            none.first().unwrap_err(),
            WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "NO_RESULT"
        ));
    }

    #[test]
    fn the_hosts_spans_are_checked_once() {
        use crate::bindings::twoway::gateway::soap::{PackedResults, ResultField, Span};
        let span = |start, end| Span { start, end };
        let packed = |fields: Vec<ResultField>, ends: Vec<u32>| PackedResults {
            text: "néx".into(),
            fields,
            ends,
        };
        let field = |name, value| ResultField { name, value };
        let good = packed(vec![field(span(0, 3), Some(span(3, 4)))], vec![1]);
        let read = Results::checked(good).unwrap();
        assert_eq!(read.first().unwrap().get("né"), Some("x"));
        for bad in [
            packed(vec![field(span(0, 2), None)], vec![1]),
            packed(vec![field(span(0, 9), None)], vec![1]),
            packed(vec![field(span(3, 4), Some(span(2, 1)))], vec![1]),
            packed(vec![field(span(0, 1), None)], vec![2]),
            packed(vec![field(span(0, 1), None)], vec![1, 0]),
        ] {
            assert!(
                matches!(
                    Results::checked(bad.clone()),
                    Err(WorkflowError::Internal(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn repeated_names_keep_their_first_value() {
        let pair = |n: &str, v: Option<&str>| (n.to_string(), v.map(str::to_string));
        let few = Fields(vec![
            pair("a", Some("1")),
            pair("b", None),
            pair("a", Some("2")),
        ]);
        assert_eq!(
            serde_json::to_string(&few).unwrap(),
            r#"{"a":"1","b":null}"#
        );
        assert_eq!(few.to_json(), serde_json::json!({"a": "1", "b": null}));
        // Past 64 fields the look back is a set: same answer.
        let mut many: Vec<_> = (0..100)
            .map(|i| pair(&format!("f{i}"), Some("x")))
            .collect();
        many.push(pair("f7", Some("later")));
        let many = Fields(many);
        let json: Value = serde_json::to_value(&many).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 100);
        assert_eq!(json["f7"], "x");
        assert_eq!(json, many.to_json());
    }

    #[test]
    fn faults_are_the_hosts_verdicts() {
        use crate::testing::FakeHost;
        let host = FakeHost::install();
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_FIELD</faultcode><faultstring>INVALID_FIELD: bad</faultstring><detail><sf:InvalidFieldFault><sf:exceptionCode>INVALID_FIELD</sf:exceptionCode><sf:exceptionMessage>bad</sf:exceptionMessage></sf:InvalidFieldFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let client = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>Premature end of file.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        host.on(Api::SoapPartner, "POST", "").once().xml(500, xml);
        host.on(Api::SoapPartner, "POST", "")
            .once()
            .xml(500, client);
        for expected in [
            ("INVALID_FIELD", "bad"),
            ("Client", "Premature end of file."),
        ] {
            let e = call(Api::SoapPartner, "<urn:getUserInfo/>").unwrap_err();
            assert!(
                matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if (f.code.as_str(), f.message.as_str()) == expected),
                "{e:?}"
            );
        }
    }

    #[test]
    fn one_call_for_results_is_a_post_and_its_reading() {
        use crate::testing::{FakeHost, fail, response};
        let fault = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_FIELD</faultcode><faultstring>INVALID_FIELD: bad</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let host = FakeHost::install();
        // Each answer twice: once for `call` and `read_results`, once for
        // `call_for_results`.
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .xml(200, USER_INFO);
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .xml(500, fault);
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .reply(response(
                503,
                "text/html",
                "<html><body>Service unavailable</body></html>",
            ));
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .xml(302, USER_INFO);
        // Well-formed where the host classifies, not in a field.
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .xml(200, &USER_INFO.replace("a&amp;b", "a&nbsp;b"));
        host.on(Api::SoapPartner, "POST", "")
            .times(2)
            .fail(fail::unavailable("connection refused"));
        let fields = |read: Result<Results, WorkflowError>| {
            read.map(|r| r.iter().map(|f| f.to_fields()).collect::<Vec<_>>())
        };
        let code = |e: &WorkflowError| match e {
            WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) => f.code.clone(),
            WorkflowError::Upstream(UpstreamError::Unavailable(_)) => "unavailable".into(),
            other => panic!("{other:?}"),
        };
        for expected in [
            "ok",
            "INVALID_FIELD",
            "HTTP_503",
            "HTTP_302",
            "INVALID_XML",
            "unavailable",
        ] {
            let two_calls =
                fields(call(Api::SoapPartner, "<urn:getUserInfo/>").and_then(|x| read_results(&x)));
            let one_call = fields(call_for_results(Api::SoapPartner, "<urn:getUserInfo/>"));
            assert_eq!(one_call, two_calls);
            match &one_call {
                Ok(results) => {
                    assert_eq!(expected, "ok");
                    assert_eq!(results[0].get("userName"), Some("a&b"));
                }
                Err(e) => assert_eq!(code(e), expected, "{e:?}"),
            }
        }
        let sent = host.requests();
        assert_eq!(sent.len(), 12);
        assert!(
            sent.chunks(2).all(|pair| pair[0] == pair[1]),
            "the same request"
        );
    }

    #[test]
    fn reads_save_results() {
        let xml = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><createResponse><result><id>00Q000000000001AAA</id><success>true</success></result><result><errors><fields>LastName</fields><message>Required fields are missing: [LastName]</message><statusCode>REQUIRED_FIELD_MISSING</statusCode></errors><id xsi:nil="true"/><success>false</success></result></createResponse></soapenv:Body></soapenv:Envelope>"#;
        let mut r = save_results(xml).unwrap().into_iter();
        assert_eq!(r.next().unwrap().into_id().unwrap(), "00Q000000000001AAA");
        let e = r.next().unwrap().into_id().unwrap_err();
        assert!(
            matches!(e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "REQUIRED_FIELD_MISSING" && f.message.contains("LastName"))
        );
    }

    #[test]
    fn what_the_host_cannot_read_is_its_error() {
        let fault = |e: WorkflowError| match e {
            WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) => (f.code, f.message),
            other => panic!("{other:?}"),
        };
        let doctype = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        let (code, message) = fault(results(doctype).unwrap_err());
        assert_eq!(code, "INVALID_XML");
        assert!(message.contains("DOCTYPE is disallowed"), "{message}");
        let (code, _) = fault(save_results("<a><b></a>").unwrap_err());
        assert_eq!(code, "INVALID_XML");
        let deep = format!("<x>{}</x>", "<d>".repeat(300) + &"</d>".repeat(300));
        assert!(matches!(
            result_fields(&deep).unwrap_err(),
            WorkflowError::Upstream(UpstreamError::Refused(reason)) if reason.contains("deeper than 256")
        ));
        let (code, _) = fault(result_fields(&envelope(Api::SoapPartner, "<x/>")).unwrap_err());
        assert_eq!(code, "NO_RESULT");
    }

    #[test]
    fn refuses_doctype() {
        let xml = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert!(parse(xml).is_err());
    }
}
