//! PKCS#12 identities for the doctor (read with [`source::read_pkcs12`]),
//! and the loader's file errors worded as findings: a message and a fix,
//! never the password.

use super::gather::{Format, Gathered, Inputs, Role};
use twoway::identity::{IdentityError, source};

/// Reads the PKCS#12 IDENTITY with the password given, if any.
pub(super) fn read(g: &mut Gathered, inputs: &Inputs<'_>) {
    let path = inputs.identity;
    g.format = Format::Pkcs12;
    match source::read_pkcs12(path, inputs.password) {
        Ok(material) => {
            g.found.push(format!(
                "{}: PKCS#12, {} certificate bag(s), {} key bag(s)",
                path.display(),
                material.certs.len(),
                material.keys.len()
            ));
            g.notes.extend(material.warnings);
            for (i, (cert, file)) in material.certs.into_iter().enumerate() {
                g.add_cert(
                    cert,
                    &file,
                    format!("certificate bag {}", i + 1),
                    Role::Identity,
                );
            }
            for (key, file, what) in material.keys {
                g.add_key(key, &file, what);
            }
        }
        Err(e) => {
            let (message, fix) = describe_error(&e, inputs.password_env);
            g.error(message, fix);
        }
    }
}

/// A loader error as a finding's message and fix.
pub(super) fn describe_error(e: &IdentityError, password_env: Option<&str>) -> (String, String) {
    let p = e.path().display();
    match e {
        IdentityError::Unreadable { source, .. } => (
            format!("{p}: cannot read the file ({source})"),
            "check the path and the file's permissions".to_string(),
        ),
        IdentityError::TooLarge { limit, .. } => (
            format!("{p}: larger than {limit} bytes, too large for a key and certificate chain"),
            "check that this is the right file".to_string(),
        ),
        IdentityError::Pkcs12PasswordRequired { .. } => (
            format!("{p}: the PKCS#12 file is password protected and no password was given"),
            "pass --password-env VAR, VAR being an environment variable that holds the password"
                .to_string(),
        ),
        IdentityError::Pkcs12WrongPassword { .. } => (
            match password_env {
                Some(var) => format!("{p}: wrong password for the PKCS#12 file (from ${var})"),
                None => format!("{p}: wrong password for the PKCS#12 file"),
            },
            format!("check the password (test it with `openssl pkcs12 -info -noout -in {p}`)"),
        ),
        IdentityError::MalformedPkcs12 { reason, .. } => (
            format!("{p}: not a readable PKCS#12 file ({reason})"),
            "export it again: `openssl pkcs12 -export -inkey KEY -in CERT -certfile CHAIN -out FILE`"
                .to_string(),
        ),
        other => (other.to_string(), "see the message".to_string()),
    }
}
