//! One linear pass over a document, before roxmltree sees it, that refuses
//! shapes whose parse costs more than linear time or memory: too many
//! attributes or namespace declarations on one element, too many in scope,
//! too deep, names or attribute values too long, and too much namespace
//! re-declaration overall.
//!
//! roxmltree checks duplicate attributes pairwise (quadratic in the
//! attributes of one element) and, for every element that declares a
//! namespace, copies and re-checks every namespace in scope (quadratic in
//! the namespaces in scope). A 63 KB envelope of 3,000 declarations on the
//! root and 1,000 children declaring one more each took 26.7 s; one element
//! with 40,000 attributes took 7.4 s. Under the caps below the worst input
//! costs a small constant per byte (see the `xml` micro benchmarks).
//!
//! The scan follows the XML grammar for the regions that hide markup
//! (comments to `-->`, CDATA to `]]>`, processing instructions to `?>`,
//! attribute values to their closing quote), exactly as roxmltree does, so
//! no region roxmltree parses is skipped; anything it cannot read is
//! refused. It counts nodes the way roxmltree does and stops where roxmltree
//! would stop ([`MAX_NODES`]), so the caps apply to what is parsed.

use super::outline::Outline;
use super::{MAX_NODES, XmlError};

/// Most depth (the root is at depth 1). SOAP envelopes from Salesforce are
/// under 15 deep; deeper documents only serve to make recursive readers slow.
pub const MAX_DEPTH: usize = 256;
/// Most attributes on one element, namespace declarations not counted.
/// roxmltree's duplicate check is quadratic per element: at 256 a worst
/// document costs about twice a document of plain elements of its size.
pub const MAX_ATTRIBUTES: usize = 256;
/// Most attributes in a document (as many as nodes): attributes are not
/// nodes, so [`MAX_NODES`] does not bound their memory.
pub const MAX_DOCUMENT_ATTRIBUTES: usize = MAX_NODES as usize;
/// Most namespace declarations (`xmlns`, `xmlns:p`) on one element.
pub const MAX_NAMESPACE_DECLARATIONS: usize = 64;
/// Most namespace declarations in scope at one element: its own plus those
/// of its open ancestors. Prefix lookups are linear in this; Salesforce's
/// envelopes have under 10.
pub const MAX_NAMESPACES_IN_SCOPE: usize = 128;
/// Most namespace declarations in a document, counted on every element.
pub const MAX_DOCUMENT_NAMESPACES: usize = 16 * 1024;
/// Longest element, attribute or prefix name, in bytes.
pub const MAX_NAME: usize = 1024;
/// Longest attribute value, in bytes. Text is not capped apart from the
/// body caps: its cost is linear, and answers carry base64 files as text.
pub const MAX_ATTRIBUTE_VALUE: usize = 1024 * 1024;
/// Namespace work allowed per byte of document, at least
/// [`NAMESPACE_WORK_MIN`] and at most [`NAMESPACE_WORK_MAX`]. An element
/// that declares namespaces costs about `n²` steps for the `n` namespaces
/// then in scope (about 3 ns each); elements that declare none cost nothing.
pub const NAMESPACE_WORK_PER_BYTE: u64 = 16;
/// The namespace work any document may have (a root declaring 128 costs 16,384).
pub const NAMESPACE_WORK_MIN: u64 = 64 * 1024;
/// The namespace work no document may pass, whatever its size (~25 ms).
pub const NAMESPACE_WORK_MAX: u64 = 8 * 1024 * 1024;

/// Longest element name quoted in an error.
const NAME_IN_ERROR: usize = 64;

/// Checks `text` against the caps; `Ok` means roxmltree's parse of it is
/// linear. Malformed input may pass: roxmltree refuses it after.
pub fn check(text: &str) -> Result<(), XmlError> {
    Scanner::new(text, None).run()
}

/// [`check`], and `outline` filled in by the same pass.
pub(super) fn check_outlined<'a>(text: &'a str, outline: &mut Outline<'a>) -> Result<(), XmlError> {
    Scanner::new(text, Some(outline)).run()?;
    outline.finish();
    Ok(())
}

struct Scanner<'a, 'o> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Nodes so far, as roxmltree counts them (the document node first).
    nodes: u32,
    /// A text node is open (text and CDATA next to each other are one node).
    in_text: bool,
    /// Namespace declarations of each open element.
    open: Vec<usize>,
    in_scope: usize,
    attributes: usize,
    namespaces: usize,
    namespace_work: u64,
    namespace_budget: u64,
    /// The caller's outline of the top elements, when it wants one.
    outline: Option<&'o mut Outline<'a>>,
}

/// One start tag's element name and where it starts, for errors.
#[derive(Clone, Copy)]
struct Element<'a> {
    name: &'a str,
    at: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes that end a name: roxmltree reads none of them as part of one.
