//! The identity layer's one error type. Every message names the file and the
//! problem and ends with how to fix it; none holds key bytes or a password.

use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::macros::format_description;

/// "2026-03-01 12:00:00 UTC".
pub fn format_date(date: &OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    date.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| date.to_string())
}

fn others_text(others: usize) -> String {
    match others {
        0 => String::new(),
        1 => " (nor the other certificate in the file)".to_string(),
        n => format!(" (nor any of the {n} other certificates)"),
    }
}

/// Why a client identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{}: cannot read the file ({source}); check the path (relative paths resolve against the config file's folder) and its permissions", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{}: the file is larger than {limit} bytes, too large for a key and certificate chain; check that this is the right file", path.display())]
    TooLarge { path: PathBuf, limit: u64 },

    #[error("{}: malformed PEM: {reason}; the file should hold -----BEGIN ...----- / -----END ...----- blocks as openssl writes them", path.display())]
    MalformedPem { path: PathBuf, reason: String },

    #[error("{}: no private key found ({found}); add the key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) or configure the key file separately", path.display())]
    NoPrivateKey { path: PathBuf, found: String },

    #[error("{}: {count} private keys found ({found}); keep only the key that belongs to the client certificate", path.display())]
    MultipleKeys {
        path: PathBuf,
        count: usize,
        found: String,
    },

    #[error("{}: no certificate found ({found}); add the client certificate (-----BEGIN CERTIFICATE-----) and its intermediate CA certificates", path.display())]
    NoCertificate { path: PathBuf, found: String },

    #[error("{}: the private key does not match certificate '{subject}'{}; use the key the certificate was issued for (compare `openssl x509 -noout -pubkey` with `openssl pkey -pubout`)", path.display(), others_text(*.others))]
    KeyMismatch {
        path: PathBuf,
        /// Subject of the certificate that looks like the leaf.
        subject: String,
        /// How many other certificates were tried.
        others: usize,
    },

    #[error("{}: the private key ({what}) is encrypted, and twoway does not support encrypted PEM keys; decrypt it with `openssl pkey -in {} -out {}.dec` and restrict the file's permissions, or use a PKCS#12 file with a password", path.display(), path.display(), path.display())]
    EncryptedKey { path: PathBuf, what: String },

    #[error("{}: the PKCS#12 file is password protected and no password was given; set the identity's password (password_env or password_file)", path.display())]
    Pkcs12PasswordRequired { path: PathBuf },

    #[error("{}: wrong password for the PKCS#12 file; check the identity's password_env / password_file (test with `openssl pkcs12 -info -noout -in {}`)", path.display(), path.display())]
    Pkcs12WrongPassword { path: PathBuf },

    #[error("{}: not a readable PKCS#12 file ({reason}); export it again, e.g. `openssl pkcs12 -export -inkey KEY -in CERT -certfile CHAIN -out FILE`", path.display())]
    MalformedPkcs12 { path: PathBuf, reason: String },

    #[error("{}: certificate #{index} is not valid X.509 ({reason}); replace it with the certificate as your CA issued it", path.display())]
    InvalidCertificate {
        path: PathBuf,
        /// 1-based position among the file's certificates.
        index: usize,
        reason: String,
    },

    #[error("{}: the private key cannot be read: {reason}; export the key again (`openssl pkey -in KEY -out KEY.pem`)", path.display())]
    InvalidKey { path: PathBuf, reason: String },

    #[error("{}: unsupported key type: {what}; use an RSA (2048 bits or more) or ECDSA P-256/P-384 key", path.display())]
    UnsupportedKey { path: PathBuf, what: String },

    #[error("{}: certificate '{subject}' expired on {} (now {}); renew it with your CA and upload the new certificate to Salesforce", path.display(), format_date(.not_after), format_date(.now))]
    Expired {
        path: PathBuf,
        subject: String,
        not_after: OffsetDateTime,
        now: OffsetDateTime,
    },

    #[error("{}: certificate '{subject}' is not valid before {} (now {}); check the system clock, or wait until then", path.display(), format_date(.not_before), format_date(.now))]
    NotYetValid {
        path: PathBuf,
        subject: String,
        not_before: OffsetDateTime,
        now: OffsetDateTime,
    },

    #[error("{}: certificate '{subject}' is self-signed; Salesforce refuses self-signed client certificates; get one issued by a CA on Salesforce's list", path.display())]
    SelfSignedLeaf { path: PathBuf, subject: String },

    #[error("{}: rustls refused the identity ({reason}); check the key and certificate with `twoway cert check`", path.display())]
    Rejected { path: PathBuf, reason: String },
}

impl IdentityError {
    /// The file the problem is in.
    pub fn path(&self) -> &Path {
        match self {
            IdentityError::Unreadable { path, .. }
            | IdentityError::TooLarge { path, .. }
            | IdentityError::MalformedPem { path, .. }
            | IdentityError::NoPrivateKey { path, .. }
            | IdentityError::MultipleKeys { path, .. }
            | IdentityError::NoCertificate { path, .. }
            | IdentityError::KeyMismatch { path, .. }
            | IdentityError::EncryptedKey { path, .. }
            | IdentityError::Pkcs12PasswordRequired { path }
            | IdentityError::Pkcs12WrongPassword { path }
            | IdentityError::MalformedPkcs12 { path, .. }
            | IdentityError::InvalidCertificate { path, .. }
            | IdentityError::InvalidKey { path, .. }
            | IdentityError::UnsupportedKey { path, .. }
            | IdentityError::Expired { path, .. }
            | IdentityError::NotYetValid { path, .. }
            | IdentityError::SelfSignedLeaf { path, .. }
            | IdentityError::Rejected { path, .. } => path,
        }
    }
}
