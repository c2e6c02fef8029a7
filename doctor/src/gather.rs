//! Reading what the doctor is given, leniently: every file is read (size
//! capped by [`source::read_file`]), every block typed by [`pem::parse`],
//! every certificate parsed by [`CertInfo::parse`], and whatever is wrong
//! (an encrypted key, a broken block, two keys, a wrong PKCS#12 password)
//! becomes a finding instead of stopping the reading, unlike
//! [`twoway::identity::load`].

use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::pkcs12;
use super::report::Status;
use twoway::identity::chain::CertInfo;
use twoway::identity::{IdentityError, source};
use twoway::pem::{self, BlockKind};
use twoway::secret::Secret;

/// How the IDENTITY file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pem,
    Der,
    Pkcs12,
    Unknown,
}

impl Format {
    /// "pem", "der", "pkcs12", "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pem => "pem",
            Format::Der => "der",
            Format::Pkcs12 => "pkcs12",
            Format::Unknown => "unknown",
        }
    }
}

/// A problem met while reading, for the `blocks` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub status: Status,
    pub message: String,
    pub fix: String,
}

/// A certificate and where it was found.
#[derive(Debug, Clone)]
pub struct CertEntry {
    pub info: CertInfo,
    pub file: PathBuf,
    /// "CERTIFICATE at line 5", "DER certificate", "certificate bag 1".
    pub found_as: String,
}

/// A private key and where it was found. `Debug` never shows the key.
pub struct KeyEntry {
    pub key: PrivateKeyDer<'static>,
    pub file: PathBuf,
    /// "RSA PRIVATE KEY at line 1 (PKCS#1)", "key bag 1".
    pub found_as: String,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("file", &self.file)
            .field("found_as", &self.found_as)
            .finish_non_exhaustive()
    }
}

/// Everything read from the doctor's inputs.
#[derive(Debug)]
pub struct Gathered {
    pub format: Format,
    /// Certificates in input order: IDENTITY, then `--key`, then each `--chain`.
    pub certs: Vec<CertEntry>,
    pub keys: Vec<KeyEntry>,
    /// Per file: "fullcert.pem: 1 × RSA PRIVATE KEY, 2 × CERTIFICATE".
    pub found: Vec<String>,
    /// Harmless remarks (ignored blocks, duplicates).
    pub notes: Vec<String>,
    pub findings: Vec<Finding>,
    /// The `--cacert` certificates (trusted in addition to the system roots).
    pub cacerts: Vec<CertInfo>,
}

/// What to read.
pub struct Inputs<'a> {
    pub identity: &'a Path,
    pub key: Option<&'a Path>,
    pub chain: &'a [PathBuf],
    pub password: Option<&'a Secret>,
    pub password_env: Option<&'a str>,
    pub cacert: &'a [PathBuf],
}

/// Which argument a file was given as (for messages).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Identity,
    Key,
    Chain,
    CaCert,
}

impl Gathered {
    fn new() -> Gathered {
        Gathered {
            format: Format::Unknown,
            certs: Vec::new(),
            keys: Vec::new(),
            found: Vec::new(),
            notes: Vec::new(),
            findings: Vec::new(),
            cacerts: Vec::new(),
        }
    }

    pub(super) fn error(&mut self, message: String, fix: impl Into<String>) {
        self.findings.push(Finding {
            status: Status::Error,
            message,
            fix: fix.into(),
        });
    }

    pub(super) fn add_cert(
        &mut self,
        der: CertificateDer<'static>,
        file: &Path,
        found_as: String,
        role: Role,
    ) {
        match CertInfo::parse(der) {
            Ok(info) => {
                if role == Role::CaCert {
                    self.cacerts.push(info);
                } else if self.certs.iter().any(|c| c.info.der == info.der) {
                    self.notes.push(format!(
                        "duplicate certificate '{}' ({found_as} in {}) ignored",
                        info.subject,
                        file.display()
                    ));
                } else {
                    self.certs.push(CertEntry {
                        info,
                        file: file.to_path_buf(),
                        found_as,
                    });
                }
            }
            Err(reason) => self.error(
                format!(
                    "{}: {found_as} is not valid X.509 ({reason})",
                    file.display()
                ),
                "replace it with the certificate exactly as your CA issued it",
            ),
        }
    }

