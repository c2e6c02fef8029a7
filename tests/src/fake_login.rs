//! A login service that misbehaves on purpose, on loopback with the test
//! PKI's server certificate: it hangs, or answers whatever it is told after
//! a delay, recording when connections, requests and answers happen.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use crate::pki;

/// How the fake login service treats a connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Completes the TLS handshake, reads the request, never answers.
    Hang,
    /// Answers every request with `status` and `body` after `delay`.
    Answer {
        delay: Duration,
        status: u16,
        body: String,
    },
}

/// A TLS login service on loopback (the test PKI's server certificate),
/// recording when connections and requests arrive and answers leave.
pub struct FakeLogin {
    pub url: String,
    connections: Arc<Mutex<Vec<Instant>>>,
    requests: Arc<Mutex<Vec<Instant>>>,
    answers: Arc<Mutex<Vec<Instant>>>,
}

impl FakeLogin {
    /// Serves `behaviour` on an ephemeral loopback port.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let acceptor = tokio_rustls::TlsAcceptor::from(server_tls());
        let fake = Self {
            url,
            connections: Arc::default(),
            requests: Arc::default(),
            answers: Arc::default(),
        };
        let (connections, requests, answers) = (
            fake.connections.clone(),
            fake.requests.clone(),
            fake.answers.clone(),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                connections.lock().unwrap().push(Instant::now());
                let acceptor = acceptor.clone();
                let behaviour = behaviour.clone();
                let (requests, answers) = (requests.clone(), answers.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    match behaviour {
                        Behaviour::Hang => {
                            let mut buf = [0u8; 4096];
                            while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
                        }
                        Behaviour::Answer {
                            delay,
                            status,
                            body,
                        } => {
                            let service = hyper::service::service_fn(move |_request| {
                                let (requests, answers, body) =
                                    (requests.clone(), answers.clone(), body.clone());
                                async move {
                                    requests.lock().unwrap().push(Instant::now());
                                    tokio::time::sleep(delay).await;
                                    answers.lock().unwrap().push(Instant::now());
                                    Ok::<_, Infallible>(
                                        http::Response::builder()
                                            .status(status)
                                            .header("content-type", "text/xml; charset=utf-8")
                                            .body(Full::new(Bytes::from(body)))
                                            .expect("response"),
                                    )
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tls), service)
                                .await;
                        }
                    }
                });
            }
        });
        fake
    }

    /// When each connection arrived.
    pub fn connections(&self) -> Vec<Instant> {
        self.connections.lock().unwrap().clone()
    }

    /// When each request arrived.
    pub fn requests(&self) -> Vec<Instant> {
        self.requests.lock().unwrap().clone()
    }

    /// When each answer left.
    pub fn answers(&self) -> Vec<Instant> {
        self.answers.lock().unwrap().clone()
    }
}

/// The test PKI's server certificate (trusted through its root CA).
pub fn server_tls() -> Arc<rustls::ServerConfig> {
    let chain = crate::files::certificates(&pki().server);
    let key = crate::files::private_key(&pki().server_key);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
