//! `twoway cert check --connect HOST:PORT`: one real mutual-TLS handshake
//! with the identity (tokio-rustls, aws-lc-rs; the server is verified against
//! the system roots plus `--cacert`, never skipped), recording the CA names
//! the server asks for through a [`ResolvesClientCert`] that writes them
//! down, then the probe request of [`super::probe`] on that connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::sign::CertifiedKey;
use rustls::{ProtocolVersion, SignatureScheme};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::probe;
use super::report::{Check, CheckId, ConnectReport};
use twoway::identity::chain::CertInfo;

/// Each of connect, handshake and answer gets this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What to connect with.
pub struct Probe {
    /// HOST:PORT.
    pub address: String,
    /// Leaf first, then the intermediates (no root).
    pub chain: Vec<CertInfo>,
    /// The leaf's key; `None` when there is no usable one.
    pub key: Option<PrivateKeyDer<'static>>,
    /// Trusted for the server's certificate: system roots plus `--cacert`.
    pub roots: Vec<CertificateDer<'static>>,
}

/// Presents the identity and writes down what the server asked for.
#[derive(Debug)]
struct Recorder {
    identity: Option<Arc<CertifiedKey>>,
    /// `Some` once the server sent a CertificateRequest: its CA names (DER).
    hints: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ResolvesClientCert for Recorder {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        if let Ok(mut hints) = self.hints.lock() {
            *hints = Some(root_hint_subjects.iter().map(|h| h.to_vec()).collect());
        }
        self.identity.clone()
    }

    fn has_certs(&self) -> bool {
        self.identity.is_some()
    }
}

fn split_address(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then(|| (host.to_string(), port))
}

fn name_text(der: &[u8]) -> String {
    match X509Name::from_der(der) {
        Ok((_, name)) => name.to_string(),
        Err(_) => format!("(unreadable name, {} bytes)", der.len()),
    }
}

fn version_text(v: ProtocolVersion) -> String {
    match v {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

/// The rustls error inside an error chain (io::Error, hyper::Error, ...).
pub(super) fn rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(found);
        }
        current = err.source();
    }
    None
}

pub(super) fn alert_text(e: &rustls::Error) -> Option<String> {
    match e {
        rustls::Error::AlertReceived(alert) => Some(format!("TLS alert {alert:?}")),
        _ => None,
    }
}