    pub(super) fn add_key(&mut self, key: PrivateKeyDer<'static>, file: &Path, found_as: String) {
        if self
            .keys
            .iter()
            .any(|k| k.key.secret_der() == key.secret_der())
        {
            self.notes.push(format!(
                "the same private key again ({found_as} in {}) ignored",
                file.display()
            ));
        } else {
            self.keys.push(KeyEntry {
                key,
                file: file.to_path_buf(),
                found_as,
            });
        }
    }
}

/// Reads every input; never fails, problems become findings.
pub fn gather(inputs: &Inputs<'_>) -> Gathered {
    let mut g = Gathered::new();
    if let Some(name) = inputs.password_env
        && inputs.password.is_none()
    {
        g.error(
            format!("--password-env {name}: the environment variable is not set"),
            format!("export {name}=<the PKCS#12 password> before running the command"),
        );
    }
    read_identity(&mut g, inputs);
    if let Some(key) = inputs.key {
        read_pem_or_der(&mut g, key, Role::Key);
    }
    for chain in inputs.chain {
        read_pem_or_der(&mut g, chain, Role::Chain);
    }
    for ca in inputs.cacert {
        let before = (g.cacerts.len(), g.findings.len());
        read_pem_or_der(&mut g, ca, Role::CaCert);
        if (g.cacerts.len(), g.findings.len()) == before {
            g.error(
                format!("--cacert {}: no CA certificate found", ca.display()),
                "pass a PEM file holding the CA certificate(s) the server is expected to trust",
            );
        }
    }
    if g.certs.is_empty() && g.findings.iter().all(|f| f.status != Status::Error) {
        g.error(
            "no certificate found".to_string(),
            "add the client certificate (-----BEGIN CERTIFICATE-----) and its intermediate CA certificate(s)",
        );
    }
    if g.keys.len() > 1 {
        let places: Vec<String> = g
            .keys
            .iter()
            .map(|k| format!("{} in {}", k.found_as, k.file.display()))
            .collect();
        g.error(
            format!(
                "{} private keys found ({})",
                g.keys.len(),
                places.join(", ")
            ),
            "keep only the private key that belongs to the client certificate",
        );
    }
    g
}

fn is_pkcs12_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"))
}

/// "JKS" or "JCEKS" when the file starts with a Java keystore's magic
/// number (a PKCS#12-format `.jks` is plain PKCS#12 and is read as such).
fn java_keystore(path: &Path) -> Option<&'static str> {
    use std::io::Read as _;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .ok()?
        .read_exact(&mut magic)
        .ok()?;
    match u32::from_be_bytes(magic) {
        0xFEED_FEED => Some("JKS"),
        0xCECE_CECE => Some("JCEKS"),
        _ => None,
    }
}

fn read_identity(g: &mut Gathered, inputs: &Inputs<'_>) {
    let path = inputs.identity;
    if let Some(kind) = java_keystore(path) {
        let p = path.display();
        let stem = path.with_extension("p12");
        g.error(
            format!("{p}: a Java keystore ({kind}), which twoway does not read"),
            format!(
                "convert it to PKCS#12 with `keytool -importkeystore -srckeystore {p} -destkeystore {} -deststoretype PKCS12`, then check the .p12 (with --password-env)",
                stem.display()
            ),
        );
        return;
    }
    if is_pkcs12_name(path) {
        pkcs12::read(g, inputs);
        return;
    }
    let Some(bytes) = read(g, path) else { return };
    if looks_binary(&bytes) {
        if let Ok(info) = CertInfo::parse(CertificateDer::from(bytes.clone())) {
            g.format = Format::Der;
            g.found
                .push(format!("{}: 1 DER certificate", path.display()));
            g.certs.push(CertEntry {
                info,
                file: path.to_path_buf(),
                found_as: "DER certificate".to_string(),
            });
            return;
        }
        // Not a certificate: a PKCS#12 file without its usual name?
        match source::read_pkcs12(path, inputs.password) {
            Ok(_)
            | Err(IdentityError::Pkcs12PasswordRequired { .. })
            | Err(IdentityError::Pkcs12WrongPassword { .. }) => pkcs12::read(g, inputs),
            Err(_) => g.error(
                format!(
                    "{}: binary data that is neither a DER certificate nor a PKCS#12 file",
                    path.display()
                ),
                "give the identity as PEM (key, certificate, chain), a DER certificate, or PKCS#12 (.p12/.pfx)",
            ),
        }
        return;
    }
    g.format = Format::Pem;
    read_pem_bytes(g, path, &bytes, Role::Identity);
}

