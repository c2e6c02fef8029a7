//! What a certificate allows (keyUsage, extendedKeyUsage), whom it names
//! (subjectAltName), and the RSA key comparison the doctor falls back to when
//! aws-lc-rs refuses a key (too small to sign with, yet it may still be the
//! certificate's key). x509-parser reads the extensions; nothing here
//! formats key bytes.

use rustls::pki_types::PrivateKeyDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::der::parse_der_sequence;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The keyUsage extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUsageInfo {
    /// Bit names as x509-parser prints them ("Digital Signature", ...).
    pub names: Vec<String>,
    pub digital_signature: bool,
}

/// The extendedKeyUsage extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EkuInfo {
    /// OpenSSL's short names ("clientAuth", "codeSigning", ...), dotted OIDs for others.
    pub names: Vec<String>,
    pub client_auth: bool,
    pub any: bool,
    pub code_signing: bool,
}

/// The usage-related extensions of one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    /// `None`: no keyUsage extension (no restriction).
    pub key_usage: Option<KeyUsageInfo>,
    /// `None`: no extendedKeyUsage extension (any purpose).
    pub eku: Option<EkuInfo>,
    /// subjectAltName entries, OpenSSL style ("DNS:x", "email:y", "IP:z").
    pub san: Vec<String>,
    /// An extension that did not parse (reported, not fatal).
    pub problem: Option<String>,
}

/// Reads the usage extensions of `der`.
pub fn usage(der: &[u8]) -> Usage {
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return Usage {
                problem: Some(e.to_string()),
                ..Usage::default()
            };
        }
    };
    let mut out = Usage::default();
    let mut problems = Vec::new();
    match cert.key_usage() {
        Ok(Some(ku)) => {
            let text = ku.value.to_string();
            out.key_usage = Some(KeyUsageInfo {
                names: text
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                digital_signature: ku.value.digital_signature(),
            });
        }
        Ok(None) => {}
        Err(e) => problems.push(format!("keyUsage: {e}")),
    }
    match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = eku.value;
            let mut names = Vec::new();
            let flags = [
                (e.any, "anyExtendedKeyUsage"),
                (e.server_auth, "serverAuth"),
                (e.client_auth, "clientAuth"),
                (e.code_signing, "codeSigning"),
                (e.email_protection, "emailProtection"),
                (e.time_stamping, "timeStamping"),
                (e.ocsp_signing, "OCSPSigning"),
            ];
            for (set, name) in flags {
                if set {
                    names.push(name.to_string());
                }
            }
            names.extend(e.other.iter().map(|oid| oid.to_id_string()));
            out.eku = Some(EkuInfo {
                names,
                client_auth: e.client_auth,
                any: e.any,
                code_signing: e.code_signing,
            });
        }
        Ok(None) => {}
        Err(e) => problems.push(format!("extendedKeyUsage: {e}")),
    }
    match cert.subject_alternative_name() {
        Ok(Some(san)) => {
            out.san = san.value.general_names.iter().map(general_name).collect();
        }
        Ok(None) => {}
        Err(e) => problems.push(format!("subjectAltName: {e}")),
    }
    if !problems.is_empty() {
        out.problem = Some(problems.join("; "));
    }
    out
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => format!(
                "IP:{}",
                std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
            ),
            16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(bytes);
                format!("IP:{}", std::net::Ipv6Addr::from(octets))
            }
            _ => "IP:(malformed)".to_string(),
        },
        GeneralName::DirectoryName(dn) => format!("DirName:{dn}"),
        other => other.to_string(),
    }
}

/// The modulus of an RSA private key (PKCS#1, or PKCS#8 wrapping PKCS#1),
/// without leading zero bytes.
fn rsa_private_modulus(key: &PrivateKeyDer<'_>) -> Option<Vec<u8>> {
    let pkcs1: &[u8] = match key {
        PrivateKeyDer::Pkcs1(der) => der.secret_pkcs1_der(),
        PrivateKeyDer::Pkcs8(der) => {
            let info = pkcs8::PrivateKeyInfoRef::try_from(der.secret_pkcs8_der()).ok()?;
            info.private_key.as_bytes()
        }
        _ => return None,
    };
    let (_, seq) = parse_der_sequence(pkcs1).ok()?;
    let items = seq.as_sequence().ok()?;
    // RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }
    let modulus = items.get(1)?.as_slice().ok()?;
    Some(strip_zeros(modulus).to_vec())
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Whether the RSA private `key` has the modulus of `cert`'s RSA public key:
/// the comparison used when aws-lc-rs will not load the key (e.g. RSA 1024).
pub fn rsa_key_matches(key: &PrivateKeyDer<'_>, cert: &[u8]) -> bool {
    let Some(private) = rsa_private_modulus(key) else {
        return false;
    };
    let Ok((_, cert)) = X509Certificate::from_der(cert) else {
        return false;
    };
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => strip_zeros(rsa.modulus) == private.as_slice(),
        _ => false,
    }
}
