//! rustls client configs: server verification always on (system roots plus
//! the tenant's extra roots), the tenant's client identity, ALPN, resumption.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

use super::TransportError;
use crate::identity::ClientIdentity;

/// The operating system's trusted roots, read once per process.
pub(crate) fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        if !found.errors.is_empty() {
            tracing::debug!(
                errors = found.errors.len(),
                "some system root certificates could not be read"
            );
        }
        found.certs
    })
}

/// A client config for one tenant. There is no switch that turns server
/// verification off: trust is the system roots plus `extra_roots`.
pub fn client_config(
    identity: Option<&ClientIdentity>,
    extra_roots: &[PathBuf],
) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let mut roots = rustls::RootCertStore::empty();
    let (_added, _ignored) = roots.add_parsable_certificates(system_roots().iter().cloned());
    for path in extra_roots {
        let bad = |reason: String| TransportError::Roots {
            path: path.clone(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let certs = crate::pem::certificates(&bytes).map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE block".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Config(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| TransportError::Config(format!("client identity: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    // Session resumption is on by default (an in-memory cache); ALPN offers h2
    // so that a server that speaks it multiplexes on one connection.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
