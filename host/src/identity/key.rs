//! Private keys: which algorithm a key is, turning it into a rustls signing
//! key with the aws-lc-rs provider, and whether it belongs to a certificate.
//! Nothing here formats key bytes.

use std::sync::Arc;

use pkcs8::ObjectIdentifier;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::{CertifiedKey, SigningKey};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");

/// The algorithm family of a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa,
    Ec,
    Ed25519,
    /// Known to exist, not supported (DSA, Ed448, RSA-PSS-only keys, ...).
    Other(String),
    /// A PKCS#8 structure that does not parse.
    Unreadable,
}

impl KeyAlgorithm {
    /// "RSA", "EC", "Ed25519", or the unsupported algorithm's name.
    pub fn name(&self) -> String {
        match self {
            KeyAlgorithm::Rsa => "RSA".into(),
            KeyAlgorithm::Ec => "EC".into(),
            KeyAlgorithm::Ed25519 => "Ed25519".into(),
            KeyAlgorithm::Other(name) => name.clone(),
            KeyAlgorithm::Unreadable => "unreadable".into(),
        }
    }
}

/// The algorithm of `key`, from its format (PKCS#1, SEC1) or its PKCS#8 algorithm OID.
pub fn algorithm(key: &PrivateKeyDer<'_>) -> KeyAlgorithm {
    match key {
        PrivateKeyDer::Pkcs1(_) => KeyAlgorithm::Rsa,
        PrivateKeyDer::Sec1(_) => KeyAlgorithm::Ec,
        PrivateKeyDer::Pkcs8(der) => {
            match pkcs8::PrivateKeyInfoRef::try_from(der.secret_pkcs8_der()) {
                Ok(info) => match info.algorithm.oid {
                    oid if oid == RSA => KeyAlgorithm::Rsa,
                    oid if oid == EC => KeyAlgorithm::Ec,
                    oid if oid == ED25519 => KeyAlgorithm::Ed25519,
                    oid if oid == RSA_PSS => KeyAlgorithm::Other("RSA-PSS".into()),
                    oid if oid == ED448 => KeyAlgorithm::Other("Ed448".into()),
                    oid if oid == DSA => KeyAlgorithm::Other("DSA".into()),
                    oid => KeyAlgorithm::Other(format!("algorithm {oid}")),
                },
                Err(_) => KeyAlgorithm::Unreadable,
            }
        }
        _ => KeyAlgorithm::Other("unknown key encoding".into()),
    }
}

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    /// A kind of key rustls with aws-lc-rs does not sign with; the text says which.
    Unsupported(String),
    /// The key's encoding is damaged; the text says what failed.
    Invalid(String),
}

/// `key` as a rustls signing key of the aws-lc-rs provider.
pub fn signing_key(key: &PrivateKeyDer<'_>) -> Result<Arc<dyn SigningKey>, KeyProblem> {
    let provider = provider::default_provider();
    match provider.key_provider.load_private_key(key.clone_key()) {
        Ok(signing) => Ok(signing),
        Err(_) => Err(match algorithm(key) {
            KeyAlgorithm::Rsa => rsa_problem(key),
            KeyAlgorithm::Ec => KeyProblem::Unsupported(
                "an EC key on a curve other than P-256, P-384 or P-521 (or a damaged EC key)"
                    .to_string(),
            ),
            KeyAlgorithm::Ed25519 => {
                KeyProblem::Invalid("the Ed25519 key does not parse".to_string())
            }
            KeyAlgorithm::Other(name) => KeyProblem::Unsupported(format!("a {name} key")),
            KeyAlgorithm::Unreadable => {
                KeyProblem::Invalid("the PKCS#8 structure does not parse".to_string())
            }
        }),
    }
}

/// Why aws-lc-rs refuses an RSA key: its size, or a broken encoding.
fn rsa_problem(key: &PrivateKeyDer<'_>) -> KeyProblem {
    let rejected = match key {
        PrivateKeyDer::Pkcs1(der) => {
            aws_lc_rs::rsa::KeyPair::from_der(der.secret_pkcs1_der()).err()
        }
        PrivateKeyDer::Pkcs8(der) => {
            aws_lc_rs::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()).err()
        }
        _ => None,
    };
    match rejected.map(|r| r.description_()) {
        Some(reason @ ("TooSmall" | "TooLarge")) => {
            KeyProblem::Unsupported(format!("an RSA key outside 2048..8192 bits ({reason})"))
        }
        Some(reason) => KeyProblem::Invalid(format!("the RSA key does not parse ({reason})")),
        None => KeyProblem::Invalid("the RSA key does not parse".to_string()),
    }
}

/// Whether `key` is the private key of `cert`'s public key (rustls's own
/// comparison of SubjectPublicKeyInfo). A key that cannot tell its public
/// key never matches.
pub fn matches(key: &Arc<dyn SigningKey>, cert: &CertificateDer<'static>) -> bool {
    CertifiedKey::new(vec![cert.clone()], key.clone())
        .keys_match()
        .is_ok()
}
