//! Test PKI: a root CA, an issuing CA and the client, server and deliberately
//! broken identities that the simulator, the gateway and the tests use, written
//! to one directory by `twoway pki init` and found again by [`open`].
//!
//! File names are a contract (see [`Pki`]); the certificates themselves are
//! built in [`generate`].

mod generate;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Password of `client.p12`. Test material only.
pub const P12_PASSWORD: &str = "changeit";
/// Common name of the root CA (`root-ca.pem`).
pub const ROOT_CA_CN: &str = "twoway Test Root CA";
/// Common name of the issuing CA (`intermediate-ca.pem`).
pub const INTERMEDIATE_CA_CN: &str = "twoway Test Issuing CA";
/// Common name of the untrusted root CA (`untrusted-ca.pem`).
pub const UNTRUSTED_CA_CN: &str = "Untrusted Test Root CA";
/// Common name of the first tenant's client certificate (`client.pem`).
pub const CLIENT_CN: &str = "integration.acme.example";
/// Organisation of the first tenant's client certificate (`client.pem`).
pub const CLIENT_ORG: &str = "Acme Test";
/// Common name of the second tenant's client certificate (`client-b.pem`).
pub const CLIENT_B_CN: &str = "integration.globex.example";
/// Organisation of the second tenant's client certificate (`client-b.pem`).
pub const CLIENT_B_ORG: &str = "Globex Test";

/// Everything that can go wrong creating or opening a test PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// `init` without `force` found earlier material in the directory.
    #[error(
        "{} already holds a test PKI ({} exists); pass --force to replace it",
        dir.display(),
        file.display()
    )]
    AlreadyExists { dir: PathBuf, file: PathBuf },
    /// `open` did not find one of the files.
    #[error(
        "test PKI file {} is missing; run `twoway pki init {}` to create it",
        file.display(),
        dir.display()
    )]
    Missing { dir: PathBuf, file: PathBuf },
    /// Reading, creating or writing a path failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// rcgen refused to generate a key or certificate.
    #[error("cannot generate {file}: {source}")]
    Generate {
        file: &'static str,
        #[source]
        source: rcgen::Error,
    },
    /// A key or keystore could not be encoded.
    #[error("cannot encode {file}: {reason}")]
    Encode { file: &'static str, reason: String },
}

/// The paths of a test PKI's files (they exist once [`init`] or [`open`]
/// returned this). Keys ending in `.key` are PKCS#8 `PRIVATE KEY` unless noted;
/// `fullcert*.pem` files follow the article's layout: private key, leaf
/// certificate, then the chain without the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    /// The directory holding everything below.
    pub dir: PathBuf,
    /// `README.txt`: what each file is, the p12 password, a curl example.
    pub readme: PathBuf,
    /// `root-ca.pem`: self-signed root CA, the only trust anchor.
    pub root_ca: PathBuf,
    /// `root-ca.key`.
    pub root_ca_key: PathBuf,
    /// `intermediate-ca.pem`: issuing CA (pathlen 0) signed by the root.
    pub intermediate_ca: PathBuf,
    /// `intermediate-ca.key`.
    pub intermediate_ca_key: PathBuf,
    /// `client.pem`: the client leaf only ([`CLIENT_CN`], RSA 2048, clientAuth).
    pub client: PathBuf,
    /// `client.key`: its RSA key as PKCS#8.
    pub client_key: PathBuf,
    /// `client-chain.pem`: the intermediate only (chain without root).
    pub client_chain: PathBuf,
    /// `fullcert.pem`: `RSA PRIVATE KEY` (PKCS#1), client leaf, intermediate.
    pub fullcert: PathBuf,
    /// `client.p12`: client key, leaf and intermediate; password [`P12_PASSWORD`].
    pub client_p12: PathBuf,
    /// `client-b.pem`: second tenant's client leaf ([`CLIENT_B_CN`]).
    pub client_b: PathBuf,
    /// `client-b.key`.
    pub client_b_key: PathBuf,
    /// `fullcert-b.pem`: PKCS#1 key, client-b leaf, intermediate.
    pub fullcert_b: PathBuf,
    /// `client-ec.pem`: ECDSA P-256 client leaf.
    pub client_ec: PathBuf,
    /// `client-ec.key`: SEC1 `EC PRIVATE KEY`.
    pub client_ec_key: PathBuf,
    /// `fullcert-ec.pem`: SEC1 key, client-ec leaf, intermediate.
    pub fullcert_ec: PathBuf,
    /// `server.pem`: server leaf (localhost, 127.0.0.1, ::1) then intermediate.
    pub server: PathBuf,
    /// `server.key`.
    pub server_key: PathBuf,
    /// `selfsigned-client.pem`: self-signed clientAuth certificate.
    pub selfsigned_client: PathBuf,
    /// `selfsigned-client.key`.
    pub selfsigned_client_key: PathBuf,
    /// `selfsigned-client-fullcert.pem`: PKCS#1 key, the self-signed leaf.
    pub selfsigned_client_fullcert: PathBuf,
    /// `expired-client.pem`: issued by the intermediate, expired 30 days ago.
    pub expired_client: PathBuf,
    /// `expired-client.key`.
    pub expired_client_key: PathBuf,
    /// `expired-client-fullcert.pem`: PKCS#1 key, expired leaf, intermediate.
    pub expired_client_fullcert: PathBuf,
    /// `untrusted-ca.pem`: a root CA that nothing trusts.
    pub untrusted_ca: PathBuf,
    /// `untrusted-ca.key`.
    pub untrusted_ca_key: PathBuf,
    /// `untrusted-client.pem`: clientAuth leaf issued by the untrusted CA.
    pub untrusted_client: PathBuf,
    /// `untrusted-client.key`.
    pub untrusted_client_key: PathBuf,
    /// `untrusted-client-fullcert.pem`: PKCS#1 key, untrusted leaf.
    pub untrusted_client_fullcert: PathBuf,
    /// `mismatched-fullcert.pem`: a fresh RSA key, client leaf, intermediate.
    pub mismatched_fullcert: PathBuf,
    /// `codesign-client.pem`: issued by the intermediate, EKU codeSigning only.
    pub codesign_client: PathBuf,
    /// `codesign-client.key`.
    pub codesign_client_key: PathBuf,
    /// `codesign-client-fullcert.pem`: PKCS#1 key, codesign leaf, intermediate.
    pub codesign_client_fullcert: PathBuf,
}

