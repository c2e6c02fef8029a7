//! Caller certificate names as a tenant's `callers` policy lists them:
//! distinguished names written as RFC 4514 strings (`CN=client,O=Acme`) and
//! subject alternative names (`DNS:`, `URI:`, `email:`, `IP:`). Both are
//! parsed when the config loads and compared as typed values (attribute OIDs
//! and values, RDN by RDN; typed SANs) against what x509-parser reads from
//! the certificate, never as display strings.

mod san;

use std::fmt;

use x509_parser::asn1_rs::Tag;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

pub use san::SubjectAltName;

/// Why a `subjects` or `sans` entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error(
        "attribute type {0:?} is not known: use CN, O, OU, L, ST, C, STREET, DC, UID, SERIALNUMBER, emailAddress, GN, SN, title, postalCode or a dotted OID like 2.5.4.3"
    )]
    UnknownType(String),
    #[error("expected TYPE=value at {0:?} (RDNs are separated by ',', multi-valued RDNs by '+')")]
    MissingEquals(String),
    #[error(
        "character {0:?} must be escaped with a backslash in a value (RFC 4514: \\, \\+ \\\" \\; \\< \\> \\\\)"
    )]
    Unescaped(char),
    #[error("bad escape: a backslash takes one of , + \" \\ < > ; # = space, or two hex digits")]
    BadEscape,
    #[error("hex-encoded values (#...) are not supported; write the value as text")]
    HexValue,
    #[error("a value is not valid UTF-8 after unescaping")]
    NotUtf8,
    #[error("ends with a separator")]
    TrailingSeparator,
    #[error(
        "is not a SAN: write DNS:host.example.com, URI:spiffe://org/app, email:ops@example.com or IP:192.0.2.7"
    )]
    SanFormat,
    #[error("{0:?} is not an IP address")]
    BadIp(String),
}

/// A value of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttrValue {
    /// A string value (config, or a certificate's string types).
    Text(String),
    /// A certificate value that is not a string type: its tag and content.
    /// No config value is ever equal to it.
    Opaque(u32, Vec<u8>),
}

/// One attribute of an RDN: its OID (dotted) and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attribute {
    pub oid: String,
    pub value: AttrValue,
}

/// A distinguished name: its RDNs in certificate (ASN.1) order, most general
/// first; the attributes of a multi-valued RDN sorted (a SET has no order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinguishedName {
    rdns: Vec<Vec<Attribute>>,
}

