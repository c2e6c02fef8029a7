//! One pass over a document written in the plain subset of XML that
//! Salesforce and its clients write: ASCII names, the five entities and
//! character references, few namespace declarations, no comments, CDATA,
//! processing instructions or carriage returns, at most [`MAX_BODY`]
//! bytes. A [`Visit`] sees each element and text as they come; whatever
//! falls outside the subset ends the read with `None`, and the caller reads
//! the document with the bounded parse instead ([`super::parse`]). So a
//! reader built on this one gives what the tree gives for every document it
//! reads (each has agreement tests), and a document it leaves is refused
//! exactly as before. Its own work is linear by construction (the caps
//! below are far inside those of [`super::bounds`], which any document it
//! reads therefore passes).

/// Largest document read here (under it, [`super::MAX_NODES`] cannot be
/// reached and the namespace work stays under its budget).
pub const MAX_BODY: usize = 64 * 1024;
/// Deepest element (the caps' is 256).
const MAX_DEPTH: usize = 64;
/// Most attributes on one element (256).
const MAX_ATTRIBUTES: usize = 16;
/// Most namespace declarations in scope (128). At 8, an element that
/// declares one costs at most 64 of the bounds pass's namespace work, under
/// the 16 a byte its budget allows for the 13 bytes the element takes.
const MAX_IN_SCOPE: usize = 8;
/// Longest name (1,024).
const MAX_NAME: usize = 256;

/// The XML declarations read as they are (roxmltree checks any other's
/// syntax; those go to the tree).
const DECLARATIONS: [&str; 3] = [
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<?xml version="1.0" encoding="utf-8"?>"#,
    r#"<?xml version="1.0"?>"#,
];
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

pub use super::outline::Element;

/// What a reader of the plain subset does with what it reads.
pub trait Visit<'a> {
    /// What an open element is to the visitor.
    type Role: Copy;
    /// An element starts, with its `attributes` (`parent`: the open
    /// element's role, `None` for the root); its role. `None` leaves the
    /// document to the tree.
    fn start(
        &mut self,
        element: &Element<'a>,
        attributes: &Attributes<'a, '_>,
        parent: Option<Self::Role>,
    ) -> Option<Self::Role>;
    /// Text in the innermost open element, checked; `references` when it
    /// has references to decode ([`decode_into`]).
    fn text(&mut self, role: Self::Role, text: &'a str, references: bool);
    /// The element of `role` ends, just before `end` (past its end tag, or
    /// its empty tag).
    fn end(&mut self, role: Self::Role, end: usize);
}

/// The attributes of an element as it starts (namespace declarations
/// not counted).
pub struct Attributes<'a, 'r> {
    attributes: &'r [Attribute<'a>],
    scope: &'r [(&'a str, &'a str)],
}

impl<'a> Attributes<'a, '_> {
    /// The value (as written: [`decoded`] gives its text) of each
    /// attribute in a namespace, with the namespace and local name.
    pub fn namespaced(&self) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> {
        self.attributes
            .iter()
            .filter(|(prefix, _, _)| !prefix.is_empty())
            .filter_map(|&(prefix, local, value)| {
                Some((namespace(self.scope, prefix)?, local, value))
            })
    }
}

/// One attribute of a start tag: prefix, local name, value as written.
type Attribute<'a> = (&'a str, &'a str, &'a str);

/// Reads `body` with `visit`; `None` when `body` is not in the plain
/// subset or the visitor left it.
pub fn read<'a, V: Visit<'a>>(body: &'a [u8], visit: V) -> Option<V> {
    if body.len() > MAX_BODY {
        return None;
    }
    read_text(std::str::from_utf8(body).ok()?, visit)
}

/// [`read`] for a body its caller has already taken as text.
pub fn read_text<'a, V: Visit<'a>>(text: &'a str, visit: V) -> Option<V> {
    if text.len() > MAX_BODY {
        return None;
    }
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        open: Vec::with_capacity(16),
        scope: Vec::with_capacity(MAX_IN_SCOPE),
        attributes: Vec::with_capacity(MAX_ATTRIBUTES),
        visit,
    };
    reader.document()?;
    Some(reader.visit)
}

