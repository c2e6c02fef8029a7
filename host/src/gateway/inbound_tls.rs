//! The callers' listener's TLS (`[server.tls]`): its certificate, key and
//! client CA read into one acceptor per generation. A reload reads the files
//! again; unchanged files keep the acceptor (and its resumption state), a
//! broken one fails the reload so the previous acceptor keeps serving. Each
//! new connection takes the current generation's acceptor, so a rotated
//! certificate serves new handshakes while open connections go on.

use std::path::Path;
use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;
use sha2::{Digest, Sha256};

use super::GatewayError;
use crate::config::ServerTls;
use crate::pem;

/// The listener's TLS as one generation serves it.
pub struct InboundTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// `client_ca` as a verifier: what every caller's chain was verified
    /// against at the handshake (also the decoy anchor of [`super::auth`]).
    pub client_ca: Option<Arc<dyn ClientCertVerifier>>,
    /// SHA-256 over the files' contents, to tell whether a reload changed them.
    files: [u8; 32],
}

impl InboundTls {
    /// Reads `tls`'s files; when they hold what `previous` was built from,
    /// `previous` is kept.
    pub fn load(
        tls: &ServerTls,
        previous: Option<&Arc<InboundTls>>,
    ) -> Result<Arc<InboundTls>, GatewayError> {
        let cert = read(&tls.cert)?;
        let key = read(&tls.key)?;
        let ca = tls.client_ca.as_deref().map(read).transpose()?;
        let mut hash = Sha256::new();
        for part in [Some(&cert), Some(&key), ca.as_ref()] {
            let part = part.map(Vec::as_slice).unwrap_or_default();
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        let files: [u8; 32] = hash.finalize().into();
        if let Some(previous) = previous.filter(|p| p.files == files) {
            return Ok(previous.clone());
        }
        let bad = |path: &Path, e: &dyn std::fmt::Display| {
            GatewayError::Tls(format!("[server.tls] {}: {e}", path.display()))
        };
        let chain = pem::certificates(&cert).map_err(|e| bad(&tls.cert, &e))?;
        let key = pem::private_key(&key).map_err(|e| bad(&tls.key, &e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| GatewayError::Tls(format!("protocol versions: {e}")))?;
        let client_ca = match (&tls.client_ca, &ca) {
            (Some(path), Some(bytes)) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in pem::certificates(bytes).map_err(|e| bad(path, &e))? {
                    roots.add(cert).map_err(|e| bad(path, &e))?;
                }
                // Callers may come with an API key and no certificate;
                // tenants that demand a certificate check it per request.
                let verifier: Arc<dyn ClientCertVerifier> =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider,
                    )
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| bad(path, &e))?;
                Some(verifier)
            }
            _ => None,
        };
        let builder = match &client_ca {
            Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            GatewayError::Tls(format!(
                "[server.tls] {} and {}: {e}",
                tls.cert.display(),
                tls.key.display()
            ))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(InboundTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            client_ca,
            files,
        }))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, GatewayError> {
    std::fs::read(path)
        .map_err(|e| GatewayError::Tls(format!("[server.tls] {}: {e}", path.display())))
}
