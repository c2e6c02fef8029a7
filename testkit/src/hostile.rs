//! Documents built to be expensive to parse, shared by the unit tests, the
//! end-to-end tests and the `xml` micro benchmarks: the two envelopes of
//! issue 10 (refused) and the worst shapes each cap still accepts.

use twoway::xml::bounds::{
    MAX_ATTRIBUTES, MAX_DEPTH, MAX_DOCUMENT_ATTRIBUTES, MAX_DOCUMENT_NAMESPACES, MAX_NAME,
    MAX_NAMESPACE_DECLARATIONS, MAX_NAMESPACES_IN_SCOPE, NAMESPACE_WORK_MAX, NAMESPACE_WORK_MIN,
    NAMESPACE_WORK_PER_BYTE,
};
use twoway::xml::{MAX_NODES, SOAP_ENV};

const PARTNER: &str = "urn:partner.soap.sforce.com";

/// A SOAP envelope whose Body holds `operation`, the Envelope carrying
/// `envelope_attributes` after its own namespace declaration.
pub fn envelope(envelope_attributes: &str, operation: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"{envelope_attributes}><soapenv:Body>{operation}</soapenv:Body></soapenv:Envelope>"#
    )
}

/// ` xmlns:{prefix}0="urn:{prefix}0" ...`, `n` of them.
pub fn declarations(n: usize, prefix: &str) -> String {
    (0..n)
        .map(|i| format!(r#" xmlns:{prefix}{i}="urn:{prefix}{i}""#))
        .collect()
}

/// ` a0="" a1="" ...`, `n` of them.
pub fn attributes(n: usize) -> String {
    (0..n).map(|i| format!(r#" a{i}="""#)).collect()
}

/// Issue 10's namespace-heavy envelope: 3,000 declarations on the root and
/// 1,000 children declaring one more each (26.7 s in roxmltree unchecked).
pub fn namespace_heavy_envelope() -> String {
    let children: String = (0..1000)
        .map(|i| format!(r#"<c xmlns:m{i}="urn:m"/>"#))
        .collect();
    envelope(
        &declarations(3000, "n"),
        &format!(r#"<getUserInfo xmlns="{PARTNER}">{children}</getUserInfo>"#),
    )
}

/// Issue 10's attribute-heavy envelope: one element with 40,000
/// attributes, about 389 KB (7.4 s in roxmltree unchecked).
pub fn attribute_heavy_envelope() -> String {
    envelope(
        "",
        &format!(r#"<getUserInfo xmlns="{PARTNER}"{}/>"#, attributes(40_000)),
    )
}

/// Elements of [`MAX_ATTRIBUTES`] attributes each, up to
/// [`MAX_DOCUMENT_ATTRIBUTES`] in all: the most duplicate-checking accepted.
pub fn attributes_at_caps() -> String {
    let element = format!("<e{}/>", attributes(MAX_ATTRIBUTES));
    let count = MAX_DOCUMENT_ATTRIBUTES / MAX_ATTRIBUTES;
    envelope("", &format!("<r>{}</r>", element.repeat(count)))
}

/// The most namespace resolution accepted: as many in scope as allowed,
/// then children re-declaring one each until 90 % of the work budget.
pub fn namespaces_at_caps() -> String {
    let root = MAX_NAMESPACE_DECLARATIONS;
    let inner = MAX_NAMESPACES_IN_SCOPE - root - 2;
    let child = r#"<c xmlns:z="urn:z"/>"#;
    let build = |children: usize| {
        envelope(
            &declarations(root - 1, "n"),
            &format!(
                r#"<getUserInfo xmlns="{PARTNER}"{}>{}</getUserInfo>"#,
                declarations(inner, "i"),
                child.repeat(children)
            ),
        )
    };
    // The Envelope, then getUserInfo, then each child: (in scope)² steps.
    let square = |n: usize| (n * n) as u64;
    let fixed = square(root) + square(MAX_NAMESPACES_IN_SCOPE - 1);
    let per_child = square(MAX_NAMESPACES_IN_SCOPE);
    let empty = build(0).len() as u64;
    let mut children = 0u64;
    loop {
        let bytes = empty + (children + 1) * child.len() as u64;
        let budget = (bytes * NAMESPACE_WORK_PER_BYTE).max(NAMESPACE_WORK_MIN);
        if fixed + (children + 1) * per_child > budget * 9 / 10 {
            break;
        }
        children += 1;
    }
    build(children as usize)
}

/// The most namespace work per byte accepted in a large document: 16 in
/// scope and every child re-declaring one more (17² steps for its 19
/// bytes), up to the declarations cap or 90 % of the largest budget.
pub fn namespaces_redeclared() -> String {
    let child = r#"<c xmlns:z="urn:z"/>"#;
    let children =
        ((NAMESPACE_WORK_MAX as usize * 9 / 10) / (17 * 17)).min(MAX_DOCUMENT_NAMESPACES - 16);
    envelope(
        &declarations(14, "n"),
        &format!(
            r#"<getUserInfo xmlns="{PARTNER}">{}</getUserInfo>"#,
            child.repeat(children)
        ),
    )
}

/// Nests of [`MAX_DEPTH`] elements, repeated up to about [`MAX_NODES`].
pub fn deep_at_caps() -> String {
    let nest = format!(
        "{}{}",
        "<d>".repeat(MAX_DEPTH - 4),
        "</d>".repeat(MAX_DEPTH - 4)
    );
    let count = (MAX_NODES as usize - 16) / (MAX_DEPTH - 4);
    envelope("", &format!("<r>{}</r>", nest.repeat(count)))
}

/// Elements whose names are [`MAX_NAME`] bytes long, about `size` bytes.
pub fn long_names(size: usize) -> String {
    let name = "n".repeat(MAX_NAME);
    let element = format!("<{name} {name}=\"\"></{name}>");
    envelope(
        "",
        &format!("<r>{}</r>", element.repeat(size / element.len())),
    )
}

/// Small elements up to just under [`MAX_NODES`].
pub fn many_elements() -> String {
    envelope(
        "",
        &format!("<r>{}</r>", "<e/>".repeat(MAX_NODES as usize - 16)),
    )
}

/// A queryResponse of about `size` bytes, as Salesforce writes one.
pub fn query_response(size: usize) -> String {
    let record = r#"<records xsi:type="sf:sObject"><sf:type>Account</sf:type><sf:Id>001000000000000AAA</sf:Id><sf:Name>Account name, Inc.</sf:Name><sf:Description>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</sf:Description></records>"#;
    let count = size / record.len();
    envelope(
        r#" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#,
        &format!(
            "<queryResponse><result><done>true</done>{}<size>{count}</size></result></queryResponse>",
            record.repeat(count)
        ),
    )
}