impl Pki {
    /// The paths a test PKI in `dir` has; does not touch the file system.
    pub fn at(dir: &Path) -> Pki {
        let f = |name: &str| dir.join(name);
        Pki {
            dir: dir.to_path_buf(),
            readme: f("README.txt"),
            root_ca: f("root-ca.pem"),
            root_ca_key: f("root-ca.key"),
            intermediate_ca: f("intermediate-ca.pem"),
            intermediate_ca_key: f("intermediate-ca.key"),
            client: f("client.pem"),
            client_key: f("client.key"),
            client_chain: f("client-chain.pem"),
            fullcert: f("fullcert.pem"),
            client_p12: f("client.p12"),
            client_b: f("client-b.pem"),
            client_b_key: f("client-b.key"),
            fullcert_b: f("fullcert-b.pem"),
            client_ec: f("client-ec.pem"),
            client_ec_key: f("client-ec.key"),
            fullcert_ec: f("fullcert-ec.pem"),
            server: f("server.pem"),
            server_key: f("server.key"),
            selfsigned_client: f("selfsigned-client.pem"),
            selfsigned_client_key: f("selfsigned-client.key"),
            selfsigned_client_fullcert: f("selfsigned-client-fullcert.pem"),
            expired_client: f("expired-client.pem"),
            expired_client_key: f("expired-client.key"),
            expired_client_fullcert: f("expired-client-fullcert.pem"),
            untrusted_ca: f("untrusted-ca.pem"),
            untrusted_ca_key: f("untrusted-ca.key"),
            untrusted_client: f("untrusted-client.pem"),
            untrusted_client_key: f("untrusted-client.key"),
            untrusted_client_fullcert: f("untrusted-client-fullcert.pem"),
            mismatched_fullcert: f("mismatched-fullcert.pem"),
            codesign_client: f("codesign-client.pem"),
            codesign_client_key: f("codesign-client.key"),
            codesign_client_fullcert: f("codesign-client-fullcert.pem"),
        }
    }

    /// Every file of the PKI with a one-line description, README last.
    pub fn describe(&self) -> Vec<(PathBuf, &'static str)> {
        FILES
            .iter()
            .map(|&(name, what)| (self.dir.join(name), what))
            .collect()
    }
}

