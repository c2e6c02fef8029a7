//! Who may call: a caller's API key and client certificate checked against
//! one tenant, and the admin token. Keys and tokens are compared as SHA-256
//! digests in constant time (neither their content nor their length shows in
//! the timing), certificates by fingerprint, exact distinguished name or
//! typed SAN. An unknown tenant and refused credentials look the same to the
//! caller; the log says which it was.

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};

use super::TenantRuntime;
use crate::config::names::{DistinguishedName, SubjectAltName};
use crate::secret::Secret;

/// What every refused caller reads, whatever the reason: it does not tell
/// whether the tenant exists.
pub const REFUSED: &str = "no tenant of this name accepts these credentials: send one of the tenant's API keys as `Authorization: Bearer <key>` and/or present one of its client certificates";

/// What the inbound TLS layer learned of the caller's certificate.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// SHA-256 of the verified leaf, uppercase hex with colons.
    pub fingerprint: Option<String>,
    /// The leaf's subject, parsed.
    pub subject: Option<DistinguishedName>,
    /// The leaf's DNS, URI, email and IP SANs.
    pub sans: Vec<SubjectAltName>,
    /// The chain the caller presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

impl Caller {
    /// The facts of a certificate chain the listener verified (leaf first).
    pub fn from_chain(certs: Option<&[CertificateDer<'static>]>) -> Self {
        let Some(leaf) = certs.and_then(|c| c.first()) else {
            return Self::default();
        };
        let fingerprint = Sha256::digest(leaf.as_ref())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let (subject, sans) = match x509_parser::parse_x509_certificate(leaf) {
            Ok((_, cert)) => {
                let sans = cert
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|ext| {
                        ext.value
                            .general_names
                            .iter()
                            .filter_map(SubjectAltName::from_general_name)
                            .collect()
                    })
                    .unwrap_or_default();
                (Some(DistinguishedName::from_x509(cert.subject())), sans)
            }
            Err(_) => (None, Vec::new()),
        };
        Self {
            fingerprint: Some(fingerprint),
            subject,
            sans,
            chain: certs.map(<[_]>::to_vec).unwrap_or_default(),
        }
    }
}

/// A tenant's API keys as SHA-256 digests.
#[derive(Default)]
pub struct ApiKeys(Vec<[u8; 32]>);

impl ApiKeys {
    /// Digests of `keys`.
    pub fn new(keys: &[Secret]) -> Self {
        Self(keys.iter().map(|k| digest(k.expose().as_bytes())).collect())
    }

    /// True when `presented` is one of the keys. Every key is compared, in
    /// constant time, whatever matched before.
    pub fn matches(&self, presented: &str) -> bool {
        self.contains(&digest(presented.as_bytes()))
    }

    /// True when `key` (a key's SHA-256) is one of the keys; every key is
    /// compared in constant time.
    pub fn contains(&self, key: &[u8; 32]) -> bool {
        self.0.iter().fold(false, |found, k| {
            found | aws_lc_rs::constant_time::verify_slices_are_equal(k, key).is_ok()
        })
    }
}

/// SHA-256 of an API key, as [`ApiKeys::contains`] takes it.
pub fn key_digest(key: &str) -> [u8; 32] {
    digest(key.as_bytes())
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// True when the request carries `token` as its bearer token (digests
/// compared in constant time).
pub fn bearer_is(headers: &http::HeaderMap, token: &Secret) -> bool {
    let presented = digest(bearer(headers).unwrap_or("").as_bytes());
    let expected = digest(token.expose().as_bytes());
    aws_lc_rs::constant_time::verify_slices_are_equal(&presented, &expected).is_ok()
}

/// Does for a request to an unknown tenant the work a known one costs, so
/// the answer's timing does not tell the two apart.
pub fn refuse_unknown(headers: &http::HeaderMap) {
    let _ = ApiKeys(vec![[0; 32]]).matches(bearer(headers).unwrap_or(""));
}

/// The caller must hold what the tenant asks for: one of its API keys and/or
/// a certificate its caller policy accepts. Never another tenant's. The
/// error says why, for the log only.
pub fn authorize(
    tenant: &TenantRuntime,
    caller: &Caller,
    headers: &http::HeaderMap,
) -> Result<(), &'static str> {
    let config = &tenant.config;
    if config.api_keys.is_empty() && config.callers.is_none() {
        return Err("the tenant has no api_keys and no callers policy, so it accepts no one");
    }
    if !config.api_keys.is_empty() {
        let Some(presented) = bearer(headers) else {
            return Err("no Authorization: Bearer API key");
        };
        if !tenant.api_keys.matches(presented) {
            return Err("the API key is not one of this tenant's");
        }
    }
    certificate_allowed(tenant, caller)
}

/// The caller's certificate against the tenant's `callers` policy (none:
/// any caller). The error says why, for the log only.
pub fn certificate_allowed(tenant: &TenantRuntime, caller: &Caller) -> Result<(), &'static str> {
    if let Some(policy) = &tenant.config.callers {
        let from_tenant_ca = match &tenant.callers_ca {
            Some(verifier) => caller
                .chain
                .split_first()
                .is_some_and(|(leaf, intermediates)| {
                    verifier
                        .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
                        .is_ok()
                }),
            None => true,
        };
        if !from_tenant_ca {
            return Err("the client certificate does not chain to the tenant's callers.ca");
        }
        if !policy.listed(
            caller.fingerprint.as_deref(),
            caller.subject.as_ref(),
            &caller.sans,
        ) {
            return Err("no client certificate, or one the tenant's callers policy does not list");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_by_digest_whatever_their_length() {
        let keys = ApiKeys::new(&[Secret::new("first-key"), Secret::new("k2")]);
        assert!(keys.matches("first-key"));
        assert!(keys.matches("k2"));
        for wrong in [
            "",
            "k",
            "first-key ",
            "first-keyX",
            "K2",
            &"x".repeat(10_000),
        ] {
            assert!(!keys.matches(wrong), "{wrong:?}");
        }
        assert!(!ApiKeys::default().matches(""));
    }

    #[test]
    fn bearer_tokens() {
        let token = Secret::new("admin-token-0123456789");
        let mut headers = http::HeaderMap::new();
        assert!(!bearer_is(&headers, &token));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer admin-token-0123456789".parse().unwrap(),
        );
        assert!(bearer_is(&headers, &token));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer admin-token-012345678".parse().unwrap(),
        );
        assert!(!bearer_is(&headers, &token));
        headers.insert(
            http::header::AUTHORIZATION,
            "Basic admin-token-0123456789".parse().unwrap(),
        );
        assert!(!bearer_is(&headers, &token));
    }
}
