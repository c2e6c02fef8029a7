//! The `<result>` elements of a SOAP answer, read natively for workflows
//! (WIT `soap`, and the plugin SDK's fake host): each result's child
//! elements as (local name, text), packed in one text, and save results.
//! Through the bounded, DTD-free reader of [`crate::xml`]; names are
//! matched by local name in any namespace, as Salesforce's partner,
//! enterprise and metadata answers need.

use std::ops::Range;

use roxmltree::{Document, Node};

use crate::xml::{self, MAX_NODES, XSI, XmlError};

#[path = "results_plain.rs"]
pub mod plain;

/// One child element of a `<result>`: its local name and its text (`None`
/// for `xsi:nil="true"`). An element with element children has the text of
/// its own text nodes only (usually empty).
pub type Field = (String, Option<String>);

/// Why the results of an answer could not be read. The texts say what was
/// wrong; none quotes the answer's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultsError {
    /// The body breaks the caps on the work an XML document may cause
    /// (WIT `upstream-error::refused`).
    #[error("the SOAP answer was refused unread: {0}")]
    Refused(XmlError),
    /// More nodes than one document may have (WIT `too-large`).
    #[error(
        "the SOAP answer has more than {MAX_NODES} XML nodes, more than the host reads for a \
         workflow: ask for fewer records a call (QueryOptions batchSize)"
    )]
    TooManyNodes,
    /// Not XML, not UTF-8, or it declares a DOCTYPE (WIT `upstream-fault`
    /// with code [`INVALID_XML`]).
    #[error("the API answered with XML that cannot be read: {0}")]
    Unreadable(XmlError),
}

/// The fault code of [`ResultsError::Unreadable`].
pub const INVALID_XML: &str = "INVALID_XML";

/// One error of a save result (`<errors>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveError {
    /// `statusCode`; empty when absent.
    pub status_code: String,
    /// `message`; empty when absent.
    pub message: String,
    /// The `fields` it names.
    pub fields: Vec<String>,
}

/// A `create`/`update`/`upsert`/`delete` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveResult {
    /// The record id; `None` when absent, nil or empty.
    pub id: Option<String>,
    /// `success` is `true`.
    pub success: bool,
    /// `created`, for upsert results.
    pub created: Option<bool>,
    /// Why it failed.
    pub errors: Vec<SaveError>,
}

/// The fields of every `<result>`, packed: every name and text written one
/// after another in one string, and where each lies in it. A workflow gets
/// them as one string and two lists (WIT `soap.results`), not as a string
/// per name and per value, each of which would be an allocation in its
/// instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// Every field's local name and text, one after another.
    pub text: String,
    /// Each field in document order: its name's byte range in `text`, and
    /// its text's (`None` for `xsi:nil="true"`).
    pub fields: Vec<(Range<u32>, Option<Range<u32>>)>,
    /// Where each `<result>`'s fields end in `fields`, one per `<result>`.
    pub ends: Vec<u32>,
}

impl Results {
    /// The fields of each `<result>`, as owned pairs.
    pub fn unpacked(&self) -> Vec<Vec<Field>> {
        let at = |r: &Range<u32>| self.text[r.start as usize..r.end as usize].to_string();
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let fields = &self.fields[start..end as usize];
                start = end as usize;
                fields
                    .iter()
                    .map(|(name, value)| (at(name), value.as_ref().map(at)))
                    .collect()
            })
            .collect()
    }

    /// The text, the fields and the ends, each field made by `field` from
    /// its name's span and its text's, each span by `span` from its start
    /// and end: the parts of the WIT's `packed-results`, in the host's or
    /// the SDK's generated types.
    pub fn into_parts<S, F>(
        self,
        span: impl Fn(u32, u32) -> S,
        field: impl Fn(S, Option<S>) -> F,
    ) -> (String, Vec<F>, Vec<u32>) {
        let fields = self
            .fields
            .into_iter()
            .map(|(name, value)| {
                let value = value.map(|r| span(r.start, r.end));
                field(span(name.start, name.end), value)
            })
            .collect();
        (self.text, fields, self.ends)
    }

    /// Appends `piece` to the text; its range there.
    fn push(&mut self, piece: &str) -> Range<u32> {
        let start = self.text.len();
        self.text.push_str(piece);
        // The text is never longer than the document (names and texts are
        // parts of it, entities decode shorter), and roxmltree refuses
        // documents of 4 GiB and more.
        start as u32..self.text.len() as u32
    }
}

