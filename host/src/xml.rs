//! Bounded, DTD-free XML reading and text escaping, shared by everything
//! that touches SOAP: untrusted XML is parsed only through [`parse`].

use std::borrow::Cow;

/// SOAP 1.1 envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// XML Schema instance namespace (`xsi:type`, `xsi:nil`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Largest node count accepted from one document.
pub const MAX_NODES: u32 = 200_000;

/// Why a document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    /// The body was empty (Salesforce answers "Premature end of file.").
    #[error("Premature end of file.")]
    Empty,
    /// The document declares a DTD; entities are never expanded.
    #[error(
        "DOCTYPE is disallowed when the feature \"http://apache.org/xml/features/disallow-doctype-decl\" set to true."
    )]
    Doctype,
    /// The bytes are not UTF-8.
    #[error("document is not valid UTF-8")]
    NotUtf8,
    /// The document has more nodes than [`MAX_NODES`].
    #[error("document has more than {MAX_NODES} nodes")]
    TooManyNodes,
    /// The parser refused the document; the text says where.
    #[error("{0}")]
    Malformed(String),
}

/// Parses `bytes` as XML, refusing DTDs, non-UTF-8 text and documents over
/// [`MAX_NODES`]. Callers cap the byte size before they get here.
pub fn parse(bytes: &[u8]) -> Result<roxmltree::Document<'_>, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    if text.contains("<!DOCTYPE") {
        return Err(XmlError::Doctype);
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes,
        roxmltree::Error::DtdDetected => XmlError::Doctype,
        other => XmlError::Malformed(other.to_string()),
    })
}

/// The first child element of `node` with local name `name`, in any namespace.
pub fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the first child element named `name` (empty element gives "").
pub fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name).map(|c| c.text().unwrap_or(""))
}

/// The child elements of `node`.
pub fn elements<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

/// The SOAP Body's first element (the operation or the Fault), if `doc` is a
/// SOAP 1.1 envelope.
pub fn soap_body_element<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
) -> Option<roxmltree::Node<'a, 'i>> {
    let envelope = doc.root_element();
    if !envelope.has_tag_name((SOAP_ENV, "Envelope")) {
        return None;
    }
    let body = elements(envelope).find(|c| c.has_tag_name((SOAP_ENV, "Body")))?;
    elements(body).next()
}

/// The SOAP Header element, if present.
pub fn soap_header<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Option<roxmltree::Node<'a, 'i>> {
    elements(doc.root_element()).find(|c| c.has_tag_name((SOAP_ENV, "Header")))
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_doctype_and_entities() {
        let evil = br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#;
        assert_eq!(parse(evil).unwrap_err(), XmlError::Doctype);
    }

    #[test]
    fn empty_body_is_premature_end_of_file() {
        assert_eq!(
            parse(b"  ").unwrap_err().to_string(),
            "Premature end of file."
        );
    }

    #[test]
    fn caps_node_count() {
        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES as usize + 1));
        assert_eq!(parse(many.as_bytes()).unwrap_err(), XmlError::TooManyNodes);
    }

    #[test]
    fn finds_body_operation_by_namespace() {
        let doc = br#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>u</username></login></se:Body></se:Envelope>"#;
        let doc = parse(doc).unwrap();
        let op = soap_body_element(&doc).unwrap();
        assert_eq!(op.tag_name().name(), "login");
        assert_eq!(
            op.tag_name().namespace(),
            Some("urn:partner.soap.sforce.com")
        );
        assert_eq!(child_text(op, "username"), Some("u"));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }
}
