//! Who may call: a caller's API key and client certificate checked against
//! one tenant, and the admin token. Keys and tokens are compared as SHA-256
//! digests in constant time (neither their content nor their length shows in
//! the timing), certificates by fingerprint, exact distinguished name or
//! typed SAN. An unknown tenant and refused credentials look the same to the
//! caller, in the answer and in the work done ([`Gate`]); the log says which
//! it was.

use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use sha2::{Digest, Sha256};

use super::TenantRuntime;
use crate::config::CallerPolicy;
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
    /// compared in constant time, and with no keys a decoy is, so an empty
    /// list costs what a list of one does.
    pub fn contains(&self, key: &[u8; 32]) -> bool {
        let decoy = [DECOY_KEY];
        let keys = if self.0.is_empty() {
            &decoy[..]
        } else {
            &self.0
        };
        let found = keys.iter().fold(false, |found, k| {
            work::key_compared();
            found | aws_lc_rs::constant_time::verify_slices_are_equal(k, key).is_ok()
        });
        found && !self.0.is_empty()
    }
}

/// A digest no key has (a SHA-256 preimage of it is not known).
const DECOY_KEY: [u8; 32] = [0x5a; 32];

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

/// What a caller is checked against: a tenant's, or for a tenant that does
/// not exist a decoy's. Every check does the same work whatever fails
/// first: the presented key's digest is compared with every key (at least
/// one), and a presented certificate chain is verified once, against the
/// tenant's `callers.ca` or else the listener's `client_ca` (what the
/// handshake verified it against), so the time of an answer tells neither
/// whether the tenant exists nor which check refused.
pub struct Gate<'a> {
    keys: &'a ApiKeys,
    /// The tenant has API keys: one must be presented.
    needs_key: bool,
    policy: Option<&'a CallerPolicy>,
    /// The tenant's `callers.ca`, when it has one.
    own_ca: Option<&'a dyn ClientCertVerifier>,
    /// The listener's `client_ca`.
    listener_ca: Option<&'a dyn ClientCertVerifier>,
}

impl<'a> Gate<'a> {
    /// The gate of `tenant` on a listener whose client CA is `listener_ca`.
    pub fn of(tenant: &'a TenantRuntime, listener_ca: Option<&'a dyn ClientCertVerifier>) -> Self {
        Self {
            keys: &tenant.api_keys,
            needs_key: !tenant.config.api_keys.is_empty(),
            policy: tenant.config.callers.as_ref(),
            own_ca: tenant.callers_ca.as_deref(),
            listener_ca,
        }
    }

    /// The gate of a tenant that does not exist: it refuses everyone after
    /// the work a tenant with one key and a `callers.ca` does.
    pub fn decoy(listener_ca: Option<&'a dyn ClientCertVerifier>) -> Self {
        static NO_KEYS: ApiKeys = ApiKeys(Vec::new());
        Self {
            keys: &NO_KEYS,
            needs_key: true,
            policy: None,
            own_ca: None,
            listener_ca,
        }
    }

    /// The caller must hold what the tenant asks for: `key` (a key's
    /// digest; `None` when none was presented) one of its API keys when it
    /// has some, and a certificate its caller policy accepts. The error says
    /// why, for the log only.
    pub fn check(&self, key: Option<&[u8; 32]>, caller: &Caller) -> Result<(), &'static str> {
        let key_ok = self.keys.contains(key.unwrap_or(&DECOY_KEY));
        let chain_ok = self.chain_verifies(caller);
        if !self.needs_key && self.policy.is_none() {
            return Err("the tenant has no api_keys and no callers policy, so it accepts no one");
        }
        if self.needs_key && key.is_none() {
            return Err("no API key presented");
        }
        if self.needs_key && !key_ok {
            return Err("the API key is not one of this tenant's");
        }
        if let Some(policy) = self.policy {
            if !chain_ok {
                return Err("the client certificate does not chain to the tenant's callers.ca");
            }
            if !policy.listed(
                caller.fingerprint.as_deref(),
                caller.subject.as_ref(),
                &caller.sans,
            ) {
                return Err(
                    "no client certificate, or one the tenant's callers policy does not list",
                );
            }
        }
        Ok(())
    }

    /// Verifies a presented chain once (against the tenant's own CA, else
    /// the listener's); true when it leads to the tenant's own CA or the
    /// tenant has none (the handshake verified it against the listener's).
    fn chain_verifies(&self, caller: &Caller) -> bool {
        let anchor = self.own_ca.or(self.listener_ca);
        let verified = match (anchor, caller.chain.split_first()) {
            (Some(verifier), Some((leaf, intermediates))) => {
                work::chain_verified();
                verifier
                    .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
                    .is_ok()
            }
            _ => false,
        };
        verified || self.own_ca.is_none()
    }
}

/// The caller of a tenant that does not exist: refused after the work a
/// tenant costs ([`Gate::decoy`]), so the answer's timing does not tell
/// the two apart.
pub fn refuse_unknown(
    listener_ca: Option<&dyn ClientCertVerifier>,
    key: Option<&[u8; 32]>,
    caller: &Caller,
) {
    let refused = Gate::decoy(listener_ca).check(key, caller);
    debug_assert!(refused.is_err());
}

