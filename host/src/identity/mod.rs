//! Client identities: the key, client certificate and chain that the
//! transport presents for mutual TLS, loaded from the seed's combined PEM
//! (`fullcert.pem`), from separate cert/key/chain files, or from PKCS#12.
//!
//! Loading checks what Salesforce would otherwise refuse later: exactly one
//! unencrypted key, a certificate that belongs to it (the leaf is found by
//! its public key, not by its position), not self-signed, within its
//! validity window. The chain is put in order (leaf, then each issuer);
//! a root is dropped from what is sent and unrelated certificates too, each
//! with a warning. Inputs are untrusted: files are capped at
//! [`MAX_FILE_BYTES`], PEM at [`crate::pem::MAX_BLOCKS`] blocks, and no error
//! message holds key bytes or a password.
//!
//! The pieces ([`chain`], [`key`], [`source`], and the PEM reader
//! [`crate::pem`]) are public for `twoway cert check`, which reports the
//! same findings block by block.

pub mod chain;
mod collect;
mod error;
pub mod key;
pub mod source;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;

pub use error::{IdentityError, format_date};
pub use source::MAX_FILE_BYTES;

use chain::CertInfo;
use collect::Roles;
use source::Material;

pub use crate::config::IdentitySource;
use crate::secret::Secret;

/// A loaded, checked client identity.
pub struct ClientIdentity {
    /// Leaf first, then intermediates in issuing order; a self-signed root is dropped (with a warning).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// What the leaf says about itself.
    pub leaf: LeafSummary,
    /// Non-fatal findings, e.g. "root CA 'X' dropped from the chain: servers must not be sent the root".
    pub warnings: Vec<String>,
    /// The file the identity was loaded from (see [`IdentitySource::path`]).
    pub origin: PathBuf,
}

/// The leaf certificate in brief.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSummary {
    pub subject: String,
    pub issuer: String,
    /// Uppercase hex, as `openssl x509 -noout -serial` prints it.
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER: uppercase hex, colon separated (compare with the
    /// certificate uploaded to Salesforce).
    pub sha256_fingerprint: String,
    /// "RSA 2048", "ECDSA P-256".
    pub key_type: String,
}

impl LeafSummary {
    /// The summary of a parsed certificate.
    pub fn of(info: &CertInfo) -> LeafSummary {
        LeafSummary {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
            sha256_fingerprint: info.sha256_fingerprint.clone(),
            key_type: info.key_type.clone(),
        }
    }
}

impl Clone for ClientIdentity {
    fn clone(&self) -> Self {
        ClientIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            leaf: self.leaf.clone(),
            warnings: self.warnings.clone(),
            origin: self.origin.clone(),
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("chain_len", &self.chain.len())
            .field("key", &"[redacted]")
            .field("leaf", &self.leaf)
            .field("warnings", &self.warnings)
            .field("origin", &self.origin)
            .finish()
    }
}

impl ClientIdentity {
    /// Whole days from `now` until the leaf expires (negative once expired).
    pub fn days_to_expiry(&self, now: OffsetDateTime) -> i64 {
        (self.leaf.not_after - now).whole_days()
    }

    /// A rustls CertifiedKey for the aws-lc-rs provider (used by the transport's client config).
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, IdentityError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        CertifiedKey::from_der(self.chain.clone(), self.key.clone_key(), &provider)
            .map(Arc::new)
            .map_err(|e| IdentityError::Rejected {
                path: self.origin.clone(),
                reason: e.to_string(),
            })
    }
}

/// Loads and checks the identity in `source` as of now.
pub fn load(source: &IdentitySource) -> Result<ClientIdentity, IdentityError> {
    load_at(source, OffsetDateTime::now_utc())
}

/// Loads and checks the identity in `source`, judging validity at `now`.
pub fn load_at(
    source: &IdentitySource,
    now: OffsetDateTime,
) -> Result<ClientIdentity, IdentityError> {
    let (material, roles) = collect::collect(source)?;
    assemble(material, &roles, now)
}

/// Loads and checks a PEM bundle (key, certificate and chain, blocks in any
/// order) from `bytes`, as if read from `origin` (named in errors), at `now`.
pub fn from_pem_bytes(
    bytes: &[u8],
    origin: &Path,
    now: OffsetDateTime,
) -> Result<ClientIdentity, IdentityError> {
    let (material, roles) = collect::pem_material(bytes, origin)?;
    assemble(material, &roles, now)
}

/// Loads and checks a PKCS#12 archive from `bytes`, as if read from
/// `origin` (named in errors), at `now`.
pub fn from_pkcs12_bytes(
    bytes: &[u8],
    password: Option<&Secret>,
    origin: &Path,
    now: OffsetDateTime,
) -> Result<ClientIdentity, IdentityError> {
    let (material, roles) = collect::pkcs12_material(bytes, origin, password)?;
    assemble(material, &roles, now)
}

