//! The two clients of the load generator: a plain-HTTP keep-alive pool
//! (hyper, HTTP/1.1) for the gateway and the simulator's admin port, and
//! twoway's own pooled mutual-TLS [`Transport`] for the direct calls.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use twoway::transport::Transport;

/// A keep-alive HTTP/1.1 pool of up to `max_idle` connections per host.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(max_idle: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self { client }
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: http::Request<Bytes>) -> anyhow::Result<(u16, Bytes)> {
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .request(http::Request::from_parts(parts, Full::new(body)))
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn get(&self, url: &str) -> anyhow::Result<(u16, Bytes)> {
        self.send(http::Request::get(url).body(Bytes::new())?).await
    }

    pub async fn post(&self, url: &str) -> anyhow::Result<(u16, Bytes)> {
        self.send(http::Request::post(url).body(Bytes::new())?)
            .await
    }

    /// GET or POST on the simulator's admin port, answered with JSON.
    pub async fn admin_json(&self, method: &str, url: &str) -> anyhow::Result<serde_json::Value> {
        let (status, body) = match method {
            "POST" => self.post(url).await?,
            _ => self.get(url).await?,
        };
        anyhow::ensure!(status == 200, "{method} {url}: {status}");
        Ok(serde_json::from_slice(&body)?)
    }
}

/// One kind of request the load generator repeats.
#[derive(Clone)]
pub enum Target {
    /// twoway's Transport straight to the simulator's mutual-auth port.
    Direct {
        transport: Transport,
        uri: http::Uri,
        body: Bytes,
    },
    /// The gateway over plain HTTP.
    Gateway {
        http: Http,
        method: http::Method,
        uri: http::Uri,
        body: Bytes,
        /// A fragment every good answer contains.
        expect: &'static str,
    },
    /// A plain reverse proxy (nginx, the floor) over plain HTTP: the
    /// getUserInfo envelope with the caller's own SessionHeader, no API key.
    Proxy {
        http: Http,
        uri: http::Uri,
        body: Bytes,
    },
}

/// SOAP requests carry these; the simulator and Salesforce accept any SOAPAction.
const CONTENT_TYPE: &str = "text/xml; charset=UTF-8";

impl Target {
    /// Sends one request; Ok(true) for a 200 whose body looks right.
    pub async fn once(&self) -> anyhow::Result<bool> {
        match self {
            Self::Direct {
                transport,
                uri,
                body,
            } => {
                let request = http::Request::post(uri.clone())
                    .header("content-type", CONTENT_TYPE)
                    .header("soapaction", "\"\"")
                    .body(body.clone())?;
                let reply = transport.send(request).await?;
                Ok(reply.status == 200 && contains(&reply.body, "getUserInfoResponse"))
            }
            Self::Gateway {
                http,
                method,
                uri,
                body,
                expect,
            } => {
                let request = http::Request::builder()
                    .method(method.clone())
                    .uri(uri.clone())
                    .header(
                        "authorization",
                        format!("Bearer {}", crate::gateway::API_KEY),
                    )
                    .header("content-type", CONTENT_TYPE)
                    .header("soapaction", "\"\"")
                    .body(body.clone())?;
                let (status, body) = http.send(request).await?;
                Ok(status == 200 && contains(&body, expect))
            }
            Self::Proxy { http, uri, body } => {
                let request = http::Request::post(uri.clone())
                    .header("content-type", CONTENT_TYPE)
                    .header("soapaction", "\"\"")
                    .body(body.clone())?;
                let (status, body) = http.send(request).await?;
                Ok(status == 200 && contains(&body, "getUserInfoResponse"))
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}
