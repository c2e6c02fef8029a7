//! Test support shared by the end-to-end tests: one test PKI per test
//! binary, a simulator on ephemeral loopback ports, and a small HTTPS client
//! that can present a client certificate (one connection per request).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use twoway_sim::{Sim, SimConfig};
use twoway_testkit::pki::Pki;

pub mod browser;
pub mod clients;
pub mod fake_login;
pub mod files;
pub mod fleet;
pub mod front_door;
pub mod gateway;
pub mod guest_cargo;
pub mod process;
pub mod redis_server;

/// Paths of the components built from plugins/ by build.rs.
pub mod plugins {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// The test PKI, generated once per test binary into a temporary directory
/// that lives as long as the process.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<(tempfile::TempDir, Pki)> = OnceLock::new();
    &PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let pki = twoway_testkit::pki::init(dir.path(), false).expect("test PKI");
        (dir, pki)
    })
    .1
}

/// The built-in simulator configuration over the test PKI.
pub fn sim_config() -> SimConfig {
    SimConfig::defaults(&pki().dir).expect("built-in simulator config")
}

/// A simulator with the built-in configuration.
pub async fn start_sim() -> Sim {
    start_sim_with(|_| {}).await
}

/// A simulator with the built-in configuration, changed by `edit` first.
pub async fn start_sim_with(edit: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut config = sim_config();
    edit(&mut config);
    Sim::start(config).await.expect("simulator starts")
}

/// A loopback port nothing listens on: bound to an ephemeral port, then
/// released.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

/// The seed's SOAP login request.
pub fn login_envelope(username: &str, password: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>{username}</n1:username><n1:password>{password}</n1:password></n1:login></env:Body>
</env:Envelope>"#
    )
}

/// A partner API envelope with a SessionHeader and `body` as the operation.
pub fn api_envelope(session_id: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com">
  <soapenv:Header><urn:SessionHeader><urn:sessionId>{session_id}</urn:sessionId></urn:SessionHeader></soapenv:Header>
  <soapenv:Body>{body}</soapenv:Body>
</soapenv:Envelope>"#
    )
}

/// The seed's getUserInfo request.
pub fn get_user_info_envelope(session_id: &str) -> String {
    api_envelope(session_id, "<urn:getUserInfo />")
}

/// The text of the first `<name>` element in `xml`.
pub fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find('<')? + start;
    Some(xml[start..end].to_string())
}

/// The local names of the child elements of the first element named `parent`
/// (in any namespace); panics when `xml` is not well-formed.
pub fn child_names(xml: &str, parent: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("XML ({e}): {xml}"));
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == parent)
        .unwrap_or_else(|| panic!("no <{parent}> in {xml}"));
    node.children()
        .filter(|c| c.is_element())
        .map(|c| c.tag_name().name().to_string())
        .collect()
}

/// Every text of elements named `name` (local name, any namespace), in order.
pub fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("XML ({e}): {xml}"));
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// The acme integration user (enforced mutual auth) and its password + token.
pub const ACME_USER: &str = "integration@acme.example";
pub const ACME_PASSWORD: &str = "acme-passwordACMETOKEN";
/// Acme's org id (15 characters).
pub const ACME_ORG: &str = "00D5g000004Acme";
/// An ordinary API user of Acme (not enforced, no security token).
pub const ANALYST_USER: &str = "analyst@acme.example";
pub const ANALYST_PASSWORD: &str = "analyst-password";
/// The Globex integration user (enforced; registered certificate client-b.pem).
pub const GLOBEX_USER: &str = "integration@globex.example";
pub const GLOBEX_PASSWORD: &str = "globex-password";
/// Globex's org id.
pub const GLOBEX_ORG: &str = "00D5g000004Glbx";
/// The names of Acme's seeded accounts, in the order a query returns them.
pub const ACME_ACCOUNTS: [&str; 3] = [
    "Acme Corporation",
    "Road Runner Logistics",
    "Coyote Engineering",
];

