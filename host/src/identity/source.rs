//! Reading identity files: size-capped file reads, the PEM blocks of a file,
//! and the keys and certificates of a PEM file or a PKCS#12 archive, each
//! remembered with the file it came from.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use p12_keystore::Pkcs12Archive;
use p12_keystore::error::Error as P12Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::IdentityError;
use crate::pem::{self, BlockKind, PemBlock};
use crate::secret::Secret;

/// Identity files larger than this are refused unread.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The whole of `path`, refusing files over [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, IdentityError> {
    let unreadable = |source| IdentityError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(IdentityError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// The PEM blocks of `path`, in file order; a file without any block is malformed.
pub fn read_pem(path: &Path) -> Result<Vec<PemBlock>, IdentityError> {
    pem_blocks(&read_file(path)?, path)
}

/// The PEM blocks of `bytes` read from `path` (named in errors).
pub fn pem_blocks(bytes: &[u8], path: &Path) -> Result<Vec<PemBlock>, IdentityError> {
    let malformed = |reason: String| IdentityError::MalformedPem {
        path: path.to_path_buf(),
        reason,
    };
    let blocks = pem::parse(bytes).map_err(|e| malformed(e.to_string()))?;
    if blocks.is_empty() {
        let reason = if bytes.first() == Some(&0x30) {
            "no PEM blocks; the file looks binary (DER or PKCS#12): configure a .p12 as pkcs12, or convert DER with `openssl x509 -inform der`"
        } else if bytes.trim_ascii().is_empty() {
            "the file is empty"
        } else {
            "no -----BEGIN ...----- line found"
        };
        return Err(malformed(reason.to_string()));
    }
    Ok(blocks)
}

/// Keys and certificates gathered from an identity's files.
#[derive(Debug, Default)]
pub struct Material {
    /// Certificates in the order met, with their file.
    pub certs: Vec<(CertificateDer<'static>, PathBuf)>,
    /// Unencrypted private keys in the order met, with their file and a
    /// description ("RSA PRIVATE KEY at line 1 (PKCS#1)").
    pub keys: Vec<(PrivateKeyDer<'static>, PathBuf, String)>,
    /// Non-fatal findings so far (ignored blocks, duplicates).
    pub warnings: Vec<String>,
}

impl Material {
    /// Adds a certificate unless the same one is already there.
    pub fn add_cert(&mut self, cert: CertificateDer<'static>, path: &Path, what: &str) {
        if self.certs.iter().any(|(c, _)| *c == cert) {
            self.warnings.push(format!(
                "{}: duplicate certificate ({what}) ignored",
                path.display()
            ));
        } else {
            self.certs.push((cert, path.to_path_buf()));
        }
    }

    /// Adds a key unless the same one is already there (the same file given twice).
    pub fn add_key(&mut self, key: PrivateKeyDer<'static>, path: &Path, what: String) {
        if !self
            .keys
            .iter()
            .any(|(k, _, _)| k.secret_der() == key.secret_der())
        {
            self.keys.push((key, path.to_path_buf(), what));
        }
    }

    /// Adds the certificates and keys of `blocks` read from `path`; an
    /// encrypted key is an error, other blocks are ignored with a warning.
    pub fn add_pem(&mut self, blocks: &[PemBlock], path: &Path) -> Result<(), IdentityError> {
        for block in blocks {
            match block.kind {
                BlockKind::Certificate => {
                    if let Some(cert) = block.certificate() {
                        self.add_cert(cert, path, &block.describe());
                    }
                }
                BlockKind::PrivateKey(format) => {
                    if let Some(key) = block.private_key() {
                        let what = format!("{} ({})", block.describe(), format.name());
                        self.add_key(key, path, what);
                    }
                }
                BlockKind::EncryptedPrivateKey => {
                    return Err(IdentityError::EncryptedKey {
                        path: path.to_path_buf(),
                        what: block.describe(),
                    });
                }
                BlockKind::Other => self.warnings.push(format!(
                    "{}: ignored block {} (neither a certificate nor a private key)",
                    path.display(),
                    block.describe()
                )),
            }
        }
        Ok(())
    }

    /// Where the keys are: "RSA PRIVATE KEY at line 1 (PKCS#1) in a.pem, ...".
    pub fn key_locations(&self) -> String {
        self.keys
            .iter()
            .map(|(_, path, what)| format!("{what} in {}", path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The keys and certificates of the PKCS#12 file at `path`.
pub fn read_pkcs12(path: &Path, password: Option<&Secret>) -> Result<Material, IdentityError> {
    pkcs12_material(&read_file(path)?, path, password)
}

/// The keys and certificates of the PKCS#12 archive `bytes` read from
/// `path` (named in errors).
pub fn pkcs12_material(
    bytes: &[u8],
    path: &Path,
    password: Option<&Secret>,
) -> Result<Material, IdentityError> {
    let owned = || path.to_path_buf();
    let archive = Pkcs12Archive::from_pkcs12(bytes, password.map_or("", |p| p.expose())).map_err(
        |e| match e {
            // A failed MAC, or (without a MAC) a decryption that fails, is a password problem.
            P12Error::MacError(_) | P12Error::UnpadError | P12Error::Pkcs5Error(_) => {
                if password.is_none() {
                    IdentityError::Pkcs12PasswordRequired { path: owned() }
                } else {
                    IdentityError::Pkcs12WrongPassword { path: owned() }
                }
            }
            _ if bytes.trim_ascii_start().starts_with(b"-----BEGIN ") => {
                IdentityError::MalformedPkcs12 {
                    path: owned(),
                    reason: "this is a PEM file; configure it as pem (or cert/key/chain) instead of pkcs12".to_string(),
                }
            }
            other => IdentityError::MalformedPkcs12 {
                path: owned(),
                reason: other.to_string(),
            },
        },
    )?;
    let mut material = Material::default();
    for (i, bag) in archive.certs.iter().enumerate() {
        let cert = CertificateDer::from(bag.cert.as_der().to_vec());
        material.add_cert(cert, path, &format!("certificate bag {}", i + 1));
    }
    for (i, bag) in archive.keys.iter().enumerate() {
        let key = PrivatePkcs8KeyDer::from(bag.key.as_der().to_vec());
        material.add_key(key.into(), path, format!("key bag {}", i + 1));
    }
    if !archive.secrets.is_empty() {
        material.warnings.push(format!(
            "{}: {} secret-key bag(s) ignored",
            path.display(),
            archive.secrets.len()
        ));
    }
    Ok(material)
}
