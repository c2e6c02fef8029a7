//! Outbound HTTP proxies as configured: which proxy a tenant uses (its own
//! `proxy` table, or `HTTPS_PROXY` / `NO_PROXY` from the environment,
//! [`url`]) and which targets bypass it ([`no_proxy`]). The transport opens
//! the CONNECT tunnel through it (`transport/proxy.rs`). Errors name the
//! proxy, never the password.

mod no_proxy;
mod url;

pub use no_proxy::NoProxy;

use crate::secret::Secret;

/// One outbound HTTP proxy and the hosts that bypass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy's host name or IP address (no brackets).
    pub host: String,
    pub port: u16,
    /// Basic credentials sent on the CONNECT (`Proxy-Authorization`).
    pub credentials: Option<ProxyCredentials>,
    /// Targets reached directly, not through the proxy.
    pub no_proxy: NoProxy,
}

/// A proxy user and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Display for Proxy {
    /// `host:port`, never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Proxy {
    /// True when a connection to `host:port` goes through this proxy.
    pub fn applies_to(&self, host: &str, port: u16) -> bool {
        !self.no_proxy.matches(host, port)
    }
}
