//! The one PEM reader (identities, CA bundles, server certificates, the
//! doctor): every `-----BEGIN X-----` block of a buffer, in file order,
//! typed (certificate, private key in one of three formats, encrypted key,
//! anything else) and decoded; [`certificates`] and [`private_key`] for
//! callers that want only those. [`encode`] writes a block.
//!
//! Strict where the input is a PEM block (matching END, valid base64, no
//! truncation) and lenient outside blocks: text between blocks, such as
//! openssl's `Bag Attributes` or `subject=` lines, is ignored. Errors name a
//! line and never quote the file's content.

use std::fmt;

use base64::Engine as _;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

/// At most this many blocks are read from one buffer.
pub const MAX_BLOCKS: usize = 64;

/// The encoding of an unencrypted private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// `PRIVATE KEY`: PKCS#8, any algorithm.
    Pkcs8,
    /// `RSA PRIVATE KEY`: PKCS#1.
    Pkcs1,
    /// `EC PRIVATE KEY`: SEC1 (RFC 5915).
    Sec1,
}

impl KeyFormat {
    /// The PEM label of this format.
    pub fn label(self) -> &'static str {
        match self {
            KeyFormat::Pkcs8 => "PRIVATE KEY",
            KeyFormat::Pkcs1 => "RSA PRIVATE KEY",
            KeyFormat::Sec1 => "EC PRIVATE KEY",
        }
    }

    /// A short name: "PKCS#8", "PKCS#1", "SEC1".
    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Pkcs8 => "PKCS#8",
            KeyFormat::Pkcs1 => "PKCS#1",
            KeyFormat::Sec1 => "SEC1",
        }
    }
}

/// What a PEM block holds, judged by its label (and legacy encryption headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `CERTIFICATE` (also the older `X509 CERTIFICATE`).
    Certificate,
    /// An unencrypted private key.
    PrivateKey(KeyFormat),
    /// `ENCRYPTED PRIVATE KEY` (PKCS#8 encrypted), or a PKCS#1/SEC1 key with
    /// the legacy `Proc-Type: 4,ENCRYPTED` header.
    EncryptedPrivateKey,
    /// Any other label (`CERTIFICATE REQUEST`, `EC PARAMETERS`, `PUBLIC KEY`, ...).
    Other,
}

/// One decoded PEM block. `Debug` shows the label, kind, line and length, never the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label between `BEGIN ` and `-----`.
    pub label: String,
    /// What the block holds.
    pub kind: BlockKind,
    /// The 1-based line of the BEGIN line.
    pub line: usize,
    /// RFC 1421 headers (`Proc-Type`, `DEK-Info`), in order.
    pub headers: Vec<(String, String)>,
    der: Vec<u8>,
}

impl PemBlock {
    /// The decoded contents (DER). For key blocks this is secret.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The block as a certificate, when it is one.
    pub fn certificate(&self) -> Option<CertificateDer<'static>> {
        (self.kind == BlockKind::Certificate).then(|| CertificateDer::from(self.der.clone()))
    }

    /// The block as an unencrypted private key, when it is one.
    pub fn private_key(&self) -> Option<PrivateKeyDer<'static>> {
        let der = self.der.clone();
        match self.kind {
            BlockKind::PrivateKey(KeyFormat::Pkcs8) => Some(PrivatePkcs8KeyDer::from(der).into()),
            BlockKind::PrivateKey(KeyFormat::Pkcs1) => Some(PrivatePkcs1KeyDer::from(der).into()),
            BlockKind::PrivateKey(KeyFormat::Sec1) => Some(PrivateSec1KeyDer::from(der).into()),
            _ => None,
        }
    }

    /// "CERTIFICATE at line 12".
    pub fn describe(&self) -> String {
        format!("{} at line {}", self.label, self.line)
    }
}

impl fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("kind", &self.kind)
            .field("line", &self.line)
            .field("headers", &self.headers)
            .field("len", &self.der.len())
            .finish()
    }
}

/// Why a buffer is not valid PEM: a line number and a reason without content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemError {
    /// The 1-based line the problem was found at (0: the buffer as a whole).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.reason)
        } else {
            write!(f, "line {}: {}", self.line, self.reason)
        }
    }
}

impl std::error::Error for PemError {}

fn kind_of(label: &str, headers: &[(String, String)]) -> BlockKind {
    let encrypted = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("Proc-Type") && value.to_ascii_uppercase().contains("ENCRYPTED")
    });
    match label {
        "CERTIFICATE" | "X509 CERTIFICATE" => BlockKind::Certificate,
        "ENCRYPTED PRIVATE KEY" => BlockKind::EncryptedPrivateKey,
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" if encrypted => {
            BlockKind::EncryptedPrivateKey
        }
        "PRIVATE KEY" => BlockKind::PrivateKey(KeyFormat::Pkcs8),
        "RSA PRIVATE KEY" => BlockKind::PrivateKey(KeyFormat::Pkcs1),
        "EC PRIVATE KEY" => BlockKind::PrivateKey(KeyFormat::Sec1),
        _ => BlockKind::Other,
    }
}