struct Reader<'a, V: Visit<'a>> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The open elements: qualified name, declarations made, role.
    open: Vec<(&'a str, usize, V::Role)>,
    /// Namespace declarations in scope, innermost last: prefix ("" for the
    /// default namespace), namespace.
    scope: Vec<(&'a str, &'a str)>,
    /// The current start tag's attributes (declarations are in `scope`).
    attributes: Vec<Attribute<'a>>,
    visit: V,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// The bytes of a name in the plain subset: ASCII letters and digits, `_`,
/// `-`, `.` and the prefix's `:`.
const NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            (b as u8).is_ascii_alphanumeric() || matches!(b as u8, b'_' | b'-' | b'.' | b':');
        b += 1;
    }
    table
};

/// [`NAME`] but `:`.
const LETTERS: [bool; 256] = {
    let mut table = NAME;
    table[b':' as usize] = false;
    table
};

/// [`check_text`]'s byte classes: a byte without [`TEXT`] (in an element's
/// text) or [`VALUE`] (in an attribute's value) needs no look, so the check
/// skips runs of them by table instead of matching each.
const TEXT: u8 = 1;
const VALUE: u8 = 2;
const CHECKED: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        // A reference, `]]>`, `<`, U+FFFE or U+FFFF (EF BF BE, EF BF BF),
        // a control character; tab and line feed only in a value.
        let byte = b as u8;
        if matches!(byte, b'&' | b']' | b'<' | 0xEF) || byte < 0x20 {
            table[b] = VALUE;
            if !matches!(byte, b'\t' | b'\n') {
                table[b] |= TEXT;
            }
        }
        b += 1;
    }
    table
};

/// The namespace `prefix` is bound to in `scope` (`""`: the default
/// namespace); `None` when unbound.
fn namespace<'a>(scope: &[(&'a str, &'a str)], prefix: &str) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, ns)| *ns)
}