/// Attribute type keywords and their OIDs (RFC 4514 §3 and common others).
const KEYWORDS: &[(&str, &str)] = &[
    ("CN", "2.5.4.3"),
    ("SN", "2.5.4.4"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("TITLE", "2.5.4.12"),
    ("POSTALCODE", "2.5.4.17"),
    ("GN", "2.5.4.42"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
];

impl DistinguishedName {
    /// Parses an RFC 4514 string: RDNs separated by `,` with the most
    /// specific first (as `openssl x509 -subject -nameopt RFC2253` prints),
    /// attributes of one RDN joined by `+`. Spaces around separators and
    /// `=` are ignored; spaces inside values are kept (escape leading and
    /// trailing ones with `\ `).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let mut rdns: Vec<Vec<Attribute>> = Vec::new();
        let mut rdn = Vec::new();
        let mut rest = text.trim_start();
        if rest.trim_end().is_empty() {
            return Err(NameError::Empty);
        }
        loop {
            let (attribute, after, separator) = parse_attribute(rest)?;
            rdn.push(attribute);
            match separator {
                None => break,
                Some('+') => {}
                Some(_) => rdns.push(std::mem::take(&mut rdn)),
            }
            rest = after.trim_start();
            if rest.is_empty() {
                return Err(NameError::TrailingSeparator);
            }
        }
        rdns.push(rdn);
        rdns.reverse();
        for rdn in &mut rdns {
            rdn.sort();
        }
        Ok(Self { rdns })
    }

    /// The subject or issuer of a parsed certificate.
    pub fn from_x509(name: &X509Name<'_>) -> Self {
        let rdns = name
            .iter_rdn()
            .map(|rdn| {
                let mut attributes: Vec<_> = rdn.iter().map(attribute_of).collect();
                attributes.sort();
                attributes
            })
            .collect();
        Self { rdns }
    }
}

/// One `TYPE=value` from the start of `text`: the attribute, the text after
/// it (past the separator) and the separator (`,` or `+`), if any.
fn parse_attribute(text: &str) -> Result<(Attribute, &str, Option<char>), NameError> {
    let (kind, rest) = text
        .split_once('=')
        .ok_or_else(|| NameError::MissingEquals(text.to_string()))?;
    let kind = kind.trim();
    if kind.is_empty() || kind.contains([',', '+']) {
        return Err(NameError::MissingEquals(text.to_string()));
    }
    let oid = oid_of(kind)?;
    let rest = rest.trim_start_matches(' ');
    if rest.starts_with('#') {
        return Err(NameError::HexValue);
    }
    let mut bytes = Vec::new();
    // Length of `bytes` up to the last escaped or non-space byte, so
    // unescaped trailing spaces are dropped.
    let mut significant = 0;
    let mut chars = rest.char_indices();
    let mut end = (rest.len(), None);
    while let Some((i, c)) = chars.next() {
        match c {
            ',' | '+' => {
                end = (i + 1, Some(c));
                break;
            }
            '\\' => {
                let (_, next) = chars.next().ok_or(NameError::BadEscape)?;
                if ",+\"\\<>;#= ".contains(next) {
                    bytes.push(next as u8);
                } else {
                    let (_, low) = chars.next().ok_or(NameError::BadEscape)?;
                    let hex = |d: char| d.to_digit(16).ok_or(NameError::BadEscape);
                    bytes.push((hex(next)? * 16 + hex(low)?) as u8);
                }
                significant = bytes.len();
            }
            '"' | ';' | '<' | '>' | '\0' => return Err(NameError::Unescaped(c)),
            _ => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                if c != ' ' {
                    significant = bytes.len();
                }
            }
        }
    }
    bytes.truncate(significant);
    let value = String::from_utf8(bytes).map_err(|_| NameError::NotUtf8)?;
    let attribute = Attribute {
        oid,
        value: AttrValue::Text(value),
    };
    Ok((attribute, &rest[end.0..], end.1))
}

/// The dotted OID of an attribute type keyword or dotted OID.
fn oid_of(kind: &str) -> Result<String, NameError> {
    if let Some((_, oid)) = KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(kind)) {
        return Ok((*oid).to_string());
    }
    let dotted = kind
        .strip_prefix("OID.")
        .or(kind.strip_prefix("oid."))
        .unwrap_or(kind);
    let arcs: Vec<&str> = dotted.split('.').collect();
    if arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()))
    {
        return Ok(dotted.to_string());
    }
    Err(NameError::UnknownType(kind.to_string()))
}

/// An attribute as the certificate holds it.
fn attribute_of(atv: &AttributeTypeAndValue<'_>) -> Attribute {
    let any = atv.attr_value();
    let text = match any.tag() {
        Tag::NumericString
        | Tag::PrintableString
        | Tag::Utf8String
        | Tag::Ia5String
        | Tag::VisibleString
        | Tag::T61String => std::str::from_utf8(any.data).ok().map(str::to_string),
        Tag::BmpString if any.data.len() % 2 == 0 => char::decode_utf16(
            any.data
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]])),
        )
        .collect::<Result<String, _>>()
        .ok(),
        _ => None,
    };
    Attribute {
        oid: atv.attr_type().to_id_string(),
        value: match text {
            Some(text) => AttrValue::Text(text),
            None => AttrValue::Opaque(any.tag().0, any.data.to_vec()),
        },
    }
}

