//! Certificates as the identity loader (and `twoway cert check`) sees them:
//! a summary of each one, who issued whom, and the order of a chain from the
//! leaf up to (but not including) its root.
//!
//! "Issued" means the issuer's subject equals the certificate's issuer name,
//! the key identifiers agree when both are present, and the signature
//! verifies with the issuer's key (names alone when the algorithm is one
//! aws-lc-rs cannot verify).

use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// One parsed certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// The certificate itself.
    pub der: CertificateDer<'static>,
    /// Subject, RFC 4514 style ("CN=..., O=...").
    pub subject: String,
    /// Issuer name, same style.
    pub issuer: String,
    /// Serial number, uppercase hex without separators (as `openssl x509 -serial`).
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// basicConstraints cA = true.
    pub is_ca: bool,
    /// Subject and issuer names are equal.
    pub self_issued: bool,
    /// Self-issued and its signature verifies with its own key.
    pub self_signed: bool,
    /// "RSA 2048", "ECDSA P-256", "Ed25519", ...
    pub key_type: String,
    /// SHA-256 of the DER, uppercase hex, colon separated.
    pub sha256_fingerprint: String,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
}

impl CertInfo {
    /// Parses a DER certificate; the error is x509-parser's reason.
    pub fn parse(der: CertificateDer<'static>) -> Result<CertInfo, String> {
        let info = {
            let cert = parse_x509(&der)?;
            let mut subject_key_id = None;
            let mut authority_key_id = None;
            for ext in cert.extensions() {
                match ext.parsed_extension() {
                    ParsedExtension::SubjectKeyIdentifier(id) => {
                        subject_key_id = Some(id.0.to_vec())
                    }
                    ParsedExtension::AuthorityKeyIdentifier(aki) => {
                        authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec())
                    }
                    _ => {}
                }
            }
            let subject_raw = cert.subject().as_raw().to_vec();
            let issuer_raw = cert.issuer().as_raw().to_vec();
            let self_issued = subject_raw == issuer_raw;
            let self_signed = self_issued && signature_ok(&cert, &cert);
            CertInfo {
                subject: name_text(cert.subject()),
                issuer: name_text(cert.issuer()),
                serial: serial_hex(cert.raw_serial()),
                not_before: cert.validity().not_before.to_datetime(),
                not_after: cert.validity().not_after.to_datetime(),
                is_ca: cert.is_ca(),
                self_issued,
                self_signed,
                key_type: key_type(&cert),
                sha256_fingerprint: fingerprint(&der),
                subject_raw,
                issuer_raw,
                subject_key_id,
                authority_key_id,
                der: CertificateDer::from(Vec::new()),
            }
        };
        Ok(CertInfo { der, ..info })
    }

    /// Whether `self` issued `child` (see the module header).
    pub fn issued(&self, child: &CertInfo) -> bool {
        if self.subject_raw != child.issuer_raw {
            return false;
        }
        if let (Some(ski), Some(aki)) = (&self.subject_key_id, &child.authority_key_id)
            && ski != aki
        {
            return false;
        }
        match (parse_x509(&self.der), parse_x509(&child.der)) {
            (Ok(issuer), Ok(child)) => signature_ok(&child, &issuer),
            _ => false,
        }
    }

    /// A root: self-signed (and usually a CA).
    pub fn is_root(&self) -> bool {
        self.self_signed
    }

    /// Whether `now` lies in the validity window.
    pub fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err("trailing bytes after the certificate".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// `child`'s signature verifies with `issuer`'s key; an algorithm that cannot
/// be checked counts as verified (the names already matched).
fn signature_ok(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    match child.verify_signature(Some(issuer.public_key())) {
        Ok(()) => true,
        Err(X509Error::SignatureUnsupportedAlgorithm) => true,
        Err(_) => false,
    }
}

fn name_text(name: &x509_parser::x509::X509Name<'_>) -> String {
    let text = name.to_string();
    if text.is_empty() {
        "(empty name)".to_string()
    } else {
        text
    }
}

fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    let hex: String = raw[start..].iter().map(|b| format!("{b:02X}")).collect();
    if hex.is_empty() {
        "00".to_string()
    } else {
        hex
    }
}

/// SHA-256 of `der` as uppercase hex pairs joined by colons.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Bits of an unsigned big-endian integer.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        Some(i) => (bytes.len() - i) * 8 - bytes[i].leading_zeros() as usize,
        None => 0,
    }
}

fn key_type(cert: &X509Certificate<'_>) -> String {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION {
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA {}", bit_len(rsa.modulus)),
            _ => "RSA (unreadable key)".to_string(),
        }
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        match curve {
            Some(c) if c == OID_EC_P256 => "ECDSA P-256".to_string(),
            Some(c) if c == OID_NIST_EC_P384 => "ECDSA P-384".to_string(),
            Some(c) if c == OID_NIST_EC_P521 => "ECDSA P-521".to_string(),
            Some(c) => format!("ECDSA curve {c}"),
            None => "ECDSA (unnamed curve)".to_string(),
        }
    } else if *alg == OID_SIG_ED25519 {
        "Ed25519".to_string()
    } else {
        format!("unknown key algorithm {alg}")
    }
}

/// The certificates of a set arranged as a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOrder {
    /// Indices: the leaf, then each certificate's issuer in turn, root excluded.
    pub chain: Vec<usize>,
    /// The self-signed certificate the chain ends at, when the set holds it.
    pub root: Option<usize>,
    /// Indices of certificates that are not on the leaf's path.
    pub unrelated: Vec<usize>,
}

/// Orders `certs` into a chain starting at `certs[leaf]` by following
/// issuer links. Each certificate is used once, so cycles end the chain.
pub fn order(certs: &[CertInfo], leaf: usize) -> ChainOrder {
    let mut used = vec![false; certs.len()];
    let mut chain = Vec::new();
    let mut root = None;
    if leaf < certs.len() {
        used[leaf] = true;
        chain.push(leaf);
        let mut current = leaf;
        while !certs[current].self_signed {
            let Some(next) =
                (0..certs.len()).find(|&i| !used[i] && certs[i].issued(&certs[current]))
            else {
                break;
            };
            used[next] = true;
            if certs[next].is_root() {
                root = Some(next);
                break;
            }
            chain.push(next);
            current = next;
        }
    }
    let unrelated = (0..certs.len()).filter(|&i| !used[i]).collect();
    ChainOrder {
        chain,
        root,
        unrelated,
    }
}

/// Without a key: the certificate that issued none of the others, preferring
/// a non-CA. `None` for an empty set or when every certificate issued another.
pub fn guess_leaf(certs: &[CertInfo]) -> Option<usize> {
    let issues_nothing = |i: usize| !(0..certs.len()).any(|j| j != i && certs[i].issued(&certs[j]));
    let candidates: Vec<usize> = (0..certs.len()).filter(|&i| issues_nothing(i)).collect();
    candidates
        .iter()
        .copied()
        .find(|&i| !certs[i].is_ca)
        .or_else(|| candidates.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(bit_len(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_len(&[0x01, 0x00]), 9);
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(serial_hex(&[0x00, 0x4a, 0x0b]), "4A0B");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(fingerprint(b"").len(), 32 * 3 - 1);
        assert!(CertInfo::parse(CertificateDer::from(vec![0x30, 0x00])).is_err());
    }
}