/// The mutual-auth port's HTML page with `reason`, byte for byte.
pub fn certificate_error_page(reason: &str) -> String {
    format!(
        "<html><head><title>Certificate Error</title></head><body bgcolor=#ffffff text=#3198d8><center><img src=\"http://www.sfdcstatic.com/common/assets/img/logo-company.png\"><p><h3>Client certificate error:<i>{reason}</i></h3></center></body></html>"
    )
}

/// A partner SOAP fault as Salesforce writes INVALID_LOGIN and
/// MUTUAL_AUTHENTICATION_FAILED: `sf:` faultcode, `CODE: message`, typed detail.
pub fn partner_fault(code: &str, detail_type: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail><sf:{detail_type} xsi:type="sf:{detail_type}"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:{detail_type}></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    )
}

/// The `soapenv:Client` fault without detail ("Premature end of file.").
pub fn client_fault(message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{message}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    )
}

/// The INVALID_SESSION_ID fault of the SOAP API.
pub fn invalid_session_fault() -> String {
    partner_fault(
        "INVALID_SESSION_ID",
        "UnexpectedErrorFault",
        "Invalid Session ID found in SessionHeader: Illegal Session",
    )
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Response {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.body))
    }
}

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub enum SendError {
    /// The TCP connection failed.
    Connect(std::io::Error),
    /// The TLS handshake failed (as the client saw it).
    Tls(std::io::Error),
    /// The connection broke before a whole answer arrived (e.g. a TLS alert
    /// the server sent after the client considered the handshake done).
    Http(hyper::Error),
}

/// An HTTPS client that trusts the test root and may present an identity.
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in files::certificates(&pki().root_ca) {
        roots.add(cert).expect("root CA");
    }
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
}

impl Client {
    /// A client without a client certificate.
    pub fn anonymous() -> Self {
        Self::from_config(tls_builder().with_no_client_auth())
    }

    /// A client presenting the combined PEM (key, certificate, chain) at `fullcert`.
    pub fn with_identity(fullcert: &Path) -> Self {
        Self::try_with_identity(fullcert).expect("client identity")
    }

    /// Like [`Client::with_identity`], but a key that does not match its
    /// certificate is an error (rustls checks) rather than a panic.
    pub fn try_with_identity(fullcert: &Path) -> Result<Self, rustls::Error> {
        let config = tls_builder()
            .with_client_auth_cert(files::certificates(fullcert), files::private_key(fullcert))?;
        Ok(Self::from_config(config))
    }

    /// A client presenting exactly the certificates in `certs` (e.g. a leaf
    /// without its intermediate) with the key in `key`.
    pub fn with_cert_and_key(certs: &Path, key: &Path) -> Self {
        Self::try_from_parts(certs, key).expect("client identity")
    }

    fn try_from_parts(certs: &Path, key: &Path) -> Result<Self, rustls::Error> {
        let config = tls_builder()
            .with_client_auth_cert(files::certificates(certs), files::private_key(key))?;
        Ok(Self::from_config(config))
    }

    /// A client presenting `fullcert` without checking that its key matches
    /// its certificate, so that the server, not rustls, has to notice.
    pub fn with_unchecked_identity(fullcert: &Path) -> Self {
        let key = provider()
            .key_provider
            .load_private_key(files::private_key(fullcert))
            .expect("signing key");
        Self::with_certified_key(rustls::sign::CertifiedKey::new(
            files::certificates(fullcert),
            key,
        ))
    }

    /// A client presenting `certified` through a certificate resolver, as
    /// the gateway's transport does.
    pub fn with_certified_key(certified: impl Into<rustls::sign::SingleCertAndKey>) -> Self {
        let resolver: rustls::sign::SingleCertAndKey = certified.into();
        Self::from_config(tls_builder().with_client_cert_resolver(Arc::new(resolver)))
    }

    /// A client presenting `chain` with `key`, both already in memory.
    pub fn with_chain_and_key(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        let config = tls_builder()
            .with_client_auth_cert(chain, key)
            .expect("client identity");
        Self::from_config(config)
    }

