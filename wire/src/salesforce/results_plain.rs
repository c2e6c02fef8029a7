//! The `<result>` fields of a SOAP answer read in one pass over its text,
//! without the bounds pass and without a tree, for answers written in the
//! plain subset of XML that Salesforce writes ([`crate::xml::plain`]).
//! Whatever falls outside the subset is `None`, and the caller reads it
//! with the bounded parse instead ([`super::results`]); so every answer
//! this reader gives is the one the tree gives, and an answer it refuses is
//! refused exactly as before.

use super::Results;
use crate::xml::XSI;
use crate::xml::plain::{self, Attributes, Element, Visit};

pub use crate::xml::plain::MAX_BODY;

/// What an open element is to the answer's results (the path the tree's
/// reader follows: the root's first `Body`, its first element, that
/// element's `result` children and their children).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Other,
    Body,
    Operation,
    Result,
    /// A result's child: its name's range in the text, and where its
    /// value starts there (`None` when nil).
    Field(u32, u32, Option<u32>),
}

/// The fields of every `<result>` of `body`, as [`super::results`] reads
/// them; `None` when `body` is not in the plain subset (see the module).
pub fn results(body: &[u8]) -> Option<Results> {
    let reader = Fields {
        body_seen: false,
        operation_seen: false,
        read: Results {
            text: String::with_capacity(body.len() / 2),
            ..Results::default()
        },
    };
    plain::read(body, reader).map(|fields| fields.read)
}

struct Fields {
    body_seen: bool,
    operation_seen: bool,
    read: Results,
}

impl<'a> Visit<'a> for Fields {
    type Role = Role;

    /// What the element just started is: the field's name and value start
    /// are written for a field.
    fn start(
        &mut self,
        element: &Element<'a>,
        attributes: &Attributes<'a, '_>,
        parent: Option<Role>,
    ) -> Option<Role> {
        let nil = attributes
            .namespaced()
            .any(|(ns, name, value)| ns == XSI && name == "nil" && plain::decoded(value) == "true");
        let role = match parent {
            None => Role::Other,
            Some(Role::Other)
                if element.depth == 2 && element.local == "Body" && !self.body_seen =>
            {
                self.body_seen = true;
                Role::Body
            }
            Some(Role::Body) if !self.operation_seen => {
                self.operation_seen = true;
                Role::Operation
            }
            Some(Role::Operation) if element.local == "result" => Role::Result,
            Some(Role::Result) => {
                let name = self.read.push(element.local);
                let value = (!nil).then_some(self.read.text.len() as u32);
                Role::Field(name.start, name.end, value)
            }
            _ => Role::Other,
        };
        Some(role)
    }

    /// Text written to the field it belongs to.
    fn text(&mut self, role: Role, text: &'a str, references: bool) {
        if let Role::Field(_, _, Some(_)) = role {
            if references {
                plain::decode_into(text, &mut self.read.text);
            } else {
                self.read.text.push_str(text);
            }
        }
    }

    /// The element of `role` ends: a field and a result are complete.
    fn end(&mut self, role: Role, _: usize) {
        match role {
            Role::Field(start, end, value) => {
                let value = value.map(|from| from..self.read.text.len() as u32);
                self.read.fields.push((start..end, value));
            }
            Role::Result => self.read.ends.push(self.read.fields.len() as u32),
            _ => {}
        }
    }
}
