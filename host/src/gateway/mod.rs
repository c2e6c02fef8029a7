//! The multi-tenant gateway behind `twoway serve`: tenants built from the
//! config ([`tenants`]: identity, transport, session, callers), the plugin
//! registry, the inbound and admin listeners, and reload without restart
//! ([`reload`], [`watch`]). docs/architecture.md tells the whole story.

mod access;
mod admin;
mod auth;
mod cores;
mod dashboard;
mod drain;
mod early;
mod front_door;
mod gauges;
mod header_timer;
mod inbound_tls;
mod limit;
mod linger;
mod metrics;
mod problem;
mod process;
mod recent;
mod reload;
mod routing;
mod server;
mod tenants;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::plugin::{Registry, Slots};
use crate::session::SessionStore;
use crate::upstream::SetupError;

pub use access::{
    Line as AccessLine, LineWriter as AccessLineWriter, write_lines_with as write_access_lines_with,
};
pub use cores::Shape;
pub use drain::{Drain, Drained, Phase};
pub use metrics::Metrics;
pub use problem::{IntoResponse, Problem, ProblemCode};
pub use reload::{prepare, reload};
pub use routing::parse_route;
pub use server::{Running, start, start_as};
pub use tenants::{TenantRuntime, session_settings, upstream_settings};
pub use watch::{ConfigWatcher, watch_config};

/// Why the gateway could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tenant(#[from] SetupError),
    #[error("plugin runtime: {0}")]
    Runtime(String),
    /// `TWOWAY_RUNTIME` / `TOKIO_WORKER_THREADS`, or a per-core thread.
    #[error("runtime shape: {0}")]
    Shape(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("inbound TLS: {0}")]
    Tls(String),
}

/// What one config produced: its tenants and its plugin slots, swapped
/// together on reload.
pub struct Generation {
    pub config: Arc<Config>,
    pub tenants: HashMap<String, Arc<TenantRuntime>>,
    pub plugins: Arc<Slots>,
    /// The callers' listener's TLS (`[server.tls]`), read with the config.
    pub tls: Option<Arc<inbound_tls::InboundTls>>,
}

impl Generation {
    /// The callers' listener's `client_ca`, when it asks for certificates.
    pub fn client_ca(&self) -> Option<&dyn rustls::server::danger::ClientCertVerifier> {
        self.tls.as_ref().and_then(|t| t.client_ca.as_deref())
    }
}

/// State shared by every connection.
pub struct Shared {
    pub generation: RwLock<Arc<Generation>>,
    pub registry: Arc<Registry>,
    /// Lives as long as the process: reloads never reset a counter.
    pub metrics: Arc<Metrics>,
    pub config_path: Option<PathBuf>,
    /// The shutdown phase every callers' listener obeys.
    pub drain: Drain,
    /// Sessions and login budgets of every tenant.
    pub store: Arc<dyn SessionStore>,
    pub reloads: AtomicU64,
    pub last_reload_error: RwLock<Option<String>>,
    /// Held by the reload running now.
    reloading: tokio::sync::Mutex<()>,
    plugin_watch: watch::PluginDirWatch,
    /// The files the last config read names (`Config::files`), watched.
    files: RwLock<Vec<PathBuf>>,
    /// The front door's tokens and origin (docs/front-door.md).
    pub front_door: front_door::State,
    /// The last problems answered to callers (the admin dashboard's).
    pub problems: recent::Problems,
}

impl Shared {
    /// The current generation.
    pub fn current(&self) -> Arc<Generation> {
        self.generation
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
