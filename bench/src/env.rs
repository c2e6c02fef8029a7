//! What every run shares: a fresh test PKI, the simulator in this process on
//! its own tokio runtime (so the load generator's tasks do not queue behind
//! it, nor it behind them), and a direct session for the direct client.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use twoway::salesforce::{self, Api};
use twoway::secret::Secret;
use twoway::transport::{Transport, client_config};
use twoway_sim::{Endpoints, Sim, SimConfig};
use twoway_testkit::tenants::{ACME_PASSWORD, ACME_TOKEN, ACME_USER};

/// The simulator's own runtime and the simulator on it.
pub struct SimHost {
    sim: Option<Sim>,
    runtime: Option<tokio::runtime::Runtime>,
    pub endpoints: Endpoints,
    pub pki: PathBuf,
    _pki_dir: tempfile::TempDir,
}

/// Worker threads of the simulator's runtime.
pub const SIM_THREADS: usize = 2;

impl SimHost {
    /// Makes a PKI and starts the simulator with the built-in config, the
    /// daily API request limit lifted (a run makes hundreds of thousands).
    pub async fn start() -> anyhow::Result<Self> {
        let pki_dir = tempfile::Builder::new()
            .prefix("twoway-bench-pki")
            .tempdir()?;
        let pki = pki_dir.path().to_path_buf();
        let p = pki.clone();
        tokio::task::spawn_blocking(move || twoway_testkit::pki::init(&p, false)).await??;
        let mut config = SimConfig::defaults(&pki)?;
        config.limits.api_requests_per_day = u64::MAX / 4;
        config.limits.logins_per_hour = 100_000;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(SIM_THREADS)
            .thread_name("sim")
            .enable_all()
            .build()?;
        let sim = runtime.spawn(Sim::start(config)).await??;
        Ok(Self {
            endpoints: sim.endpoints(),
            sim: Some(sim),
            runtime: Some(runtime),
            pki,
            _pki_dir: pki_dir,
        })
    }

    /// `http://ADMIN{path}`.
    pub fn admin(&self, path: &str) -> String {
        format!("{}{path}", self.endpoints.admin_url())
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        drop(self.sim.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

const API_VERSION: &str = "62.0";

/// The getUserInfo envelope; with `session` it carries the SessionHeader.
pub fn get_user_info(session: Option<&str>) -> String {
    let header = session
        .map(|s| format!("<soapenv:Header><urn:SessionHeader><urn:sessionId>{s}</urn:sessionId></urn:SessionHeader></soapenv:Header>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">{header}<soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#
    )
}

/// What the direct client's login gave: the API URI on the mutual-auth port
/// and the envelope with the session, which nginx's callers send too.
pub struct DirectSession {
    pub target: crate::http::Target,
    pub uri: http::Uri,
    pub body: Bytes,
}

/// twoway's pooled mutual-TLS Transport with the test PKI's client
/// identity (`fullcert.pem`), trusting its root, with the gateway's
/// default upstream settings and `pool` idle connections per host.
pub fn transport(pki: &Path, pool: usize) -> anyhow::Result<Transport> {
    let identity = twoway::identity::load(&twoway::identity::IdentitySource::Pem {
        path: pki.join("fullcert.pem"),
    })?;
    let tls = client_config(Some(&identity), &[pki.join("root-ca.pem")])?;
    let settings = twoway::config::Upstream {
        pool_max_idle_per_host: pool,
        ..Default::default()
    };
    Ok(Transport::new(tls, &settings))
}

/// The direct client: twoway's pooled Transport with the client identity,
/// logged in once by SOAP login; requests go to the mutual-auth port.
pub async fn direct_target(sim: &SimHost, pool: usize) -> anyhow::Result<DirectSession> {
    let transport = transport(&sim.pki, pool)?;
    let login = http::Request::post(format!(
        "{}{}",
        sim.endpoints.login_url(),
        salesforce::login_path(API_VERSION)
    ))
    .header("content-type", "text/xml; charset=UTF-8")
    .header("soapaction", "login")
    .body(Bytes::from(salesforce::login_envelope(
        ACME_USER,
        &Secret::new(format!("{ACME_PASSWORD}{ACME_TOKEN}")),
    )))?;
    let reply = transport.send(login).await?;
    let login = salesforce::parse_login_response(reply.status, &reply.body, API_VERSION)
        .map_err(|e| anyhow::anyhow!("direct login: {e:?}"))?;
    let uri = salesforce::resolve(
        Api::SoapPartner,
        "",
        &login.instance,
        Some(sim.endpoints.mutual.port()),
    )?;
    let body = Bytes::from(get_user_info(Some(login.session_id.expose())));
    Ok(DirectSession {
        target: crate::http::Target::Direct {
            transport,
            uri: uri.clone(),
            body: body.clone(),
        },
        uri,
        body,
    })
}

/// A front-door caller as real clients are (jsforce, WSC): SOAP `login()`
/// at the gateway's `origin` with username = `tenant` and password = its API
/// key, then getUserInfo at the `serverUrl` the answer gave, with the
/// gateway token in the `SessionHeader`: the envelope nginx's callers send,
/// with the gateway's token in place of the Salesforce session.
pub async fn front_door_target(
    http: &crate::http::Http,
    origin: &str,
    tenant: &str,
    key: &str,
) -> anyhow::Result<crate::http::Target> {
    let login = http::Request::post(format!("{origin}{}", salesforce::login_path(API_VERSION)))
        .header("content-type", "text/xml; charset=UTF-8")
        .header("soapaction", "login")
        .body(Bytes::from(salesforce::login_envelope(
            tenant,
            &Secret::new(key.to_string()),
        )))?;
    let (status, body) = http.send(login).await?;
    let login = salesforce::parse_login_response(status, &body, API_VERSION)
        .map_err(|e| anyhow::anyhow!("front-door login as {tenant}: {e:?}"))?;
    let uri = salesforce::resolve(Api::SoapPartner, "", &login.instance, None)?;
    Ok(crate::http::Target::Proxy {
        http: http.clone(),
        uri,
        body: Bytes::from(get_user_info(Some(login.session_id.expose()))),
    })
}
