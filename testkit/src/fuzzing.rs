//! The bodies of the fuzz targets (`fuzz/`, nightly, cargo-fuzz), shared
//! with the stable replay of their corpus (`tests/tests/fuzz_corpus.rs`) so
//! the two cannot drift. Each takes the raw input, runs it through the
//! host's parsers of untrusted bytes, and panics only when an invariant
//! breaks.

use std::path::Path;

use http::HeaderMap;

use twoway::salesforce::{self, Api};
use twoway::secret::Secret;
use twoway::xml;

/// The session id the XML target injects; its answers must never show it.
pub const SESSION_ID: &str = "00DFUZZ000000000!AQ0FuzzSessionSecretValue";

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [(&str, Target); 5] = [
    ("xml_inject_classify", xml_inject_classify),
    ("login_response", login_response),
    ("identity", identity),
    ("config", config),
    ("route", route),
];

/// `xml::parse`, SessionHeader injection for every API, and classification
/// of the input as an answer of every API at a few statuses.
pub fn xml_inject_classify(data: &[u8]) {
    if let Ok(doc) = xml::parse(data) {
        let _ = xml::soap_body_element(&doc);
        let _ = xml::soap_header(&doc);
    }
    check_outline(data);
    check_plain_results(data);
    check_plain_envelope(data);
    let session = Secret::new(SESSION_ID);
    let mut content_type = HeaderMap::new();
    content_type.insert(
        http::header::CONTENT_TYPE,
        "text/xml".parse().expect("header"),
    );
    for api in Api::ALL {
        let mut headers = HeaderMap::new();
        if let Ok(body) = salesforce::inject(api, &session, &mut headers, data)
            && api.is_soap()
        {
            check_injected(&body);
        }
        for status in [200, 401, 500] {
            let outcome = salesforce::classify(api, status, &content_type, data);
            let text = outcome.to_string();
            let _ = (outcome.hint(), outcome.is_success());
            if let twoway::salesforce::Outcome::Answer(verdict) = &outcome {
                let _ = (verdict.label(), verdict.fault());
            }
            assert!(
                !text.contains(SESSION_ID),
                "an outcome shows the session: {text}"
            );
        }
    }
    let _ = salesforce::api_usage(&HeaderMap::new(), data);
}

/// The outline refuses what the parse refuses before its tree, with the
/// same error, and a sound outline names the tree's top elements as the
/// tree does (a tree may still refuse a sound outline's content).
fn check_outline(data: &[u8]) {
    let (outline, tree) = (xml::outline(data), xml::parse(data));
    let outline = match (outline, &tree) {
        (Err(e), Err(parsed)) => return assert_eq!(&e, parsed, "outline and parse refuse alike"),
        (Err(e), Ok(_)) => panic!("the outline refused what parses: {e}"),
        (Ok(outline), _) => outline,
    };
    let (Ok(doc), true) = (tree, outline.sound()) else {
        return;
    };
    let name = |n: roxmltree::Node<'_, '_>| {
        (
            n.tag_name().name().to_string(),
            n.tag_name().namespace().map(str::to_string),
        )
    };
    let named =
        |e: &xml::outline::Element<'_>| (e.local.to_string(), e.namespace.map(str::to_string));
    let root = outline.root().expect("a sound outline has a root");
    assert_eq!(named(root), name(doc.root_element()), "the root");
    let tree_children: Vec<_> = xml::elements(doc.root_element()).map(name).collect();
    let outline_children: Vec<_> = outline.children(root).map(named).collect();
    assert_eq!(outline_children, tree_children, "the root's children");
}

/// What the plain reader of `<result>` fields reads, the tree reads the
/// same; what it leaves, the tree reads (or refuses) alone.
fn check_plain_results(data: &[u8]) {
    if let Some(read) = salesforce::results::plain::results(data) {
        assert_eq!(
            salesforce::results::results_by_tree(data),
            Ok(read),
            "the plain reader and the tree read the results alike"
        );
    }
}

/// What the plain reader of a SOAP request envelope reads, the tree reads
/// the same, for every SOAP API; what it leaves, the tree reads (or
/// refuses) alone.
fn check_plain_envelope(data: &[u8]) {
    let body = bytes::Bytes::copy_from_slice(data);
    for api in Api::ALL.into_iter().filter(|api| api.is_soap()) {
        if let Some(read) = salesforce::Envelope::plain(api, data) {
            let doc = xml::parse(&body).expect("the tree reads what the plain reader reads");
            assert_eq!(
                salesforce::Envelope::of_tree(api, &body, &doc),
                read,
                "the plain reader and the tree read the envelope alike"
            );
        }
    }
}

/// An injected envelope parses again (unless the additions broke a cap)
/// and its Header holds exactly one SessionHeader: ours.
fn check_injected(body: &[u8]) {
    let doc = match xml::parse(body) {
        Ok(doc) => doc,
        Err(e) if e.is_over_limits() || e == xml::XmlError::TooManyNodes => return,
        Err(e) => panic!("inject wrote a document the host cannot read: {e}"),
    };
    let sessions: Vec<_> = xml::elements(doc.root_element())
        .filter(|h| h.has_tag_name((xml::SOAP_ENV, "Header")))
        .flat_map(|h| h.descendants())
        .filter(|n| n.is_element() && n.tag_name().name() == "SessionHeader")
        .collect();
    assert_eq!(sessions.len(), 1, "one SessionHeader after injection");
    let id = xml::child_text(sessions[0], "sessionId");
    assert_eq!(id, Some(SESSION_ID), "the SessionHeader is ours");
}

/// A SOAP login reply and an OAuth token reply, at a few statuses; a
/// failure never shows a session id.
pub fn login_response(data: &[u8]) {
    let shown = |e: salesforce::LoginFailure| {
        let text = format!("{e} {e:?} {}", e.problem_code());
        assert!(
            !text.contains(SESSION_ID),
            "a login failure shows a session: {text}"
        );
    };
    for status in [200, 400, 500] {
        if let Err(e) = salesforce::parse_login_response(status, data, "62.0") {
            shown(e);
        }
        if let Err(e) = salesforce::parse_oauth_response(status, data, "62.0") {
            shown(e);
        }
    }
}

/// The input as a PEM bundle and as a PKCS#12 archive (without a password
/// and with the test PKI's).
pub fn identity(data: &[u8]) {
    let origin = Path::new("fuzz/identity");
    // Fixed, so a replay judges as the fuzzer did; inside the validity of
    // the seed certificates (`twoway pki init` of November 2026).
    let now = time::macros::datetime!(2027-06-01 0:00 UTC);
    if let Err(e) = twoway::identity::from_pem_bytes(data, origin, now) {
        let _ = e.to_string();
    }
    for password in [None, Some(Secret::new(crate::pki::P12_PASSWORD))] {
        if let Err(e) = twoway::identity::from_pkcs12_bytes(data, password.as_ref(), origin, now) {
            let _ = e.to_string();
        }
    }
}

/// The input as `twoway.toml`, with a base folder that does not exist and
/// an empty environment.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new("/nonexistent/twoway-fuzz");
    if let Err(problems) = twoway::config::from_toml(text, base, &|_| None) {
        assert!(!problems.is_empty(), "a refused config says why");
    }
}

/// The input as a request path for the gateway's router.
pub fn route(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((tenant, workflow, rest)) = twoway::gateway::parse_route(path) {
        assert!(!tenant.is_empty() && !workflow.is_empty());
        assert!(!tenant.contains('/') && !workflow.contains('/'));
        assert!(path.ends_with(rest));
    }
}
