//! Bounded, DTD-free XML reading and text escaping, shared by everything
//! that touches SOAP: untrusted XML is parsed only through [`parse`], which
//! refuses, in one linear pass before parsing ([`bounds`]), every shape
//! whose parse would cost more than linear time or memory, or outlined
//! through [`outline`] (the same pass, no tree); documents in the plain
//! subset Salesforce writes may be read in one pass by [`plain`].

use std::borrow::Cow;

pub mod bounds;
pub mod outline;
pub mod plain;

pub use bounds::{
    MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTES, MAX_DEPTH, MAX_DOCUMENT_ATTRIBUTES,
    MAX_DOCUMENT_NAMESPACES, MAX_NAME, MAX_NAMESPACE_DECLARATIONS, MAX_NAMESPACES_IN_SCOPE,
};

/// SOAP 1.1 envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// XML Schema instance namespace (`xsi:type`, `xsi:nil`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Largest node count accepted from one document.
pub const MAX_NODES: u32 = 200_000;

/// Why a document was refused. Messages name the cap, the element and its
/// line; none quotes text or attribute values.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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
    /// An element deeper than [`MAX_DEPTH`].
    #[error("element `{element}` at line {line} is nested deeper than {MAX_DEPTH} levels")]
    TooDeep { element: String, line: usize },
    /// An element with more than [`MAX_ATTRIBUTES`] attributes.
    #[error(
        "element `{element}` at line {line} has more than {MAX_ATTRIBUTES} attributes \
         (namespace declarations not counted)"
    )]
    TooManyAttributes { element: String, line: usize },
    /// More than [`MAX_DOCUMENT_ATTRIBUTES`] attributes in the document.
    #[error(
        "the document has more than {MAX_DOCUMENT_ATTRIBUTES} attributes \
         (the cap was reached at element `{element}`, line {line})"
    )]
    TooManyDocumentAttributes { element: String, line: usize },
    /// An element with more than [`MAX_NAMESPACE_DECLARATIONS`] `xmlns` attributes.
    #[error(
        "element `{element}` at line {line} declares more than {MAX_NAMESPACE_DECLARATIONS} \
         namespaces"
    )]
    TooManyNamespaceDeclarations { element: String, line: usize },
    /// More than [`MAX_NAMESPACES_IN_SCOPE`] declarations in scope at an element.
    #[error(
        "element `{element}` at line {line} has more than {MAX_NAMESPACES_IN_SCOPE} namespace \
         declarations in scope (its own and its ancestors')"
    )]
    TooManyNamespacesInScope { element: String, line: usize },
    /// More than [`MAX_DOCUMENT_NAMESPACES`] declarations in the document.
    #[error(
        "the document has more than {MAX_DOCUMENT_NAMESPACES} namespace declarations (the cap \
         was reached at element `{element}`, line {line}); declare each namespace once, on the root"
    )]
    TooManyDocumentNamespaces { element: String, line: usize },
    /// Namespaces re-declared below the root on so many elements, with so
    /// many in scope, that resolving them would cost more than the budget.
    #[error(
        "namespace declarations below the root cost too much to resolve (the budget was spent \
         at element `{element}`, line {line}); declare each namespace once, on the root"
    )]
    NamespaceWork { element: String, line: usize },
    /// An element, attribute or prefix name longer than [`MAX_NAME`] bytes.
    #[error("a name longer than {MAX_NAME} bytes (`{name}`) at line {line}")]
    NameTooLong { name: String, line: usize },
    /// An attribute value longer than [`MAX_ATTRIBUTE_VALUE`] bytes.
    #[error(
        "an attribute value of element `{element}` at line {line} is longer than \
         {MAX_ATTRIBUTE_VALUE} bytes"
    )]
    AttributeValueTooLong { element: String, line: usize },
    /// The parser refused the document; the text says where.
    #[error("{0}")]
    Malformed(String),
}

impl XmlError {
    /// True when the document broke one of the work caps of [`bounds`]
    /// (not [`MAX_NODES`], which large, regular answers reach): a document
    /// built to be expensive, not merely malformed.
    pub fn is_over_limits(&self) -> bool {
        matches!(
            self,
            XmlError::TooDeep { .. }
                | XmlError::TooManyAttributes { .. }
                | XmlError::TooManyDocumentAttributes { .. }
                | XmlError::TooManyNamespaceDeclarations { .. }
                | XmlError::TooManyNamespacesInScope { .. }
                | XmlError::TooManyDocumentNamespaces { .. }
                | XmlError::NamespaceWork { .. }
                | XmlError::NameTooLong { .. }
                | XmlError::AttributeValueTooLong { .. }
        )
    }
}

/// Parses `bytes` as XML, refusing DTDs, non-UTF-8 text, documents over
/// [`MAX_NODES`] and documents over the caps of [`bounds`]. Linear in the
/// size of `bytes`; callers cap the byte size before they get here.
pub fn parse(bytes: &[u8]) -> Result<roxmltree::Document<'_>, XmlError> {
    let text = checked_text(bytes)?;
    bounds::check(text)?;
    tree(text)
}

/// roxmltree's parse of `text`, which has passed the bounds pass.
fn tree(text: &str) -> Result<roxmltree::Document<'_>, XmlError> {
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

/// The outline of `bytes` (its top levels, see [`outline::Outline`]) made
/// by the bounds pass of [`parse`], without a tree: every document [`parse`]
/// refuses for its bytes, a DTD or the caps is refused here with the same
/// error. Linear in the size of `bytes`; [`outline::Outline::tree`] then
/// parses without repeating the pass.
pub fn outline(bytes: &[u8]) -> Result<outline::Outline<'_>, XmlError> {
    let text = checked_text(bytes)?;
    let mut outline = outline::Outline::new(text);
    bounds::check_outlined(text, &mut outline)?;
    Ok(outline)
}

/// `bytes` as text, refused when not UTF-8, empty or declaring a DTD.
fn checked_text(bytes: &[u8]) -> Result<&str, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    if text.contains("<!DOCTYPE") {
        return Err(XmlError::Doctype);
    }
    Ok(text)
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
    // Two vector searches say most texts (a session id) need nothing.
    let bytes = text.as_bytes();
    if memchr::memchr3(b'<', b'>', b'&', bytes).is_none()
        && memchr::memchr2(b'"', b'\'', bytes).is_none()
    {
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
mod tests;
