//! Sockets and TLS of the simulator: three HTTPS listeners (login, standard,
//! mutual-auth) and the plain-HTTP admin listener, each connection served by
//! hyper, and the post-handshake check of the client certificate.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use twoway::pem;

use super::answer::Answer;
use super::config::{SimConfig, read_cert_der};
use super::reply::Reply;
use super::state::State;
use super::{Call, Ctx, Endpoints, Port, SimError, admin, dispatch, soap};

/// What the mutual-auth port learned of the caller's certificate.
#[derive(Debug, Clone)]
pub enum CertStatus {
    /// No certificate was sent.
    Missing,
    /// A certificate was sent but does not chain to a trusted CA; the reason
    /// is worded as OpenSSL words it ("unable to get local issuer certificate").
    Rejected { reason: String },
    /// The chain is trusted; `leaf` is the DER the org registration is checked against.
    Trusted { leaf: Vec<u8> },
}

/// A running simulator. Dropping it stops every listener.
pub struct Sim {
    ctx: Arc<Ctx>,
    shutdown: watch::Sender<bool>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Sim {
    /// Binds every port, then serves in the background until dropped.
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = read_chain(&config.tls.server_cert)?;
        let key_bad = |e: &dyn std::fmt::Display| SimError::Certificate {
            path: config.tls.server_key.clone(),
            problem: format!("no usable private key: {e}"),
        };
        let key = std::fs::read(&config.tls.server_key)
            .map_err(|e| key_bad(&e))
            .and_then(|bytes| pem::private_key(&bytes).map_err(|e| key_bad(&e)))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_chain(&config.tls.client_ca)? {
            roots.add(cert).map_err(|e| SimError::Certificate {
                path: config.tls.client_ca.clone(),
                problem: e.to_string(),
            })?;
        }
        let client_verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| SimError::Tls(e.to_string()))?;
        let plain = server_config(&provider, chain.clone(), key.clone_key(), None)?;
        let mutual = server_config(
            &provider,
            chain,
            key,
            Some(Arc::new(OptionalClientCert {
                inner: client_verifier.clone(),
            })),
        )?;

        let host = config.listen.host;
        let bind = |port: u16| async move {
            let addr = SocketAddr::new(host, port);
            TcpListener::bind(addr)
                .await
                .map_err(|source| SimError::Bind { addr, source })
        };
        let login = bind(config.listen.login_port).await?;
        let standard = bind(config.listen.standard_port).await?;
        let mutual_listener = bind(config.listen.mutual_port).await?;
        let admin_listener = bind(config.listen.admin_port).await?;
        let local = |l: &TcpListener| l.local_addr().map_err(|e| SimError::Tls(e.to_string()));
        let endpoints = Endpoints {
            login: local(&login)?,
            standard: local(&standard)?,
            mutual: local(&mutual_listener)?,
            admin: local(&admin_listener)?,
        };

        let mut registered = HashMap::new();
        let mut jwt_keys = HashMap::new();
        for org in &config.orgs {
            let certs = org
                .certificate_files
                .iter()
                .map(|p| read_cert_der(p))
                .collect::<Result<Vec<_>, _>>()?;
            registered.insert(org.id.clone(), certs);
            for app in &org.connected_apps {
                if let Some(path) = &app.certificate_file {
                    jwt_keys.insert(app.client_id.clone(), jwt_key(path)?);
                }
            }
        }
        let ctx = Arc::new(Ctx {
            state: State::new(config),
            endpoints,
            registered,
            jwt_keys,
        });
        let (shutdown, stop) = watch::channel(false);
        let serve = |listener, port, config, counter, verifier| {
            tokio::spawn(accept_loop(
                listener,
                port,
                TlsAcceptor::from(config),
                ctx.clone(),
                counter,
                verifier,
                stop.clone(),
            ))
        };
        serve(login, Port::Login, plain.clone(), Counter::Login, None);
        serve(standard, Port::Standard, plain, Counter::Standard, None);
        serve(
            mutual_listener,
            Port::Mutual,
            mutual,
            Counter::Mutual,
            Some(client_verifier),
        );
        tokio::spawn(admin::serve(admin_listener, ctx.clone(), stop));
        tracing::info!(login = %endpoints.login, standard = %endpoints.standard, mutual = %endpoints.mutual, admin = %endpoints.admin, "simulator listening");
        Ok(Self { ctx, shutdown })
    }

    /// Where the simulator listens.
    pub fn endpoints(&self) -> Endpoints {
        self.ctx.endpoints
    }

    /// The simulator's state (counters, sessions), for in-process tests.
    pub fn state(&self) -> &State {
        &self.ctx.state
    }

    /// Resolves when the simulator is stopped (never, for `twoway sim`).
    pub async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