/// A label as allowed by RFC 7468: printable ASCII, no leading or trailing
/// space, no hyphen at either end.
fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 64
        && label.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !label.starts_with([' ', '-'])
        && !label.ends_with([' ', '-'])
}

/// A block being read.
struct Open {
    label: String,
    line: usize,
    headers: Vec<(String, String)>,
    data: Vec<u8>,
}

fn is_base64_line(line: &[u8]) -> bool {
    line.iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b' ' | b'\t'))
}

/// Reads every PEM block of `input` in order. Fails on a block that is not
/// well formed, and on more than [`MAX_BLOCKS`] blocks; an input without any
/// block gives an empty list.
pub fn parse(input: &[u8]) -> Result<Vec<PemBlock>, PemError> {
    let err = |line: usize, reason: String| PemError { line, reason };
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    let mut line_no = 0;
    for raw in input.split(|&b| b == b'\n') {
        line_no += 1;
        let line = raw.trim_ascii();
        match open.as_mut() {
            None => {
                if let Some(label) = line
                    .strip_prefix(b"-----BEGIN ")
                    .and_then(|rest| rest.strip_suffix(b"-----"))
                {
                    let label = std::str::from_utf8(label)
                        .ok()
                        .filter(|l| valid_label(l))
                        .ok_or_else(|| err(line_no, "BEGIN line with an invalid label".into()))?;
                    if blocks.len() >= MAX_BLOCKS {
                        return Err(err(
                            line_no,
                            format!(
                                "more than {MAX_BLOCKS} PEM blocks; an identity file needs a key and a few certificates"
                            ),
                        ));
                    }
                    open = Some(Open {
                        label: label.to_string(),
                        line: line_no,
                        headers: Vec::new(),
                        data: Vec::new(),
                    });
                } else if line.starts_with(b"-----END ") {
                    return Err(err(line_no, "END line without a BEGIN line".into()));
                }
            }
            Some(block) => {
                if let Some(label) = line
                    .strip_prefix(b"-----END ")
                    .and_then(|rest| rest.strip_suffix(b"-----"))
                {
                    if label != block.label.as_bytes() {
                        let shown = std::str::from_utf8(label)
                            .ok()
                            .filter(|l| valid_label(l))
                            .unwrap_or("(invalid label)");
                        return Err(err(
                            line_no,
                            format!(
                                "BEGIN {} at line {} is closed by END {shown}",
                                block.label, block.line
                            ),
                        ));
                    }
                    let Some(block) = open.take() else { break };
                    blocks.push(finish(block, line_no)?);
                } else if line.starts_with(b"-----BEGIN ") || line.starts_with(b"-----END ") {
                    return Err(err(
                        line_no,
                        format!(
                            "block {} from line {} has no END line before this line",
                            block.label, block.line
                        ),
                    ));
                } else if line.is_empty() {
                    continue;
                } else if block.data.is_empty() && line.contains(&b':') {
                    let text = String::from_utf8_lossy(line);
                    let (name, value) = text.split_once(':').unwrap_or((&text, ""));
                    block
                        .headers
                        .push((name.trim().to_string(), value.trim().to_string()));
                } else if is_base64_line(line) {
                    block
                        .data
                        .extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
                } else {
                    return Err(err(
                        line_no,
                        format!(
                            "block {} from line {}: a character that is not base64",
                            block.label, block.line
                        ),
                    ));
                }
            }
        }
    }
    if let Some(block) = open {
        return Err(err(
            block.line,
            format!(
                "block {} has no END line (is the file truncated?)",
                block.label
            ),
        ));
    }
    Ok(blocks)
}

fn finish(block: Open, end_line: usize) -> Result<PemBlock, PemError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(&block.data)
        .map_err(|_| PemError {
            line: block.line,
            reason: format!(
                "block {} (lines {}-{end_line}) is not valid base64",
                block.label, block.line
            ),
        })?;
    if der.is_empty() {
        return Err(PemError {
            line: block.line,
            reason: format!("block {} is empty", block.label),
        });
    }
    Ok(PemBlock {
        kind: kind_of(&block.label, &block.headers),
        label: block.label,
        line: block.line,
        headers: block.headers,
        der,
    })
}

/// The certificates of `input`, in file order; other blocks are skipped.
pub fn certificates(input: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    Ok(parse(input)?
        .iter()
        .filter_map(PemBlock::certificate)
        .collect())
}

/// The first unencrypted private key of `input`.
pub fn private_key(input: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    let blocks = parse(input)?;
    blocks
        .iter()
        .find_map(PemBlock::private_key)
        .ok_or_else(|| PemError {
            line: 0,
            reason: format!(
                "no unencrypted private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) among {}",
                summarize(&blocks)
            ),
        })
}