/// File name and description of every file `init` writes, in README order.
#[rustfmt::skip]
const FILES: &[(&str, &str)] = &[
    ("root-ca.pem", "root CA certificate, the only trust anchor (--cacert)"),
    ("root-ca.key", "root CA private key (ECDSA P-256, PKCS#8)"),
    ("intermediate-ca.pem", "issuing CA certificate, signed by the root (pathlen 0)"),
    ("intermediate-ca.key", "issuing CA private key (ECDSA P-256, PKCS#8)"),
    ("client.pem", "client certificate CN=integration.acme.example, O=Acme Test (leaf only)"),
    ("client.key", "client private key (RSA 2048, PKCS#8)"),
    ("client-chain.pem", "client chain without the root (just the issuing CA)"),
    ("fullcert.pem", "curl -E bundle: RSA PRIVATE KEY, client certificate, issuing CA"),
    ("client.p12", "PKCS#12: client key, certificate, issuing CA (password changeit)"),
    ("client-b.pem", "second tenant's client certificate CN=integration.globex.example"),
    ("client-b.key", "second tenant's private key (RSA 2048, PKCS#8)"),
    ("fullcert-b.pem", "second tenant's bundle: RSA PRIVATE KEY, certificate, issuing CA"),
    ("client-ec.pem", "ECDSA P-256 client certificate"),
    ("client-ec.key", "ECDSA client private key (SEC1 EC PRIVATE KEY)"),
    ("fullcert-ec.pem", "ECDSA bundle: EC PRIVATE KEY, certificate, issuing CA"),
    ("server.pem", "server certificate (localhost, 127.0.0.1, ::1), then issuing CA"),
    ("server.key", "server private key (ECDSA P-256, PKCS#8)"),
    ("selfsigned-client.pem", "NEGATIVE: self-signed clientAuth certificate"),
    ("selfsigned-client.key", "NEGATIVE: its private key (RSA 2048, PKCS#8)"),
    ("selfsigned-client-fullcert.pem", "NEGATIVE: RSA PRIVATE KEY, self-signed certificate"),
    ("expired-client.pem", "NEGATIVE: client certificate that expired 30 days ago"),
    ("expired-client.key", "NEGATIVE: its private key (RSA 2048, PKCS#8)"),
    ("expired-client-fullcert.pem", "NEGATIVE: RSA PRIVATE KEY, expired cert, issuing CA"),
    ("untrusted-ca.pem", "NEGATIVE: a root CA nobody trusts (Untrusted Test Root CA)"),
    ("untrusted-ca.key", "NEGATIVE: its private key (ECDSA P-256, PKCS#8)"),
    ("untrusted-client.pem", "NEGATIVE: client certificate issued by the untrusted CA"),
    ("untrusted-client.key", "NEGATIVE: its private key (RSA 2048, PKCS#8)"),
    ("untrusted-client-fullcert.pem", "NEGATIVE: RSA PRIVATE KEY, untrusted certificate"),
    ("mismatched-fullcert.pem", "NEGATIVE: a key that does not match client.pem, client.pem, CA"),
    ("codesign-client.pem", "NEGATIVE: code-signing certificate (EKU codeSigning only)"),
    ("codesign-client.key", "NEGATIVE: its private key (RSA 2048, PKCS#8)"),
    ("codesign-client-fullcert.pem", "NEGATIVE: RSA PRIVATE KEY, code-signing cert, issuing CA"),
    ("README.txt", "this file"),
];

/// Generates a complete test PKI into `dir` (created if missing).
///
/// Refuses, writing nothing, when `dir` already holds any of the PKI's files
/// and `force` is false; with `force` the files are replaced. Private keys
/// are written with mode 0600 on unix.
pub fn init(dir: &Path, force: bool) -> Result<Pki, PkiError> {
    let pki = Pki::at(dir);
    if !force {
        for (file, _) in pki.describe() {
            match fs::symlink_metadata(&file) {
                Ok(_) => {
                    return Err(PkiError::AlreadyExists {
                        dir: dir.to_path_buf(),
                        file,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(io_error("inspect", &file, source)),
            }
        }
    }
    let files = generate::generate()?;
    fs::create_dir_all(dir).map_err(|e| io_error("create directory", dir, e))?;
    for file in &files {
        write_file(&dir.join(file.name), &file.contents, file.private)?;
    }
    write_file(&pki.readme, readme(&pki).as_bytes(), false)?;
    Ok(pki)
}

/// The test PKI already in `dir`; fails naming the first missing file.
pub fn open(dir: &Path) -> Result<Pki, PkiError> {
    let pki = Pki::at(dir);
    for (file, _) in pki.describe() {
        match fs::metadata(&file) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(PkiError::Missing {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PkiError::Missing {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
            Err(source) => return Err(io_error("read", &file, source)),
        }
    }
    Ok(pki)
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> PkiError {
    PkiError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `contents` to `path`, replacing it; `private` files get mode 0600.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), PkiError> {
    let err = |e| io_error("write", path, e);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    #[cfg(unix)]
    if private {
        // `mode` applies only on creation: tighten a file that existed before.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    file.write_all(contents).map_err(err)?;
    file.sync_all().map_err(err)
}

fn readme(pki: &Pki) -> String {
    let mut text = String::from(
        "twoway test PKI: TEST MATERIAL ONLY. Every key here is unprotected and\n\
         must never be trusted outside tests. Recreate with `twoway pki init DIR --force`.\n\n",
    );
    text.push_str("Files:\n");
    for (path, what) in pki.describe() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        text.push_str(&format!("  {name:<32} {what}\n"));
    }
    text.push_str(&format!(
        "\nThe password of client.p12 is `{P12_PASSWORD}`.\n\
         No weak-RSA (1024-bit) client is included: aws-lc-rs cannot generate such keys.\n\n\
         Call the simulator's mutual-auth port the way the article calls Salesforce on 8443\n\
         (run from this directory; getuserinfo.xml holds a SOAP getUserInfo request):\n\n\
         \x20 curl --cacert root-ca.pem -E fullcert.pem https://127.0.0.1:<mutual port>/services/Soap/u/62.0 \\\n\
         \x20     -H \"Content-Type: text/xml; charset=UTF-8\" -H \"SOAPAction: example\" \\\n\
         \x20     -d @getuserinfo.xml\n"
    ));
    text
}