fn ends_name(b: u8) -> bool {
    is_space(b) || matches!(b, b'/' | b'>' | b'=' | b'"' | b'\'' | b'<')
}

impl<'a, 'o> Scanner<'a, 'o> {
    fn new(text: &'a str, outline: Option<&'o mut Outline<'a>>) -> Self {
        let budget = (text.len() as u64)
            .saturating_mul(NAMESPACE_WORK_PER_BYTE)
            .clamp(NAMESPACE_WORK_MIN, NAMESPACE_WORK_MAX);
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            nodes: 1,
            in_text: false,
            open: Vec::new(),
            in_scope: 0,
            attributes: 0,
            namespaces: 0,
            namespace_work: 0,
            namespace_budget: budget,
            outline,
        }
    }

    fn run(mut self) -> Result<(), XmlError> {
        while self.pos < self.bytes.len() {
            let rest = &self.bytes[self.pos..];
            let lt = rest.iter().position(|&b| b == b'<');
            let text = &rest[..lt.unwrap_or(rest.len())];
            if !text.is_empty() {
                self.text_node()?;
                if self.open.is_empty()
                    && !text.iter().all(|&b| is_space(b))
                    && let Some(outline) = self.outline.as_deref_mut()
                {
                    outline.stray_text();
                }
            }
            let Some(lt) = lt else {
                break;
            };
            self.pos += lt;
            let rest = &self.bytes[self.pos..];
            if rest.starts_with(b"<!--") {
                self.skip_past(4, b"-->", "comment")?;
                self.node()?;
            } else if rest.starts_with(b"<![CDATA[") {
                self.skip_past(9, b"]]>", "CDATA section")?;
                self.text_node()?;
            } else if rest.starts_with(b"<?") {
                self.skip_past(2, b"?>", "processing instruction")?;
                self.node()?;
            } else if rest.starts_with(b"<!") {
                return Err(self.malformed(
                    "a `<!` declaration (only comments and CDATA may start with `<!`)",
                ));
            } else if rest.starts_with(b"</") {
                self.end_tag()?;
            } else {
                self.start_tag()?;
            }
        }
        Ok(())
    }

    /// Counts a node that is not text (an element, comment or PI).
    fn node(&mut self) -> Result<(), XmlError> {
        self.in_text = false;
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(XmlError::TooManyNodes);
        }
        Ok(())
    }

    /// Counts text inside the root (outside it roxmltree keeps none).
    fn text_node(&mut self) -> Result<(), XmlError> {
        if self.in_text || self.open.is_empty() {
            return Ok(());
        }
        self.node()?;
        self.in_text = true;
        Ok(())
    }

    /// Moves past the first `end` found at or after `self.pos + from`.
    fn skip_past(&mut self, from: usize, end: &[u8], what: &str) -> Result<(), XmlError> {
        let start = self.pos + from;
        match find(&self.bytes[start.min(self.bytes.len())..], end) {
            Some(i) => {
                self.pos = start + i + end.len();
                Ok(())
            }
            None => Err(self.malformed(&format!("an unterminated {what}"))),
        }
    }

    fn skip_space(&mut self) {
        while self.pos < self.bytes.len() && is_space(self.bytes[self.pos]) {
            self.pos += 1;
        }
    }

    /// The name at `self.pos` (possibly empty), moving past it.
    fn name(&mut self) -> &'a str {
        let start = self.pos;
        while self.pos < self.bytes.len() && !ends_name(self.bytes[self.pos]) {
            self.pos += 1;
        }
        // Names end at ASCII bytes, so both ends are char boundaries.
        &self.text[start..self.pos]
    }

    fn end_tag(&mut self) -> Result<(), XmlError> {
        let at = self.pos;
        self.pos += 2;
        let name = self.name();
        if name.len() > MAX_NAME {
            return Err(XmlError::NameTooLong {
                name: quoted(name),
                line: self.line(at),
            });
        }
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b'>') {
            return Err(self.malformed("an unterminated end tag"));
        }
        self.pos += 1;
        let Some(declared) = self.open.pop() else {
            self.pos = at;
            return Err(self.malformed("an end tag without a start tag"));
        };
        self.in_scope -= declared;
        self.in_text = false;
        if let Some(outline) = self.outline.as_deref_mut() {
            outline.end(name);
        }
        Ok(())
    }

    fn start_tag(&mut self) -> Result<(), XmlError> {
        let at = self.pos;
        self.pos += 1;
        let name = self.name();
        let element = Element { name, at };
        if name.is_empty() {
            self.pos = at;
            return Err(self.malformed("a `<` that starts no tag (write `&lt;` in text)"));
        }
        if name.len() > MAX_NAME {
            return Err(XmlError::NameTooLong {
                name: quoted(name),
                line: self.line(at),
            });
        }
        if self.open.len() + 1 > MAX_DEPTH {
            return Err(XmlError::TooDeep {
                element: quoted(name),
                line: self.line(at),
            });
        }
        let (mut attributes, mut declared) = (0usize, 0usize);
        let empty = loop {
            self.skip_space();
            match self.bytes.get(self.pos) {
                None => return Err(self.malformed_at(at, "an unterminated start tag")),
                Some(b'>') => {
                    self.pos += 1;
                    break false;
                }
                Some(b'/') => {
                    if self.bytes.get(self.pos + 1) != Some(&b'>') {
                        return Err(self.malformed("a `/` in a start tag not followed by `>`"));
                    }
                    self.pos += 2;
                    break true;
                }
                Some(_) => {}
            }
            if let Some((name, value)) = self.attribute(element)? {
                if let Some(outline) = self.outline.as_deref_mut() {
                    outline.declare(self.open.len() + 1, name, value);
                }
                declared += 1;
                self.namespace_declared(element, declared)?;
            } else {
                attributes += 1;
                self.attributes += 1;
                if attributes > MAX_ATTRIBUTES {
                    return Err(XmlError::TooManyAttributes {
                        element: quoted(name),
                        line: self.line(at),
                    });
                }
                if self.attributes > MAX_DOCUMENT_ATTRIBUTES {
                    return Err(XmlError::TooManyDocumentAttributes {
                        element: quoted(name),
                        line: self.line(at),
                    });
                }
            }
        };
        if declared > 0 {
            let n = (self.in_scope + declared) as u64;
            self.namespace_work += n * n;
            if self.namespace_work > self.namespace_budget {
                return Err(XmlError::NamespaceWork {
                    element: quoted(name),
                    line: self.line(at),
                });
            }
        }
        self.node()?;
        if let Some(outline) = self.outline.as_deref_mut() {
            outline.start(self.open.len() + 1, name, at, self.pos, empty);
        }
        if !empty {
            self.open.push(declared);
            self.in_scope += declared;
        }
        Ok(())
    }

    /// Checks the counts after the element's `declared`-th declaration.
    fn namespace_declared(&mut self, e: Element<'_>, declared: usize) -> Result<(), XmlError> {
        self.namespaces += 1;
        if declared > MAX_NAMESPACE_DECLARATIONS {
            let (element, line) = self.at(e);
            return Err(XmlError::TooManyNamespaceDeclarations { element, line });
        }
        if self.in_scope + declared > MAX_NAMESPACES_IN_SCOPE {
            let (element, line) = self.at(e);
            return Err(XmlError::TooManyNamespacesInScope { element, line });
        }
        if self.namespaces > MAX_DOCUMENT_NAMESPACES {
            let (element, line) = self.at(e);
            return Err(XmlError::TooManyDocumentNamespaces { element, line });
        }
        Ok(())
    }

    /// The element's name for an error and its line.
    fn at(&self, e: Element<'_>) -> (String, usize) {
        (quoted(e.name), self.line(e.at))
    }

    /// Reads `name="value"`; `Some((name, value))` when it declares a namespace.
    fn attribute(&mut self, element: Element<'_>) -> Result<Option<(&'a str, &'a str)>, XmlError> {
        let name = self.name();
        if name.is_empty() {
            return Err(self.malformed("an attribute without a name"));
        }
        if name.len() > MAX_NAME {
            return Err(XmlError::NameTooLong {
                name: quoted(name),
                line: self.line(element.at),
            });
        }
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b'=') {
            return Err(self.malformed("an attribute without `=`"));
        }
        self.pos += 1;
        self.skip_space();
        let quote = match self.bytes.get(self.pos) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err(self.malformed("an attribute value without quotes")),
        };
        let start = self.pos + 1;
        let Some(len) = self.bytes[start..].iter().position(|&b| b == quote) else {
            return Err(self.malformed("an unterminated attribute value"));
        };
        if len > MAX_ATTRIBUTE_VALUE {
            return Err(XmlError::AttributeValueTooLong {
                element: quoted(element.name),
                line: self.line(element.at),
            });
        }
        self.pos = start + len + 1;
        let declares = name == "xmlns" || name.starts_with("xmlns:");
        Ok(declares.then(|| (name, &self.text[start..start + len])))
    }

    /// The 1-based line of byte `at` (only computed for errors).
    fn line(&self, at: usize) -> usize {
        1 + self.bytes[..at.min(self.bytes.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    fn malformed(&self, what: &str) -> XmlError {
        self.malformed_at(self.pos, what)
    }

    fn malformed_at(&self, at: usize, what: &str) -> XmlError {
        XmlError::Malformed(format!("{what} at line {}", self.line(at)))
    }
}

/// The first index of `needle` in `hay` (linear for the short needles used).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A name fit for an error: at most [`NAME_IN_ERROR`] bytes, cut at a char boundary.
fn quoted(name: &str) -> String {
    if name.len() <= NAME_IN_ERROR {
        return name.to_string();
    }
    let mut end = NAME_IN_ERROR;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}
