//! Gathering an identity's material from its source: the PEM bundle, the
//! separate cert/key/chain files, or the PKCS#12 archive (from a file or
//! from bytes), with the files that errors about the key and the
//! certificate name.

use std::path::{Path, PathBuf};

use super::source::{self, Material};
use super::{IdentityError, IdentitySource};
use crate::pem;
use crate::secret::Secret;

/// Which file errors of each kind name, and what was found there.
pub(super) struct Roles {
    pub(super) key_path: PathBuf,
    pub(super) key_found: String,
    pub(super) cert_path: PathBuf,
    pub(super) cert_found: String,
    pub(super) origin: PathBuf,
}

pub(super) fn collect(source: &IdentitySource) -> Result<(Material, Roles), IdentityError> {
    match source {
        IdentitySource::Pem { path } => pem_material(&source::read_file(path)?, path),
        IdentitySource::Files { cert, key, chain } => files_material(cert, key, chain.as_deref()),
        IdentitySource::Pkcs12 { path, password } => {
            pkcs12_material(&source::read_file(path)?, path, password.as_ref())
        }
    }
}

fn files_material(
    cert: &Path,
    key: &Path,
    chain: Option<&Path>,
) -> Result<(Material, Roles), IdentityError> {
    let mut material = Material::default();
    let cert_blocks = source::read_pem(cert)?;
    let key_blocks = source::read_pem(key)?;
    material.add_pem(&key_blocks, key)?;
    material.add_pem(&cert_blocks, cert)?;
    if let Some(chain) = chain {
        let chain_blocks = source::read_pem(chain)?;
        if !chain_blocks
            .iter()
            .any(|b| b.kind == pem::BlockKind::Certificate)
        {
            return Err(IdentityError::NoCertificate {
                path: chain.to_path_buf(),
                found: pem::summarize(&chain_blocks),
            });
        }
        material.add_pem(&chain_blocks, chain)?;
    }
    let roles = Roles {
        key_path: key.to_path_buf(),
        key_found: pem::summarize(&key_blocks),
        cert_path: cert.to_path_buf(),
        cert_found: pem::summarize(&cert_blocks),
        origin: cert.to_path_buf(),
    };
    Ok((material, roles))
}

pub(super) fn pem_material(bytes: &[u8], path: &Path) -> Result<(Material, Roles), IdentityError> {
    let blocks = source::pem_blocks(bytes, path)?;
    let mut material = Material::default();
    material.add_pem(&blocks, path)?;
    let found = pem::summarize(&blocks);
    Ok((material, Roles::one_file(path, found)))
}

pub(super) fn pkcs12_material(
    bytes: &[u8],
    path: &Path,
    password: Option<&Secret>,
) -> Result<(Material, Roles), IdentityError> {
    let material = source::pkcs12_material(bytes, path, password)?;
    let found = format!(
        "{} certificate bag(s), {} key bag(s)",
        material.certs.len(),
        material.keys.len()
    );
    Ok((material, Roles::one_file(path, found)))
}

impl Roles {
    /// Key, certificate and origin all in `path`, which held `found`.
    fn one_file(path: &Path, found: String) -> Self {
        Roles {
            key_path: path.to_path_buf(),
            key_found: found.clone(),
            cert_path: path.to_path_buf(),
            cert_found: found,
            origin: path.to_path_buf(),
        }
    }
}