impl fmt::Display for DistinguishedName {
    /// The RFC 4514 form (most specific RDN first, keywords where known).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, a) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                let kind = KEYWORDS
                    .iter()
                    .find(|(_, oid)| *oid == a.oid)
                    .map_or(a.oid.as_str(), |(k, _)| k);
                match &a.value {
                    AttrValue::Text(t) => write!(f, "{kind}={}", escape(t))?,
                    AttrValue::Opaque(..) => write!(f, "{kind}=#…")?,
                }
            }
        }
        Ok(())
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if ",+\"\\<>;".contains(c) || edge_space || (c == '#' && i == 0) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(text: &str) -> DistinguishedName {
        DistinguishedName::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn text(oid: &str, value: &str) -> Attribute {
        Attribute {
            oid: oid.into(),
            value: AttrValue::Text(value.into()),
        }
    }

    #[test]
    fn rdns_are_stored_most_general_first() {
        let name = dn("CN=client,O=Acme Corp,C=US");
        assert_eq!(
            name.rdns,
            vec![
                vec![text("2.5.4.6", "US")],
                vec![text("2.5.4.10", "Acme Corp")],
                vec![text("2.5.4.3", "client")],
            ]
        );
        assert_eq!(name.to_string(), "CN=client,O=Acme Corp,C=US");
    }

    #[test]
    fn spaces_around_separators_are_ignored_not_inside_values() {
        assert_eq!(dn("CN=a, O=b"), dn("CN=a,O=b"));
        assert_eq!(dn(" cn = a ,o=b "), dn("CN=a,O=b"));
        assert_ne!(dn("CN=a b,O=c"), dn("CN=ab,O=c"));
        assert_ne!(dn("CN=\\ a,O=b"), dn("CN=a,O=b"));
        assert_ne!(dn("CN=a\\ ,O=b"), dn("CN=a,O=b"));
    }

    #[test]
    fn exact_structure_and_values() {
        assert_ne!(dn("CN=a,O=b"), dn("CN=a,O=b,OU=c"));
        assert_ne!(dn("CN=a,O=b"), dn("CN=a,O=bb"));
        assert_ne!(dn("CN=a,O=b"), dn("O=b,CN=a"));
        assert_ne!(dn("CN=a,O=b"), dn("CN=A,O=b"));
        assert_ne!(dn("CN=a+O=b"), dn("CN=a,O=b"));
        assert_eq!(dn("CN=a+UID=b"), dn("UID=b+CN=a"));
        assert_eq!(dn("2.5.4.3=a"), dn("CN=a"));
        assert_eq!(dn("OID.2.5.4.3=a"), dn("CN=a"));
    }

    #[test]
    fn escapes() {
        let name = dn(r"CN=Smith\, John\+x,O=a\5Cb\c3\a9");
        assert_eq!(
            name.rdns,
            vec![
                vec![text("2.5.4.10", "a\\bé")],
                vec![text("2.5.4.3", "Smith, John+x")]
            ]
        );
        assert_eq!(name.to_string(), r"CN=Smith\, John\+x,O=a\\bé");
        assert_eq!(dn(&name.to_string()), name);
    }

    #[test]
    fn bad_names_are_refused() {
        for (input, error) in [
            ("", NameError::Empty),
            ("CN=a,", NameError::TrailingSeparator),
            ("CN=a;O=b", NameError::Unescaped(';')),
            ("CN=#0403616263", NameError::HexValue),
            ("CN=a\\", NameError::BadEscape),
            ("CN=a\\zz", NameError::BadEscape),
            ("CN=a\\ff", NameError::NotUtf8),
            ("XX=a", NameError::UnknownType("XX".into())),
            ("CN", NameError::MissingEquals("CN".into())),
        ] {
            assert_eq!(DistinguishedName::parse(input), Err(error), "{input}");
        }
    }
}