/// The caller of a workflow route against `tenant`: its key comes as
/// `Authorization: Bearer <key>` ([`Gate::check`]).
pub fn authorize(
    tenant: &TenantRuntime,
    listener_ca: Option<&dyn ClientCertVerifier>,
    caller: &Caller,
    headers: &http::HeaderMap,
) -> Result<(), &'static str> {
    let key = bearer(headers).map(key_digest);
    Gate::of(tenant, listener_ca).check(key.as_ref(), caller)
}

/// Counts of the costly steps of a check, per thread, for the tests that
/// show every path does the same work (nothing outside tests).
mod work {
    #[cfg(test)]
    thread_local! {
        pub static DONE: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
    }

    pub fn key_compared() {
        #[cfg(test)]
        DONE.with(|d| d.set((d.get().0 + 1, d.get().1)));
    }

    pub fn chain_verified() {
        #[cfg(test)]
        DONE.with(|d| d.set((d.get().0, d.get().1 + 1)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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

    /// A verifier of chains to the PEM CA at `path`.
    fn verifier(path: &std::path::Path) -> Arc<dyn ClientCertVerifier> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in crate::pem::certificates(&std::fs::read(path).unwrap()).unwrap() {
            roots.add(cert).unwrap();
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .unwrap()
    }

    /// Key comparisons and chain verifications `f` did on this thread.
    fn work_of(f: impl FnOnce()) -> (usize, usize) {
        work::DONE.with(|d| d.set((0, 0)));
        f();
        work::DONE.with(|d| d.get())
    }

    #[test]
    fn an_unknown_tenant_costs_what_a_known_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let pki = twoway_testkit::pki::init(dir.path(), false).unwrap();
        let listener_ca = verifier(&pki.root_ca);
        let own_ca = verifier(&pki.root_ca);
        let chain = crate::pem::certificates(&std::fs::read(&pki.fullcert).unwrap()).unwrap();
        let with_cert = Caller::from_chain(Some(&chain));
        let without_cert = Caller::default();
        let keys = ApiKeys::new(&[Secret::new("the-one-key-of-acme-0123456789ab")]);
        let no_keys = ApiKeys::default();
        let with_ca = CallerPolicy {
            ca: Some(pki.root_ca.clone()),
            fingerprints: vec![],
            subjects: vec![],
            sans: vec![],
        };
        let listed_only = CallerPolicy {
            ca: None,
            ..with_ca.clone()
        };
        let known = [
            // Keys and a callers.ca; keys only; a certificate policy only.
            Gate {
                keys: &keys,
                needs_key: true,
                policy: Some(&with_ca),
                own_ca: Some(own_ca.as_ref()),
                listener_ca: Some(listener_ca.as_ref()),
            },
            Gate {
                keys: &keys,
                needs_key: true,
                policy: None,
                own_ca: None,
                listener_ca: Some(listener_ca.as_ref()),
            },
            Gate {
                keys: &no_keys,
                needs_key: false,
                policy: Some(&listed_only),
                own_ca: None,
                listener_ca: Some(listener_ca.as_ref()),
            },
        ];
        let right = key_digest("the-one-key-of-acme-0123456789ab");
        let wrong = key_digest("a-wrong-key-0123456789abcdefghij");
        for caller in [&with_cert, &without_cert] {
            for key in [Some(&right), Some(&wrong), None] {
                let unknown = work_of(|| refuse_unknown(Some(listener_ca.as_ref()), key, caller));
                assert_eq!(
                    unknown,
                    (1, usize::from(!caller.chain.is_empty())),
                    "one key compared, a presented chain verified once"
                );
                for (i, gate) in known.iter().enumerate() {
                    let mut outcome = Ok(());
                    let done = work_of(|| outcome = gate.check(key, caller));
                    assert_eq!(
                        done,
                        unknown,
                        "tenant {i}, key {key:?}, chain {}: {outcome:?}",
                        !caller.chain.is_empty()
                    );
                }
            }
        }
        // The checks still decide: the right key and certificate pass, the
        // decoy refuses even those.
        assert_eq!(known[0].check(Some(&right), &with_cert), Ok(()));
        assert!(known[0].check(Some(&wrong), &with_cert).is_err());
        assert!(known[0].check(Some(&right), &without_cert).is_err());
        assert_eq!(known[2].check(None, &with_cert), Ok(()));
        assert!(
            Gate::decoy(Some(listener_ca.as_ref()))
                .check(Some(&right), &with_cert)
                .is_err()
        );
        // A chain that does not lead to the tenant's own CA is refused.
        let other = verifier(&pki.untrusted_ca);
        let strict = Gate {
            own_ca: Some(other.as_ref()),
            ..Gate::decoy(None)
        };
        let strict = Gate {
            keys: &keys,
            policy: Some(&with_ca),
            ..strict
        };
        assert_eq!(
            strict.check(Some(&right), &with_cert),
            Err("the client certificate does not chain to the tenant's callers.ca")
        );
    }
}