/// DER (a SEQUENCE) rather than text.
fn looks_binary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30) && bytes.get(1).is_some_and(|&b| !(0x20..0x80).contains(&b))
}

fn read(g: &mut Gathered, path: &Path) -> Option<Vec<u8>> {
    match source::read_file(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            let (message, fix) = pkcs12::describe_error(&e, None);
            g.error(message, fix);
            None
        }
    }
}

fn read_pem_or_der(g: &mut Gathered, path: &Path, role: Role) {
    let Some(bytes) = read(g, path) else { return };
    if looks_binary(&bytes) {
        if role != Role::Key {
            g.found
                .push(format!("{}: 1 DER certificate", path.display()));
            g.add_cert(
                CertificateDer::from(bytes),
                path,
                "DER certificate".to_string(),
                role,
            );
        } else {
            match PrivateKeyDer::try_from(bytes) {
                Ok(key) => {
                    g.found.push(format!("{}: 1 DER private key", path.display()));
                    g.add_key(key, path, "DER private key".to_string());
                }
                Err(_) => g.error(
                    format!("{}: binary data that is not a DER private key", path.display()),
                    "give the key as PEM (-----BEGIN PRIVATE KEY-----), e.g. `openssl pkey -in KEY -out key.pem`",
                ),
            }
        }
        return;
    }
    read_pem_bytes(g, path, &bytes, role);
}

fn read_pem_bytes(g: &mut Gathered, path: &Path, bytes: &[u8], role: Role) {
    let blocks = match pem::parse(bytes) {
        Ok(blocks) => blocks,
        Err(e) => {
            g.error(
                format!("{}: malformed PEM ({e})", path.display()),
                "the file should hold -----BEGIN ...----- / -----END ...----- blocks as openssl writes them",
            );
            return;
        }
    };
    if blocks.is_empty() {
        let reason = if bytes.trim_ascii().is_empty() {
            "the file is empty"
        } else {
            "no -----BEGIN ...----- line found"
        };
        g.error(
            format!("{}: no PEM blocks ({reason})", path.display()),
            "give PEM files as openssl writes them (-----BEGIN CERTIFICATE----- ...)",
        );
        return;
    }
    let prefix = if role == Role::CaCert {
        "--cacert "
    } else {
        ""
    };
    g.found.push(format!(
        "{prefix}{}: {}",
        path.display(),
        pem::summarize(&blocks)
    ));
    for block in &blocks {
        match block.kind {
            BlockKind::Certificate => {
                if let Some(cert) = block.certificate() {
                    g.add_cert(cert, path, block.describe(), role);
                }
            }
            BlockKind::PrivateKey(format) => {
                if role == Role::CaCert {
                    g.error(
                        format!(
                            "--cacert {}: holds a private key ({})",
                            path.display(),
                            block.describe()
                        ),
                        "--cacert takes CA certificates only; never hand a private key around",
                    );
                } else if let Some(key) = block.private_key() {
                    g.add_key(key, path, format!("{} ({})", block.describe(), format.name()));
                }
            }
            BlockKind::EncryptedPrivateKey => g.error(
                format!(
                    "{}: the private key ({}) is encrypted",
                    path.display(),
                    block.describe()
                ),
                format!(
                    "decrypt it with `openssl pkey -in {} -out key.pem` (and protect that file), or use a PKCS#12 file with --password-env",
                    path.display()
                ),
            ),
            BlockKind::Other => g.notes.push(format!(
                "{} in {} ignored (neither a certificate nor a private key)",
                block.describe(),
                path.display()
            )),
        }
    }
}