/// `der` as a PEM block labelled `label`: base64 in lines of 64, `\n` line ends.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// "2 × CERTIFICATE, 1 × RSA PRIVATE KEY": the labels of `blocks` counted in
/// order of first appearance ("no PEM blocks" when empty).
pub fn summarize(blocks: &[PemBlock]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for block in blocks {
        match counts.iter_mut().find(|(label, _)| *label == block.label) {
            Some((_, n)) => *n += 1,
            None => counts.push((&block.label, 1)),
        }
    }
    if counts.is_empty() {
        return "no PEM blocks".to_string();
    }
    counts
        .iter()
        .map(|(label, n)| format!("{n} × {label}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64: &str = "MIIBCgKCAQEA";

    fn block(label: &str, body: &str) -> String {
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    #[test]
    fn reads_blocks_in_order_with_types() {
        let text = format!(
            "Bag Attributes\nsubject=CN=x\n{}{}\r\n{}{}{}",
            block("CERTIFICATE", B64),
            block("RSA PRIVATE KEY", B64),
            block("EC PRIVATE KEY", B64),
            block("PRIVATE KEY", B64),
            block("EC PARAMETERS", "BggqhkjOPQMBBw=="),
        );
        let blocks = parse(text.as_bytes()).unwrap();
        let kinds: Vec<_> = blocks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                BlockKind::Certificate,
                BlockKind::PrivateKey(KeyFormat::Pkcs1),
                BlockKind::PrivateKey(KeyFormat::Sec1),
                BlockKind::PrivateKey(KeyFormat::Pkcs8),
                BlockKind::Other,
            ]
        );
        assert_eq!(blocks[0].line, 3);
        assert_eq!(
            blocks[0].der(),
            [0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00]
        );
        assert!(blocks[1].private_key().is_some() && blocks[0].certificate().is_some());
        assert_eq!(
            summarize(&blocks),
            "1 × CERTIFICATE, 1 × RSA PRIVATE KEY, 1 × EC PRIVATE KEY, 1 × PRIVATE KEY, 1 × EC PARAMETERS"
        );
        assert!(!format!("{:?}", blocks[1]).contains("48"));
    }

    #[test]
    fn encrypted_keys_are_recognised() {
        let legacy = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233\n\nMIIBCgKCAQEA";
        let text = block("RSA PRIVATE KEY", legacy) + &block("ENCRYPTED PRIVATE KEY", B64);
        let blocks = parse(text.as_bytes()).unwrap();
        assert_eq!(blocks[0].kind, BlockKind::EncryptedPrivateKey);
        assert_eq!(
            blocks[0].headers[0],
            ("Proc-Type".into(), "4,ENCRYPTED".into())
        );
        assert_eq!(blocks[1].kind, BlockKind::EncryptedPrivateKey);
        assert!(blocks.iter().all(|b| b.private_key().is_none()));
    }

    #[test]
    fn malformed_input_names_the_line() {
        let cases = [
            ("-----BEGIN CERTIFICATE-----\nMIIB\n", 1, "no END line"),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n",
                3,
                "closed by END PRIVATE KEY",
            ),
            ("x\n-----END CERTIFICATE-----\n", 2, "without a BEGIN"),
            (
                "-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n",
                2,
                "not base64",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nMIIBa\n-----END CERTIFICATE-----\n",
                1,
                "not valid base64",
            ),
            (
                "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                1,
                "empty",
            ),
            (
                "-----BEGIN A-----\nMIIB\n-----BEGIN B-----\n",
                3,
                "no END line before",
            ),
        ];
        for (text, line, reason) in cases {
            let e = parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.to_string().contains(reason), "{text}: {e}");
        }
        assert!(parse(b"no pem here\n\x30\x82").unwrap().is_empty());
    }

    #[test]
    fn certificates_and_the_first_key() {
        let text = block("EC PARAMETERS", B64)
            + &block("CERTIFICATE", B64)
            + &block("EC PRIVATE KEY", B64)
            + &block("PRIVATE KEY", B64)
            + &block("X509 CERTIFICATE", B64);
        assert_eq!(certificates(text.as_bytes()).unwrap().len(), 2);
        let key = private_key(text.as_bytes()).unwrap();
        assert!(matches!(key, PrivateKeyDer::Sec1(_)), "{key:?}");
        let e = private_key(block("CERTIFICATE", B64).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("among 1 × CERTIFICATE"), "{e}");
        let e = certificates(b"-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap_err();
        assert!(e.to_string().contains("no END line"), "{e}");
        assert!(certificates(b"nothing").unwrap().is_empty());
    }

    #[test]
    fn encodes_what_it_reads() {
        let der: Vec<u8> = (0..=255).collect();
        let text = encode("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64), "{text}");
        let blocks = parse(text.as_bytes()).unwrap();
        assert_eq!((blocks.len(), blocks[0].der()), (1, &der[..]));
    }

    #[test]
    fn caps_the_number_of_blocks() {
        let text = block("CERTIFICATE", B64).repeat(MAX_BLOCKS + 1);
        let e = parse(text.as_bytes()).unwrap_err();
        assert!(e.reason.contains("more than 64"), "{e}");
        let text = block("CERTIFICATE", B64).repeat(MAX_BLOCKS);
        assert_eq!(parse(text.as_bytes()).unwrap().len(), MAX_BLOCKS);
    }
}
