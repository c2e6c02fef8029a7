//! The Salesforce simulator behind `twoway sim`: login, the instance's
//! standard and mutual-auth ports, and a loopback admin port, so that
//! everything twoway does can be tried without an org or a bought certificate.
//!
//! Routing and the checks every API shares live here; wire formats live in
//! [`soap`], [`rest`] (with Bulk 2.0), [`oauth`], [`identity`] and [`bulk`]
//! (1.0); the data model in [`schema`], SOQL in [`soql`], records, queries
//! and jobs in [`state`]; sockets and TLS in [`server`].
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod admin;
mod answer;
mod bulk;
pub mod config;
pub mod dates;
mod identity;
mod ids;
mod oauth;
mod reply;
mod rest;
pub mod schema;
mod server;
mod soap;
pub mod soql;
pub mod state;
pub mod versions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;

pub use config::SimConfig;
pub use reply::Reply;
pub use server::{CertStatus, Sim};
use state::{Session, State};

/// Everything that can stop the simulator from starting.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("simulator config {path}: {problem}")]
    Config { path: PathBuf, problem: String },
    #[error("certificate file {path}: {problem}")]
    Certificate { path: PathBuf, problem: String },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// The login service (login.salesforce.com): TLS, no client certificate.
    Login,
    /// The instance's standard port (the seed's 443).
    Standard,
    /// The instance's mutual-auth port (the seed's 8443).
    Mutual,
}

/// The simulator's addresses, as printed by `twoway sim`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Endpoints {
    pub login: SocketAddr,
    pub standard: SocketAddr,
    pub mutual: SocketAddr,
    pub admin: SocketAddr,
}

impl Endpoints {
    /// `https://host:port` of the login service.
    pub fn login_url(&self) -> String {
        format!("https://{}", self.login)
    }
    /// `https://host:port` of the instance's standard port (what login returns).
    pub fn standard_url(&self) -> String {
        format!("https://{}", self.standard)
    }
    /// `https://host:port` of the instance's mutual-auth port.
    pub fn mutual_url(&self) -> String {
        format!("https://{}", self.mutual)
    }
    /// `http://host:port` of the admin port.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// The endpoints as JSON, for scripts (`--print-endpoints`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "login_url": self.login_url(),
            "instance_url": self.standard_url(),
            "mutual_auth_url": self.mutual_url(),
            "admin_url": self.admin_url(),
            "login_port": self.login.port(),
            "standard_port": self.standard.port(),
            "mutual_auth_port": self.mutual.port(),
            "admin_port": self.admin.port(),
        })
    }
}

/// Shared, read-mostly context of a running simulator.
pub struct Ctx {
    pub state: State,
    pub endpoints: Endpoints,
    /// DER of each org's registered mutual-auth certificates.
    registered: HashMap<String, Vec<Vec<u8>>>,
    /// RS256 keys of connected apps that accept JWT bearer assertions.
    jwt_keys: HashMap<String, jsonwebtoken::DecodingKey>,
}

/// Why a request was refused before its API saw it.
#[derive(Debug)]
pub enum Denied {
    /// Unknown, expired or missing session.
    InvalidSession,
    /// An enforced user's session on the standard port.
    MutualAuthRequired,
    /// The org's daily API requests are spent.
    LimitExceeded,
    /// Answered with a page rather than the API's format (Certificate Error).
    Page(Reply),
}

/// One request as the handlers see it.
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub port: Port,
    pub cert: &'a CertStatus,
    pub method: http::Method,
    pub path: String,
    pub query: String,
    pub headers: &'a http::HeaderMap,
    pub body: Bytes,
}

impl Call<'_> {
    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A decoded query-string parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The checks every API call passes: a live session; on the mutual-auth
    /// port a certificate registered for the session's org; on the standard
    /// port a user who is not enforced to use mutual auth; then one API
    /// request counted against the org's daily limit.
    pub fn authorize(&self, session_id: Option<&str>) -> Result<(Session, (u64, u64)), Denied> {
        let session = session_id
            .and_then(|id| self.ctx.state.session(id))
            .ok_or(Denied::InvalidSession)?;
        match (self.port, self.cert) {
            (Port::Mutual, CertStatus::Trusted { leaf }) => {
                let registered = self.ctx.registered.get(&session.org_id);
                if !registered.is_some_and(|certs| certs.contains(leaf)) {
                    return Err(Denied::Page(Reply::certificate_error(
                        reply::NOT_REGISTERED,
                    )));
                }
            }
            (Port::Mutual, _) => {
                return Err(Denied::Page(Reply::certificate_error(
                    reply::NO_CLIENT_CERTIFICATE,
                )));
            }
            (Port::Standard, _) if session.user.enforce_mutual_auth => {
                return Err(Denied::MutualAuthRequired);
            }
            _ => {}
        }
        let usage = self
            .ctx
            .state
            .count_api_request(&session.org_id)
            .map_err(|_| Denied::LimitExceeded)?;
        Ok((session, usage))
    }
}

/// Routes one request to its API.
pub fn dispatch(call: &Call<'_>) -> Reply {
    if call.port == Port::Mutual {
        match call.cert {
            CertStatus::Trusted { .. } => {}
            CertStatus::Missing => return Reply::certificate_error(reply::NO_CLIENT_CERTIFICATE),
            CertStatus::Rejected { reason } => return Reply::certificate_error(reason),
        }
    }
    let login_allowed =
        call.port != Port::Mutual || call.ctx.state.config.limits.allow_login_on_mutual_port;
    let path = call.path.as_str();
    if let Some((api, version)) = soap::Api::from_path(path) {
        return soap::handle(call, api, version);
    }
    if path == "/services/oauth2/token" && login_allowed {
        return oauth::handle(call);
    }
    if path.starts_with("/id/") {
        return identity::id(call);
    }
    if path == "/services/oauth2/userinfo" {
        return identity::userinfo(call);
    }
    if call.port != Port::Login {
        if path == "/services/data" || path.starts_with("/services/data/") {
            return rest::handle(call);
        }
        if path.starts_with("/services/async/") {
            return bulk::handle(call);
        }
    }
    Reply::rest_error(404, "NOT_FOUND", "The requested resource does not exist")
}