impl<'a, V: Visit<'a>> Reader<'a, V> {
    /// document ::= declaration? S* element S*
    fn document(&mut self) -> Option<()> {
        if let Some(declaration) = DECLARATIONS.iter().find(|d| self.text.starts_with(*d)) {
            self.pos = declaration.len();
        }
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b'<') {
            return None;
        }
        self.start_tag()?;
        while !self.open.is_empty() {
            self.content()?;
            if self.pos >= self.bytes.len() {
                return None;
            }
            match self.bytes.get(self.pos + 1)? {
                b'/' => self.end_tag()?,
                b'!' | b'?' => return None,
                _ => self.start_tag()?,
            }
        }
        self.skip_space();
        (self.pos == self.bytes.len()).then_some(())
    }

    fn skip_space(&mut self) {
        while self.bytes.get(self.pos).copied().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// The qualified name at `pos`, its prefix (empty when it has none) and
    /// its local name; `None` unless both parts are ASCII names.
    fn qname(&mut self) -> Option<(&'a str, &'a str, &'a str)> {
        let start = self.pos;
        let rest = &self.bytes[start..];
        // A name's bytes up to a colon, from `from`: the prefix, then the
        // local name, each in one tight run.
        let run = |from: usize| {
            from + rest[from..]
                .iter()
                .position(|&b| !LETTERS[b as usize])
                .unwrap_or(rest.len() - from)
        };
        let mut len = run(0);
        let mut colon = None;
        if rest.get(len) == Some(&b':') {
            colon = Some(len);
            len = run(len + 1);
            // A second colon would be in the local name.
            if rest.get(len) == Some(&b':') {
                return None;
            }
        }
        self.pos = start + len;
        let qname = &self.text[start..self.pos];
        let (prefix, local) = match colon {
            Some(at) => (&qname[..at], &qname[at + 1..]),
            None => ("", qname),
        };
        let starts_well = |part: &str| part.bytes().next().is_some_and(is_name_start);
        let plain =
            len <= MAX_NAME && starts_well(local) && (colon.is_none() || starts_well(prefix));
        plain.then_some((qname, prefix, local))
    }

    /// `<name attributes>` or `<name attributes/>` at `pos`.
    fn start_tag(&mut self) -> Option<()> {
        let start = self.pos;
        self.pos += 1;
        let (qname, prefix, local) = self.qname()?;
        if self.open.len() == MAX_DEPTH || matches!(prefix, "xml" | "xmlns") {
            return None;
        }
        let scope_before = self.scope.len();
        self.attributes.clear();
        let empty = loop {
            let spaced = self.bytes.get(self.pos).copied().is_some_and(is_space);
            self.skip_space();
            match self.bytes.get(self.pos)? {
                b'>' => {
                    self.pos += 1;
                    break false;
                }
                b'/' => {
                    if self.bytes.get(self.pos + 1) != Some(&b'>') {
                        return None;
                    }
                    self.pos += 2;
                    break true;
                }
                _ if spaced => self.attribute(scope_before)?,
                _ => return None,
            }
        };
        // Every prefix is bound (an unbound one is the tree's error).
        let element_namespace = namespace(&self.scope, prefix);
        if !prefix.is_empty() && element_namespace.is_none() {
            return None;
        }
        for &(prefix, _, _) in &self.attributes {
            if !prefix.is_empty() {
                namespace(&self.scope, prefix)?;
            }
        }
        let element = Element {
            depth: self.open.len() + 1,
            qname,
            local,
            namespace: element_namespace.filter(|ns| !ns.is_empty()),
            start,
            start_end: self.pos,
            empty,
        };
        let attributes = Attributes {
            attributes: &self.attributes,
            scope: &self.scope,
        };
        let parent = self.open.last().map(|(_, _, role)| *role);
        let role = self.visit.start(&element, &attributes, parent)?;
        if empty {
            self.scope.truncate(scope_before);
            self.visit.end(role, self.pos);
        } else {
            self.open
                .push((qname, self.scope.len() - scope_before, role));
        }
        Some(())
    }

    /// `name="value"` at `pos`: a namespace declaration goes into the
    /// scope, any other attribute into `attributes`.
    fn attribute(&mut self, scope_before: usize) -> Option<()> {
        let (_, prefix, local) = self.qname()?;
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b'=') {
            return None;
        }
        self.pos += 1;
        self.skip_space();
        let quote = *self.bytes.get(self.pos)?;
        if !matches!(quote, b'"' | b'\'') {
            return None;
        }
        let start = self.pos + 1;
        let len = memchr::memchr(quote, &self.bytes[start..])?;
        let value = &self.text[start..start + len];
        self.pos = start + len + 1;
        // No `<`, no character to normalise (tab, line feed, carriage
        // return) or outside XML's, every `&` a reference.
        check_text(value, true)?;
        let declared = match (prefix, local) {
            ("xmlns", "xml" | "xmlns") | ("xml", _) => return None,
            ("xmlns", name) => Some(name),
            ("", "xmlns") => Some(""),
            _ => None,
        };
        match declared {
            Some(name) => {
                let ours = &self.scope[scope_before..];
                if value.contains('&')
                    || (!name.is_empty() && value.is_empty())
                    || matches!(value, XML_NAMESPACE | XMLNS_NAMESPACE)
                    || ours.iter().any(|(p, _)| *p == name)
                    || self.scope.len() == MAX_IN_SCOPE
                {
                    return None;
                }
                self.scope.push((name, value));
            }
            None => {
                // Two of one local name may be one attribute twice (the
                // tree's error); the tree tells.
                if self.attributes.len() == MAX_ATTRIBUTES
                    || self.attributes.iter().any(|(_, l, _)| *l == local)
                {
                    return None;
                }
                self.attributes.push((prefix, local, value));
            }
        }
        Some(())
    }

    /// `</name>` at `pos`, closing the innermost open element.
    fn end_tag(&mut self) -> Option<()> {
        let (open, declared, role) = self.open.pop()?;
        // `</`, the open element's name and no more of a name.
        let name_end = self.pos + 2 + open.len();
        if !self.bytes[self.pos + 2..].starts_with(open.as_bytes())
            || self.bytes.get(name_end).is_some_and(|&b| NAME[b as usize])
        {
            return None;
        }
        self.pos = name_end;
        self.skip_space();
        if self.bytes.get(self.pos) != Some(&b'>') {
            return None;
        }
        self.pos += 1;
        self.scope.truncate(self.scope.len() - declared);
        self.visit.end(role, self.pos);
        Some(())
    }

    /// Text up to the next `<`, given to the innermost open element.
    fn content(&mut self) -> Option<()> {
        // Most often none: the next tag follows.
        if self.bytes.get(self.pos) == Some(&b'<') {
            return Some(());
        }
        // Found and checked in one pass.
        let (len, references) = check_text(&self.text[self.pos..], false)?;
        let text = &self.text[self.pos..self.pos + len];
        self.pos += len;
        if text.is_empty() {
            return Some(());
        }
        if let Some(&(_, _, role)) = self.open.last() {
            self.visit.text(role, text, references);
        }
        Some(())
    }
}