fn assemble(
    material: Material,
    roles: &Roles,
    now: OffsetDateTime,
) -> Result<ClientIdentity, IdentityError> {
    let key_path = || roles.key_path.clone();
    let key = match material.keys.len() {
        0 => {
            return Err(IdentityError::NoPrivateKey {
                path: key_path(),
                found: roles.key_found.clone(),
            });
        }
        1 => &material.keys[0].0,
        count => {
            return Err(IdentityError::MultipleKeys {
                path: key_path(),
                count,
                found: material.key_locations(),
            });
        }
    };
    if material.certs.is_empty() {
        return Err(IdentityError::NoCertificate {
            path: roles.cert_path.clone(),
            found: roles.cert_found.clone(),
        });
    }
    let signing = key::signing_key(key).map_err(|problem| match problem {
        key::KeyProblem::Unsupported(what) => IdentityError::UnsupportedKey {
            path: key_path(),
            what,
        },
        key::KeyProblem::Invalid(reason) => IdentityError::InvalidKey {
            path: key_path(),
            reason,
        },
    })?;

    let mut infos = Vec::with_capacity(material.certs.len());
    for (i, (der, path)) in material.certs.iter().enumerate() {
        let info = CertInfo::parse(der.clone()).map_err(|reason| {
            let index = material.certs[..=i]
                .iter()
                .filter(|(_, p)| p == path)
                .count();
            IdentityError::InvalidCertificate {
                path: path.clone(),
                index,
                reason,
            }
        })?;
        infos.push(info);
    }
    let cert_path = |i: usize| material.certs[i].1.clone();

    // The leaf is the certificate of the key; with several (a renewal next
    // to the old certificate), the one valid now that lasts longest.
    let mut candidates: Vec<usize> = (0..infos.len())
        .filter(|&i| key::matches(&signing, &infos[i].der))
        .collect();
    candidates.sort_by_key(|&i| {
        (
            !infos[i].valid_at(now),
            std::cmp::Reverse(infos[i].not_after),
        )
    });
    let Some(&leaf) = candidates.first() else {
        let guess = chain::guess_leaf(&infos).unwrap_or(0);
        return Err(IdentityError::KeyMismatch {
            path: key_path(),
            subject: infos[guess].subject.clone(),
            others: infos.len() - 1,
        });
    };
    let info = &infos[leaf];
    if info.self_signed {
        return Err(IdentityError::SelfSignedLeaf {
            path: cert_path(leaf),
            subject: info.subject.clone(),
        });
    }
    if now < info.not_before {
        return Err(IdentityError::NotYetValid {
            path: cert_path(leaf),
            subject: info.subject.clone(),
            not_before: info.not_before,
            now,
        });
    }
    if now > info.not_after {
        return Err(IdentityError::Expired {
            path: cert_path(leaf),
            subject: info.subject.clone(),
            not_after: info.not_after,
            now,
        });
    }

    let mut warnings = material.warnings.clone();
    let order = chain::order(&infos, leaf);
    if let Some(root) = order.root {
        warnings.push(format!(
            "root CA '{}' dropped from the chain: servers must not be sent the root",
            infos[root].subject
        ));
    }
    for &other in &candidates[1..] {
        warnings.push(format!(
            "certificate '{}' (valid until {}) also matches the key and was not used",
            infos[other].subject,
            format_date(&infos[other].not_after)
        ));
    }
    let unrelated: Vec<String> = order
        .unrelated
        .iter()
        .filter(|i| !candidates.contains(i))
        .map(|&i| format!("'{}'", infos[i].subject))
        .collect();
    if !unrelated.is_empty() {
        warnings.push(format!(
            "certificate(s) not in the chain of '{}' dropped: {}",
            info.subject,
            unrelated.join(", ")
        ));
    }
    for &i in &order.chain[1..] {
        if !infos[i].valid_at(now) {
            warnings.push(format!(
                "intermediate CA '{}' is outside its validity window ({} to {}); get the current one from your CA",
                infos[i].subject,
                format_date(&infos[i].not_before),
                format_date(&infos[i].not_after)
            ));
        }
    }
    if order.chain.len() == 1 && order.root.is_none() {
        warnings.push(format!(
            "the chain holds only the leaf: unless its issuer '{}' is a root CA the server trusts, add the intermediate CA certificate(s)",
            info.issuer
        ));
    }

    let identity = ClientIdentity {
        chain: order.chain.iter().map(|&i| infos[i].der.clone()).collect(),
        key: key.clone_key(),
        leaf: LeafSummary::of(info),
        warnings,
        origin: roles.origin.clone(),
    };
    identity.certified_key()?;
    Ok(identity)
}

#[cfg(test)]
mod tests;
