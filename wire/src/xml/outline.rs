//! The top levels of a document (a SOAP Envelope, its Header and Body, and
//! their children) with resolved namespaces and byte ranges, recorded by
//! the bounds pass ([`super::bounds`]) instead of a tree. Enough to tell a
//! SOAP success from a fault without parsing the answer twice; anything the
//! outline cannot vouch for makes it unsound, and the caller parses.

/// Deepest level outlined: the root is 1 (Envelope), then Header and Body
/// (2), then the operation or the Fault (3).
pub const DEPTH: usize = 3;
/// Most elements outlined; past it the outline is unsound.
const MAX_ELEMENTS: usize = 64;
/// Most namespace declarations kept from the outlined levels.
const MAX_DECLARATIONS: usize = 64;
/// The namespace the `xml` prefix is bound to.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// One element of the top [`DEPTH`] levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// 1 for the root.
    pub depth: usize,
    /// The name as written (`soapenv:Body`).
    pub qname: &'a str,
    /// The name without its prefix (`Body`).
    pub local: &'a str,
    /// The namespace the prefix (or the default namespace) is bound to.
    pub namespace: Option<&'a str>,
    /// Byte offset of the start tag's `<`.
    pub start: usize,
    /// Byte offset just after the start tag's `>`.
    pub start_end: usize,
    /// Written `<x/>`.
    pub empty: bool,
}

impl Element<'_> {
    /// True when the element is `local` in `namespace`.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.local == local && self.namespace == Some(namespace)
    }
}

/// The outline of one document; see [`super::outline`].
#[derive(Debug)]
pub struct Outline<'a> {
    /// The document, which has passed the bounds pass.
    text: &'a str,
    elements: Vec<Element<'a>>,
    /// `(depth, prefix, namespace)` in scope at the outlined levels.
    declarations: Vec<(usize, &'a str, &'a str)>,
    /// Names of the open elements, to match end tags.
    open: Vec<&'a str>,
    sound: bool,
}

impl<'a> Outline<'a> {
    /// An empty outline of `text`, for the bounds pass to fill in.
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            elements: Vec::new(),
            declarations: Vec::new(),
            open: Vec::new(),
            sound: true,
        }
    }

    /// The document parsed into a tree, as [`super::parse`] would give it
    /// (the bounds pass is not repeated).
    pub fn tree(&self) -> Result<roxmltree::Document<'a>, super::XmlError> {
        super::tree(self.text)
    }

    /// True when the document has one root and no text outside it, every
    /// element is closed by an end tag of its name, every outlined prefix
    /// is declared, and the top levels fit the outline. Otherwise parse the
    /// document to learn more. Below the outlined levels only the structure
    /// is vouched for: entities, characters, prefixes and duplicate
    /// attributes there are the reader's to check.
    pub fn sound(&self) -> bool {
        self.sound
    }

    /// The root element.
    pub fn root(&self) -> Option<&Element<'a>> {
        self.elements.first()
    }

    /// The child elements of `parent` (an element of this outline above
    /// [`DEPTH`]), in document order.
    pub fn children<'s>(
        &'s self,
        parent: &Element<'a>,
    ) -> impl Iterator<Item = &'s Element<'a>> + 's {
        let depth = parent.depth;
        let at = parent.start;
        self.elements
            .iter()
            .skip_while(move |e| e.start <= at)
            .take_while(move |e| e.depth > depth)
            .filter(move |e| e.depth == depth + 1)
    }

    /// A namespace declaration (`xmlns` or `xmlns:p`) on an element at `depth`.
    pub(super) fn declare(&mut self, depth: usize, attribute: &'a str, namespace: &'a str) {
        if depth > DEPTH {
            return;
        }
        if self.declarations.len() == MAX_DECLARATIONS {
            self.sound = false;
            return;
        }
        let prefix = attribute.strip_prefix("xmlns:").unwrap_or("");
        self.declarations.push((depth, prefix, namespace));
    }

    /// A start tag at `depth`, from byte `start` to just before `start_end`.
    pub(super) fn start(
        &mut self,
        depth: usize,
        qname: &'a str,
        start: usize,
        start_end: usize,
        empty: bool,
    ) {
        if depth == 1 && !self.elements.is_empty() {
            self.sound = false;
        }
        if !empty {
            self.open.push(qname);
        }
        if depth > DEPTH {
            return;
        }
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        let namespace = if prefix == "xml" {
            Some(XML_NAMESPACE)
        } else {
            let found = self
                .declarations
                .iter()
                .rev()
                .find(|(_, p, _)| *p == prefix)
                .map(|(_, _, ns)| *ns);
            // An empty `xmlns=""` undeclares the default namespace.
            found.filter(|ns| !ns.is_empty())
        };
        if namespace.is_none() && !prefix.is_empty() {
            self.sound = false;
        }
        if self.elements.len() == MAX_ELEMENTS {
            self.sound = false;
        } else {
            self.elements.push(Element {
                depth,
                qname,
                local,
                namespace,
                start,
                start_end,
                empty,
            });
        }
        if empty {
            self.close(depth);
        }
    }

    /// An end tag named `qname`.
    pub(super) fn end(&mut self, qname: &str) {
        let depth = self.open.len();
        if self.open.pop() != Some(qname) {
            self.sound = false;
        }
        self.close(depth);
    }

    /// The element at `depth` closed: its declarations go out of scope.
    fn close(&mut self, depth: usize) {
        while self
            .declarations
            .last()
            .is_some_and(|(d, _, _)| *d >= depth)
        {
            self.declarations.pop();
        }
    }

    /// Text that is not whitespace before or after the root element.
    pub(super) fn stray_text(&mut self) {
        self.sound = false;
    }

    /// The end of the document: every element must be closed.
    pub(super) fn finish(&mut self) {
        if !self.open.is_empty() || self.elements.is_empty() {
            self.sound = false;
        }
    }
}