/// Checks `text`, an element's text up to its first `<` or (`in_attribute`)
/// an attribute's whole value, in one pass: every `&` starts a reference
/// roxmltree reads (the five entities, a character reference to a
/// character of XML), no `]]>`, no character outside XML's (U+FFFE,
/// U+FFFF, controls) and no carriage return (roxmltree normalises it),
/// nor, in an attribute, a `<`, a tab or a line feed (normalised to
/// spaces). The length checked (up to the `<`) and whether it has a
/// reference to decode; `None` when it is not plain.
fn check_text(text: &str, in_attribute: bool) -> Option<(usize, bool)> {
    let class = if in_attribute { VALUE } else { TEXT };
    let bytes = text.as_bytes();
    let mut references = false;
    let mut at = 0;
    loop {
        at += bytes[at..]
            .iter()
            .position(|&b| CHECKED[b as usize] & class != 0)
            .unwrap_or(bytes.len() - at);
        let Some(&b) = bytes.get(at) else {
            return Some((at, references));
        };
        match b {
            b'&' => {
                let (_, after) = reference(&text[at..])?;
                at = text.len() - after.len();
                references = true;
                continue;
            }
            b']' if bytes[at..].starts_with(b"]]>") => return None,
            // U+FFFE and U+FFFF: EF BF BE, EF BF BF.
            0xEF if bytes.get(at + 1) == Some(&0xBF)
                && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)) =>
            {
                return None;
            }
            b'<' if !in_attribute => return Some((at, references)),
            b'<' | 0..0x20 => return None,
            _ => {}
        }
        at += 1;
    }
}

/// The longest reference roxmltree reads, `&` to `;` (`&#x10FFFF;`, with
/// leading zeros up to eight digits).
const LONGEST_REFERENCE: usize = "&#x12345678;".len();

/// The reference at the start of `text` (which starts with `&`): the
/// character it stands for and the text after it.
fn reference(text: &str) -> Option<(char, &str)> {
    // No name read below is longer: the `;` is looked for only that far.
    let near = &text.as_bytes()[..text.len().min(LONGEST_REFERENCE)];
    let end = memchr::memchr(b';', near)?;
    let name = &text[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            let valid = |b: u8| match radix {
                16 => b.is_ascii_hexdigit(),
                _ => b.is_ascii_digit(),
            };
            if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(valid) {
                return None;
            }
            let c = char::from_u32(u32::from_str_radix(digits, radix).ok()?)?;
            let xml_char = matches!(c, '\t' | '\n' | '\r')
                || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'));
            xml_char.then_some(c)?
        }
    };
    Some((c, &text[end + 1..]))
}

/// Text checked by the reader, with its references replaced, appended to
/// `out`.
pub fn decode_into(text: &str, out: &mut String) {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        match reference(&rest[at..]) {
            Some((c, after)) => {
                out.push(c);
                rest = after;
            }
            None => return,
        }
    }
    out.push_str(rest);
}

/// An attribute's value, as the reader checked it, with its references
/// replaced.
pub fn decoded(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('&') {
        return value.into();
    }
    let mut out = String::with_capacity(value.len());
    decode_into(value, &mut out);
    out.into()
}

/// Documents for the agreement tests of the readers built on this one.
#[cfg(test)]
pub mod variants {
    /// Pieces of XML, well-formed or not, that every reader's agreement
    /// test puts in everywhere.
    const PIECES: [&str; 34] = [
        "&",
        "&amp;",
        "&amp",
        "&#65;",
        "&#x1F600;",
        "&#13;",
        "&#xFFFE;",
        // The longest reference read, and one digit more.
        "&#x00000041;",
        "&#000000065;",
        "&x;",
        "\r",
        "\t",
        "\n",
        "\u{7}",
        "]]>",
        "]",
        "\u{FFFE}",
        "\u{FFFF}",
        "\u{FFFD}",
        "<!--c-->",
        "<",
        ">",
        "\"",
        "'",
        "=",
        "/",
        " ",
        ":",
        "é",
        " b=\"1\"",
        " xmlns:q=\"u\"",
        " xmlns=\"\"",
        "<x/>",
        "</x>",
    ];

    /// Calls `check` with `document` with each of [`PIECES`] and of the
    /// reader's own `pieces` put in at every place, and with each byte
    /// left out.
    pub fn each(document: &str, pieces: &[&str], mut check: impl FnMut(&[u8])) {
        for at in (0..=document.len()).filter(|&at| document.is_char_boundary(at)) {
            for piece in PIECES.iter().chain(pieces) {
                check(format!("{}{piece}{}", &document[..at], &document[at..]).as_bytes());
            }
            if at < document.len() {
                let mut without = document.as_bytes().to_vec();
                without.remove(at);
                check(&without);
            }
        }
    }
}
