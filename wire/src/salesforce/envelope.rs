//! A client's SOAP request envelope as the front door reads it: the session
//! it carries in its `SessionHeader`, its operation, and the envelope
//! prepared for the tenant's session ([`Prepared`]). An envelope in the
//! plain subset of XML that clients write is read in one pass without a
//! tree ([`Envelope::plain`], on [`crate::xml::plain`]); any other from the
//! bounded parse's tree ([`Envelope::of_tree`]), which says the same of
//! every envelope both read (the agreement tests).

use std::ops::Range;

use bytes::Bytes;

use super::inject::{self, HeaderAt, Places, Prepared};
use super::{Api, prepare_parsed};
use crate::xml::plain::{self, Attributes, Element, Visit};
use crate::xml::{self, SOAP_ENV};

/// What the front door needs of a SOAP request envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The text of the first `sessionId` element (any namespace) in the
    /// envelope's first SOAP Header: the client's credential.
    pub session: Option<String>,
    /// The local name of the SOAP Body's first element.
    pub operation: Option<String>,
    /// The envelope split where the session goes; `None` when it is not a
    /// SOAP 1.1 envelope the host sends (the upstream layer says why).
    pub prepared: Option<Prepared>,
}

impl Envelope {
    /// What the tree `doc` of `body` (from [`xml::parse`]) says, for `api`.
    pub fn of_tree(api: Api, body: &Bytes, doc: &roxmltree::Document<'_>) -> Self {
        let session = xml::soap_header(doc).and_then(|header| {
            header
                .descendants()
                .find(|n| n.is_element() && n.tag_name().name() == "sessionId")
                .map(|n| n.text().unwrap_or("").to_string())
        });
        let operation = xml::soap_body_element(doc).map(|n| n.tag_name().name().to_string());
        Self {
            session,
            operation,
            prepared: prepare_parsed(api, body, doc).ok(),
        }
    }

    /// `body` read in one pass, when it is a SOAP 1.1 envelope with a Body
    /// for a SOAP `api`, in the plain subset, and not a `login` (the front
    /// door reads a login from the tree). `None`: read it with the tree.
    pub fn plain(api: Api, body: &[u8]) -> Option<Self> {
        let ns = api.soap_namespace()?;
        let text = std::str::from_utf8(body).ok()?;
        let read = plain::read_text(text, Reader::default())?;
        if !read.body_seen {
            return None;
        }
        let places = Places {
            first_header: read.first_header,
            envelope_open_end: Some(read.envelope_open_end),
            envelope_prefix: read.envelope_prefix,
            removed: read.removed,
        };
        let (text, at) = inject::splice(ns, text, places).ok()?;
        Some(Self {
            session: read.session,
            operation: read.operation,
            prepared: Some(Prepared::soap(api, text, at)),
        })
    }
}

/// What an element is to the envelope's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Envelope,
    /// A SOAP Header, a child of the Envelope.
    Header,
    /// The Envelope's first SOAP Body.
    Body,
    /// A SessionHeader in a Header, not inside another.
    Removed,
    /// The first `sessionId` in the first Header.
    SessionId,
    Other,
}

#[derive(Debug, Clone, Copy)]
struct Role {
    kind: Kind,
    /// In a SOAP Header (the Header itself included).
    in_header: bool,
    /// In the Envelope's first SOAP Header.
    in_first_header: bool,
    /// In a SessionHeader that goes (itself included).
    removing: bool,
}

impl Role {
    fn of(kind: Kind) -> Self {
        Self {
            kind,
            in_header: false,
            in_first_header: false,
            removing: false,
        }
    }
}

#[derive(Default)]
struct Reader<'a> {
    envelope_open_end: usize,
    envelope_prefix: &'a str,
    headers_seen: usize,
    first_header: Option<HeaderAt<'a>>,
    body_seen: bool,
    operation_seen: bool,
    operation: Option<String>,
    session: Option<String>,
    /// The first `sessionId`'s first text is being read (no child
    /// element has started yet).
    capturing: bool,
    /// Where the SessionHeader being read started.
    removing_from: usize,
    removed: Vec<Range<usize>>,
}

impl<'a> Visit<'a> for Reader<'a> {
    type Role = Role;

    fn start(
        &mut self,
        element: &Element<'a>,
        _: &Attributes<'a, '_>,
        parent: Option<Role>,
    ) -> Option<Role> {
        let soap = |local: &str| element.is(SOAP_ENV, local);
        let Some(parent) = parent else {
            // Any other root: the tree says what it is.
            if !soap("Envelope") {
                return None;
            }
            self.envelope_open_end = element.start_end;
            // `prefix:` as written (the local name is the qname's end).
            self.envelope_prefix = &element.qname[..element.qname.len() - element.local.len()];
            return Some(Role::of(Kind::Envelope));
        };
        if parent.kind == Kind::SessionId {
            // Its text is its first child's only.
            self.capturing = false;
        }
        let role = match parent.kind {
            Kind::Envelope if soap("Header") => {
                self.headers_seen += 1;
                let first = self.headers_seen == 1;
                if first {
                    self.first_header = Some(HeaderAt {
                        range: element.start..element.start,
                        gt: Some(element.start_end - 1 - element.start),
                        qname: element.qname,
                    });
                }
                Role {
                    kind: Kind::Header,
                    in_header: true,
                    in_first_header: first,
                    removing: false,
                }
            }
            Kind::Envelope if soap("Body") && !self.body_seen => {
                self.body_seen = true;
                Role::of(Kind::Body)
            }
            Kind::Body if !self.operation_seen => {
                self.operation_seen = true;
                if element.local == "login" {
                    return None;
                }
                self.operation = Some(element.local.to_string());
                Role::of(Kind::Other)
            }
            _ if parent.in_header => {
                let removed = element.local == "SessionHeader" && !parent.removing;
                let session = element.local == "sessionId"
                    && parent.in_first_header
                    && self.session.is_none();
                let kind = if removed {
                    self.removing_from = element.start;
                    Kind::Removed
                } else if session {
                    self.session = Some(String::new());
                    self.capturing = true;
                    Kind::SessionId
                } else {
                    Kind::Other
                };
                Role {
                    kind,
                    removing: parent.removing || removed,
                    ..parent
                }
            }
            _ => Role::of(Kind::Other),
        };
        Some(role)
    }

    fn text(&mut self, role: Role, text: &'a str, references: bool) {
        if role.kind == Kind::SessionId
            && self.capturing
            && let Some(session) = &mut self.session
        {
            if references {
                plain::decode_into(text, session);
            } else {
                session.push_str(text);
            }
        }
    }

    fn end(&mut self, role: Role, end: usize) {
        match role.kind {
            Kind::Header if role.in_first_header => {
                if let Some(first) = &mut self.first_header {
                    first.range.end = end;
                }
            }
            Kind::Removed => self.removed.push(self.removing_from..end),
            Kind::SessionId => self.capturing = false,
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