/// Runs the probe: the connect checks (`tls_handshake`, `server_ca_hints`,
/// `certificate_accepted`) and what was seen.
pub async fn run(probe: Probe) -> (Vec<Check>, ConnectReport) {
    let mut report = ConnectReport {
        address: probe.address.clone(),
        tls_version: None,
        cipher_suite: None,
        client_certificate_requested: false,
        ca_hints: Vec::new(),
        chain_matches_hint: None,
        http_status: None,
        accepted: None,
        rejection_reason: None,
    };
    let mut checks = Vec::new();
    let handshake_failed =
        |message: String, fix: &str| Check::error(CheckId::TlsHandshake, message, fix);

    let Some((host, port)) = split_address(&probe.address) else {
        checks.push(handshake_failed(
            format!("--connect {}: not HOST:PORT", probe.address),
            "give the server as HOST:PORT, e.g. na30.salesforce.com:8443",
        ));
        return (checks, report);
    };
    let Ok(server_name) = ServerName::try_from(host.clone()) else {
        checks.push(handshake_failed(
            format!(
                "--connect {}: '{host}' is not a valid host name",
                probe.address
            ),
            "give the server as HOST:PORT, e.g. na30.salesforce.com:8443",
        ));
        return (checks, report);
    };

    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let der_chain: Vec<CertificateDer<'static>> =
        probe.chain.iter().map(|c| c.der.clone()).collect();
    let mut identity_note = None;
    let identity = match probe.key {
        Some(key) if !der_chain.is_empty() => {
            match CertifiedKey::from_der(der_chain, key, &provider) {
                Ok(certified) => Some(Arc::new(certified)),
                Err(e) => {
                    identity_note = Some(format!(
                        "the identity cannot be presented ({e}), so none was sent"
                    ));
                    None
                }
            }
        }
        _ => {
            identity_note =
                Some("no usable key and certificate, so no certificate was sent".to_string());
            None
        }
    };
    let recorder = Arc::new(Recorder {
        identity,
        hints: Mutex::new(None),
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(probe.roots.iter().cloned());
    let config = match rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .with_root_certificates(roots)
            .with_client_cert_resolver(recorder.clone()),
        Err(e) => {
            checks.push(handshake_failed(
                format!("TLS configuration: {e}"),
                "report this as a bug",
            ));
            return (checks, report);
        }
    };
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let tcp = match tokio::time::timeout(
        TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            checks.push(handshake_failed(
                format!("cannot connect to {}: {e}", probe.address),
                "check host and port (Salesforce's mutual-auth port is 8443) and that nothing blocks the connection",
            ));
            return (checks, report);
        }
        Err(_) => {
            checks.push(handshake_failed(
                format!(
                    "connecting to {} timed out after {TIMEOUT:?}",
                    probe.address
                ),
                "check host and port and that no firewall drops the connection",
            ));
            return (checks, report);
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = tokio::time::timeout(TIMEOUT, connector.connect(server_name, tcp)).await;
    let hints = recorder.hints.lock().map(|h| h.clone()).unwrap_or(None);
    if let Some(hints) = &hints {
        report.client_certificate_requested = true;
        report.ca_hints = hints.iter().map(|h| name_text(h)).collect();
    }
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            let inner = rustls_error(&e);
            let (message, fix) = match inner {
                Some(rustls::Error::InvalidCertificate(reason)) => (
                    format!("the server's certificate is not trusted ({reason:?})"),
                    "pass the server's CA with --cacert CA.pem (server verification is never turned off)",
                ),
                Some(err @ rustls::Error::AlertReceived(_)) => {
                    let alert = alert_text(err).unwrap_or_default();
                    report.accepted = Some(false);
                    report.rejection_reason = Some(alert.clone());
                    (
                        format!("the server ended the handshake with {alert}"),
                        "the server refused the connection or the certificate; see the other checks",
                    )
                }
                _ => (
                    format!("TLS handshake failed: {e}"),
                    "check that HOST:PORT speaks TLS (1.2 or 1.3)",
                ),
            };
            checks.push(handshake_failed(message, fix));
            if let Some(hint_check) = hints_check(&probe.chain, &mut report) {
                checks.push(hint_check);
            }
            if report.accepted == Some(false) {
                checks.push(Check::error(
                    CheckId::CertificateAccepted,
                    format!("rejected during the handshake ({})", report.rejection_reason.clone().unwrap_or_default()),
                    "see chain_complete and server_ca_hints: the server must trust the CA that issued the chain",
                ));
            }
            return (checks, report);
        }
        Err(_) => {
            checks.push(handshake_failed(
                format!(
                    "the TLS handshake with {} timed out after {TIMEOUT:?}",
                    probe.address
                ),
                "check that HOST:PORT speaks TLS",
            ));
            return (checks, report);
        }
    };
    {
        let (_, conn) = tls.get_ref();
        report.tls_version = conn.protocol_version().map(version_text);
        report.cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
    }
    let mut message = format!(
        "{}, {} with {} (server certificate verified)",
        report.tls_version.as_deref().unwrap_or("TLS"),
        report.cipher_suite.as_deref().unwrap_or("unknown cipher"),
        probe.address
    );
    match &identity_note {
        Some(note) => {
            message.push_str(&format!("; {note}"));
            checks.push(Check::error(
                CheckId::TlsHandshake,
                message,
                "fix the key problems above (key_matches_leaf, key_strength) so the identity can be presented",
            ));
        }
        None => checks.push(Check::ok(CheckId::TlsHandshake, message)),
    }
    if let Some(hint_check) = hints_check(&probe.chain, &mut report) {
        checks.push(hint_check);
    }
    checks.push(probe::accepted_check(tls, &host, port, &mut report).await);
    (checks, report)
}

/// The `server_ca_hints` check; `None` when the handshake never got that far
/// and nothing is known.
fn hints_check(chain: &[CertInfo], report: &mut ConnectReport) -> Option<Check> {
    let id = CheckId::ServerCaHints;
    if !report.client_certificate_requested {
        return (report.tls_version.is_some()).then(|| {
            Check::warning(
                id,
                "the server did not ask for a client certificate",
                "connect to the mutual-auth port (8443 on Salesforce), not the standard one",
            )
        });
    }
    if report.ca_hints.is_empty() {
        return Some(Check::ok(
            id,
            "the server asks for a client certificate without naming CAs",
        ));
    }
    let hinted = |name: &str| report.ca_hints.iter().any(|h| h == name);
    let matched = chain.iter().rev().find_map(|c| {
        if hinted(&c.issuer) {
            Some(c.issuer.clone())
        } else if hinted(&c.subject) {
            Some(c.subject.clone())
        } else {
            None
        }
    });
    let names = report
        .ca_hints
        .iter()
        .map(|h| format!("'{h}'"))
        .collect::<Vec<_>>()
        .join(", ");
    report.chain_matches_hint = Some(matched.is_some());
    Some(match matched {
        Some(name) => Check::ok(
            id,
            format!("the server asks for {names}; our chain ends at '{name}'"),
        ),
        None => {
            let top = chain
                .last()
                .map(|c| c.issuer.clone())
                .unwrap_or_else(|| "(nothing)".to_string());
            Check::warning(
                id,
                format!(
                    "the server asks for {names}; our chain ends at '{top}', which it does not name"
                ),
                "use a certificate issued under one of the CAs the server names, and send the full chain up to it",
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            split_address("a.example:8443"),
            Some(("a.example".into(), 8443))
        );
        assert_eq!(split_address("[::1]:443"), Some(("::1".into(), 443)));
        assert_eq!(split_address("a.example"), None);
        assert_eq!(split_address(":443"), None);
        assert_eq!(split_address("a:99999"), None);
    }
}