    fn from_config(config: rustls::ClientConfig) -> Self {
        Self {
            tls: Arc::new(config),
        }
    }

    /// Sends one request on a fresh connection and reads the whole answer.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        self.try_send(method, url, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e:?}"))
    }

    /// Like [`Client::send`], but a failed connection, handshake or exchange
    /// is an error instead of a panic.
    pub async fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Response, SendError> {
        let response = self
            .open(method, url, headers, Full::new(body.into()))
            .await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(SendError::Http)?.to_bytes();
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// Sends `body` as it comes, on a fresh connection, and answers once
    /// the answer's head is in (its body is the caller's to read).
    pub async fn open<B>(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: B,
    ) -> Result<http::Response<hyper::body::Incoming>, SendError>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let uri: http::Uri = url.parse().expect("URL");
        let host = uri.host().expect("host").to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(SendError::Connect)?;
        let name = ServerName::try_from(host.clone()).expect("server name");
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(SendError::Tls)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(SendError::Http)?;
        tokio::spawn(conn);
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header("host", format!("{host}:{port}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(body).expect("request");
        sender.send_request(request).await.map_err(SendError::Http)
    }

    /// POSTs a SOAP envelope.
    pub async fn soap(&self, url: &str, envelope: &str) -> Response {
        self.send(
            "POST",
            url,
            &[
                ("content-type", "text/xml; charset=UTF-8"),
                ("soapaction", "example"),
            ],
            envelope.to_string(),
        )
        .await
    }

    /// POSTs a form (`application/x-www-form-urlencoded`), as OAuth token requests are.
    pub async fn form(&self, url: &str, fields: &[(&str, &str)]) -> Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            "POST",
            url,
            &[("content-type", "application/x-www-form-urlencoded")],
            body,
        )
        .await
    }

    /// Sends a REST request with `Authorization: Bearer token` and an optional JSON body.
    pub async fn rest(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> Response {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.send(method, url, &headers, body).await
    }
}

/// The Acme integration user logged in, talking REST to the simulator's
/// mutual-auth port with the client certificate.
pub struct AcmeRest {
    pub client: Client,
    /// `https://host:port` of the mutual-auth port.
    pub host: String,
    pub token: String,
}

impl AcmeRest {
    pub async fn new(sim: &Sim) -> Self {
        Self {
            client: Client::with_identity(&pki().fullcert),
            host: sim.endpoints().mutual_url(),
            token: soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await,
        }
    }

    /// A request to `/services/data/v62.0{resource}`.
    pub async fn call(
        &self,
        method: &str,
        resource: &str,
        body: Option<&serde_json::Value>,
    ) -> Response {
        let url = format!("{}/services/data/v62.0{resource}", self.host);
        self.client.rest(method, &url, &self.token, body).await
    }
}

/// Logs `username` in with the seed's SOAP login on `login_url`; returns the session id.
pub async fn soap_login(login_url: &str, username: &str, password: &str) -> String {
    let response = Client::anonymous()
        .soap(
            &format!("{login_url}/services/Soap/u/62.0"),
            &login_envelope(username, password),
        )
        .await;
    assert_eq!(response.status, 200, "login failed: {}", response.body);
    xml_text(&response.body, "sessionId").expect("sessionId in loginResponse")
}

/// GETs a JSON document from the simulator's admin port.
pub async fn admin_get(sim: &Sim, path: &str) -> serde_json::Value {
    admin(sim, "GET", path).await
}

/// POSTs to the simulator's admin port.
pub async fn admin_post(sim: &Sim, path: &str) -> serde_json::Value {
    admin(sim, "POST", path).await
}

async fn admin(sim: &Sim, method: &str, path: &str) -> serde_json::Value {
    let addr = sim.endpoints().admin;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("admin connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("admin handshake");
    tokio::spawn(conn);
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("admin response");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&body).expect("admin JSON")
}