/// The child elements of every `<result>` of the operation's response (the
/// first element of the envelope's `Body`), in document order, repeated
/// names kept. No `<result>` (a fault, another document) is an empty list.
/// An answer in the plain subset Salesforce writes is read in one pass
/// without a tree ([`plain`]); any other by [`results_by_tree`], with the
/// same answer.
pub fn results(body: &[u8]) -> Result<Results, ResultsError> {
    match plain::results(body) {
        Some(read) => Ok(read),
        None => results_by_tree(body),
    }
}

/// [`results`] by the bounded parse and its tree, whatever the answer:
/// what [`plain`] must agree with.
pub fn results_by_tree(body: &[u8]) -> Result<Results, ResultsError> {
    let doc = parse(body)?;
    let mut read = Results {
        text: String::with_capacity(body.len() / 2),
        ..Results::default()
    };
    for result in result_nodes(&doc) {
        for child in xml::elements(result) {
            let name = read.push(child.tag_name().name());
            let value = (!is_nil(child)).then(|| {
                let start = read.text.len() as u32;
                for text in child.children().filter(Node::is_text) {
                    read.push(text.text().unwrap_or(""));
                }
                start..read.text.len() as u32
            });
            read.fields.push((name, value));
        }
        read.ends.push(read.fields.len() as u32);
    }
    Ok(read)
}

/// Every `<result>` of the operation's response read as a save result.
pub fn save_results(body: &[u8]) -> Result<Vec<SaveResult>, ResultsError> {
    let doc = parse(body)?;
    Ok(result_nodes(&doc).map(save_result).collect())
}

fn parse(body: &[u8]) -> Result<Document<'_>, ResultsError> {
    xml::parse(body).map_err(|e| match e {
        XmlError::TooManyNodes => ResultsError::TooManyNodes,
        e if e.is_over_limits() => ResultsError::Refused(e),
        e => ResultsError::Unreadable(e),
    })
}

/// The `<result>` children of the Body's first element.
fn result_nodes<'a, 'i>(doc: &'a Document<'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    xml::elements(doc.root_element())
        .find(|n| n.tag_name().name() == "Body")
        .and_then(|body| xml::elements(body).next())
        .into_iter()
        .flat_map(|operation| xml::elements(operation).filter(|n| n.tag_name().name() == "result"))
}

fn is_nil(node: Node<'_, '_>) -> bool {
    node.attribute((XSI, "nil")) == Some("true")
}

/// The text of the first child named `name` that is not nil.
fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    xml::elements(node)
        .find(|c| c.tag_name().name() == name && !is_nil(*c))
        .map(|c| c.text().unwrap_or("").to_string())
}

fn save_result(result: Node<'_, '_>) -> SaveResult {
    SaveResult {
        id: child_text(result, "id").filter(|id| !id.is_empty()),
        success: child_text(result, "success").as_deref() == Some("true"),
        created: child_text(result, "created").map(|c| c == "true"),
        errors: xml::elements(result)
            .filter(|c| c.tag_name().name() == "errors")
            .map(|e| SaveError {
                status_code: child_text(e, "statusCode").unwrap_or_default(),
                message: child_text(e, "message").unwrap_or_default(),
                fields: xml::elements(e)
                    .filter(|c| c.tag_name().name() == "fields")
                    .filter_map(|c| c.text().map(str::to_string))
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "results_tests.rs"]
mod tests;