fn read_chain(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, SimError> {
    let bad = |problem: String| SimError::Certificate {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        bad(format!(
            "{e} (run `twoway pki init` to make the simulator's certificates)"
        ))
    })?;
    let chain = pem::certificates(&bytes).map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no CERTIFICATE block".into()));
    }
    Ok(chain)
}

fn jwt_key(path: &std::path::Path) -> Result<jsonwebtoken::DecodingKey, SimError> {
    let der = read_cert_der(path)?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| SimError::Certificate {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
    Ok(jsonwebtoken::DecodingKey::from_rsa_der(
        &cert.tbs_certificate.subject_pki.subject_public_key.data,
    ))
}

fn server_config(
    provider: &Arc<rustls::crypto::CryptoProvider>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_auth: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, SimError> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?;
    let builder = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| SimError::Tls(format!("server certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[derive(Clone, Copy)]
enum Counter {
    Login,
    Standard,
    Mutual,
}

impl Counter {
    fn of(self, state: &State) -> &AtomicU64 {
        let c = &state.counters;
        match self {
            Self::Login => &c.handshakes_login,
            Self::Standard => &c.handshakes_standard,
            Self::Mutual => &c.handshakes_mutual,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    port: Port,
    acceptor: TlsAcceptor,
    ctx: Arc<Ctx>,
    counter: Counter,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let (acceptor, ctx, verifier, mut stop) = (
            acceptor.clone(),
            ctx.clone(),
            verifier.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            counter.of(&ctx.state).fetch_add(1, Ordering::Relaxed);
            let cert = match &verifier {
                Some(v) => check_client_chain(v.as_ref(), tls.get_ref().1.peer_certificates()),
                None => CertStatus::Missing,
            };
            let cert = Arc::new(cert);
            let service = service_fn(move |req| {
                let (ctx, cert) = (ctx.clone(), cert.clone());
                async move { Ok::<_, Infallible>(handle(&ctx, port, &cert, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                result = conn => if let Err(e) = result { tracing::debug!(%peer, error = %e, "connection ended") },
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

async fn handle(
    ctx: &Ctx,
    port: Port,
    cert: &CertStatus,
    req: Request<Incoming>,
) -> Response<Answer> {
    let (parts, body) = req.into_parts();
    let delay = ctx.state.config.limits.login_delay_ms;
    if port == Port::Login && delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let path = parts.uri.path().to_string();
    let limits = &ctx.state.config.limits;
    let limit = if is_bulk_upload(&parts.method, &path) {
        limits.max_bulk_upload_mb << 20
    } else {
        limits.max_body_kb * 1024
    };
    let gzip = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let collected = match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            // An empty body is empty whatever it says (WSC's Bulk GETs say gzip).
            if gzip && !bytes.is_empty() {
                gunzip(&bytes, limit, &path)
            } else {
                Ok(bytes)
            }
        }
        Err(_) => Err(too_large(&path, limit)),
    };
    let reply = match collected {
        Ok(body) => {
            let call = Call {
                ctx,
                port,
                cert,
                method: parts.method.clone(),
                path: path.clone(),
                query: parts.uri.query().unwrap_or("").to_string(),
                headers: &parts.headers,
                body,
            };
            dispatch(&call)
        }
        Err(reply) => reply,
    };
    tracing::debug!(?port, method = %parts.method, %path, status = reply.status, "simulator request");
    // Bulk results and large answers go chunked, as Salesforce sends them.
    let chunked = limits.chunked_answers
        && (reply.bulk_result || reply.body.len() > limits.chunked_over_kb * 1024);
    let response = if twoway::transport::accepts_gzip(&parts.headers) && !reply.body.is_empty() {
        gzipped(reply)
    } else {
        into_response(reply)
    };
    response.map(|body| match chunked {
        true => Answer::chunked(body),
        false => Answer::whole(body),
    })
}

/// `reply` as a `Content-Encoding: gzip` answer.
fn gzipped(mut reply: Reply) -> Response<Bytes> {
    use std::io::Write;
    let body = std::mem::take(&mut reply.body);
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    let compressed = encoder
        .write_all(body.as_bytes())
        .and_then(|()| encoder.finish());
    let Ok(compressed) = compressed else {
        reply.body = body;
        return into_response(reply);
    };
    let mut response = into_response(reply);
    response.headers_mut().insert(
        http::header::CONTENT_ENCODING,
        http::HeaderValue::from_static("gzip"),
    );
    response.headers_mut().insert(
        http::header::VARY,
        http::HeaderValue::from_static("Accept-Encoding"),
    );
    *response.body_mut() = Bytes::from(compressed);
    response
}

/// A Bulk data upload: a Bulk 1.0 batch, or Bulk 2.0 job data.
fn is_bulk_upload(method: &http::Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    (method == http::Method::POST
        && path.starts_with("/services/async/")
        && path.ends_with("/batch"))
        || (method == http::Method::PUT
            && path.starts_with("/services/data/")
            && path.contains("/jobs/ingest/")
            && path.ends_with("/batches"))
}

/// A `Content-Encoding: gzip` body decoded (as Salesforce accepts them),
/// at most `limit` bytes decoded.
fn gunzip(body: &[u8], limit: usize, path: &str) -> Result<Bytes, Reply> {
    use std::io::Read;
    let mut out = Vec::new();
    let decoder = flate2::read::MultiGzDecoder::new(body);
    match decoder.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(n) if n > limit => Err(too_large(path, limit)),
        Ok(_) => Ok(Bytes::from(out)),
        Err(e) => Err(Reply::rest_error(
            400,
            "INVALID_REQUEST",
            &format!("The request body is not valid gzip: {e}"),
        )),
    }
}

fn too_large(path: &str, limit: usize) -> Reply {
    let message = format!(
        "Request body exceeds the simulator's limit of {} KiB",
        limit / 1024
    );
    let mut reply = if path.starts_with("/services/Soap/") {
        soap::client_fault(&message)
    } else {
        Reply::rest_error(413, "REQUEST_TOO_LARGE", &message)
    };
    reply.status = 413;
    reply
}

/// Turns a [`Reply`] into a response (its body still to be framed).
pub fn into_response(reply: Reply) -> Response<Bytes> {
    let mut builder = Response::builder().status(reply.status);
    if !reply.content_type.is_empty() {
        builder = builder.header(http::header::CONTENT_TYPE, reply.content_type);
    }
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Bytes::from(reply.body))
        .unwrap_or_else(|_| Response::new(Bytes::from_static(b"internal error")))
}

/// Lets every handshake finish (possession of the key is still proven by the
/// handshake signature), so that the API can answer a bad certificate with
/// Salesforce's HTML page instead of a TLS alert.
#[derive(Debug)]
struct OptionalClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for OptionalClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies the chain a client presented, after the handshake.
fn check_client_chain(
    verifier: &dyn ClientCertVerifier,
    chain: Option<&[CertificateDer<'static>]>,
) -> CertStatus {
    let Some((leaf, intermediates)) = chain.and_then(|c| c.split_first()) else {
        return CertStatus::Missing;
    };
    match verifier.verify_client_cert(leaf, intermediates, UnixTime::now()) {
        Ok(_) => CertStatus::Trusted {
            leaf: leaf.to_vec(),
        },
        Err(e) => CertStatus::Rejected {
            reason: openssl_reason(&e, leaf).to_string(),
        },
    }
}

/// The verification failure as OpenSSL (and so Salesforce's page) words it.
fn openssl_reason(error: &rustls::Error, leaf: &CertificateDer<'_>) -> &'static str {
    let rustls::Error::InvalidCertificate(e) = error else {
        return "certificate verify failed";
    };
    match e {
        CertificateError::UnknownIssuer if is_self_signed(leaf) => "self-signed certificate",
        CertificateError::UnknownIssuer => "unable to get local issuer certificate",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not yet valid"
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "unsupported certificate purpose"
        }
        CertificateError::BadSignature => "certificate signature failure",
        CertificateError::Revoked => "certificate revoked",
        _ => "certificate verify failed",
    }
}

fn is_self_signed(leaf: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(leaf)
        .map(|(_, cert)| cert.issuer() == cert.subject())
        .unwrap_or(false)
}
