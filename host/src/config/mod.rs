//! The gateway's configuration: `twoway.toml` read into [`raw`] structs,
//! then checked into a [`Config`] with every problem listed at once, each
//! with its key path. Secrets come only from `*_env` and `*_file` keys.

pub mod front_door;
pub mod names;
pub mod proxy;
pub mod raw;
pub mod store;
pub mod telemetry;
#[cfg(test)]
mod tests;
mod toml_error;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::Secret;

pub use front_door::FrontDoor;
pub use proxy::{NoProxy, Proxy, ProxyCredentials};
pub use store::{RedisStore, Store};
pub use telemetry::Telemetry;
pub use toml_error::describe as describe_toml_error;
pub use validate::{default_cache_dir, from_toml};

/// A configuration that failed its checks: every problem, one per line.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

/// Where secrets named by `*_env` keys are looked up (the process
/// environment, or a map in tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads and checks `path`; relative paths in it resolve against its folder.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// [`load`] with an explicit environment.
pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
    let base = path.parent().unwrap_or(Path::new("."));
    from_toml(&text, base, env).map_err(fail)
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Server,
    pub plugins: Plugins,
    pub upstream: Upstream,
    pub tenants: Vec<Tenant>,
    /// `[store]`: in process, or shared by a fleet through Redis.
    pub store: Store,
    /// Every file the config names besides itself and `[store]` (`*_file`
    /// secrets, client identities, `extra_roots`, CAs, the server's
    /// certificate), as written (links not followed): `twoway serve`
    /// watches them and reloads when one changes.
    pub files: Vec<PathBuf>,
    /// `[front_door]`: Salesforce's own surface for existing clients.
    pub front_door: FrontDoor,
    /// `[telemetry]`: traces over OTLP (read at start).
    pub telemetry: Telemetry,
}

impl Config {
    /// The tenant named `name`.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }
}

/// `[server]`: the callers' listener and the admin listener.
#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub tls: Option<ServerTls>,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    /// On SIGTERM: how long the listeners keep accepting while `/readyz`
    /// answers 503, so load balancers take the instance out first.
    pub drain_grace: Duration,
    /// Then: how long in-flight requests may still take.
    pub shutdown_timeout: Duration,
    /// Deadline for reading a whole request body (`body_timeout_ms`).
    pub body_timeout: Duration,
    /// Most open connections per listener (callers' and admin).
    pub max_connections: usize,
    /// Bearer token for `/admin/*` (`admin_token_env` / `admin_token_file`).
    pub admin_token: Option<Secret>,
    /// The token covers `/metrics` too (`admin_token_metrics`).
    pub admin_token_metrics: bool,
    /// Host names the admin port answers to besides its own addresses and
    /// (on loopback) `localhost` (`admin_hosts`), lowercase.
    pub admin_hosts: Vec<String>,
}

/// `[server.tls]`: HTTPS for callers, optionally with client certificates.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// `[plugins]`: where workflows live and their default limits.
#[derive(Debug, Clone)]
pub struct Plugins {
    pub dir: PathBuf,
    pub cache_dir: PathBuf,
    pub limits: PluginLimits,
}

/// The largest memory any plugin may be given; the config refuses a
/// `memory_mb` above it (the plugin engine reserves a pooling slot of this
/// size).
pub const MAX_PLUGIN_MEMORY: u64 = 1024 * 1024 * 1024;

/// Limits of one plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    pub memory_bytes: u64,
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

/// `[upstream]`: how one pool talks to the API: timeouts, the body cap and
/// pooling (what `transport::Transport` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub response_timeout: Duration,
    pub max_response_bytes: usize,
    pub pool_idle_timeout: Duration,
    pub pool_max_idle_per_host: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            max_response_bytes: 16 * 1024 * 1024,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 64,
        }
    }
}

/// One tenant: an org, its identity, its credentials and its workflows.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub name: String,
    pub api_keys: Vec<Secret>,
    pub login_url: http::Uri,
    pub api_version: String,
    pub mutual_auth: bool,
    pub mutual_auth_port: u16,
    pub identity: Option<IdentitySource>,
    pub extra_roots: Vec<PathBuf>,
    pub login_budget_per_hour: u32,
    /// Stop calling the API once the org's usage reaches this many requests
    /// (`api_budget_per_day`).
    pub api_budget_per_day: Option<u64>,
    /// Stop calling the API this many requests short of the org's limit
    /// (`api_reserve`).
    pub api_reserve: Option<u64>,
    /// Session lifetime when the login does not say (OAuth tokens).
    pub session_seconds: u64,
    /// Longest one login may take, whatever its callers do (`login_timeout_ms`).
    pub login_timeout: Duration,
    pub max_concurrency: usize,
    /// Requests that may wait for a slot when all are busy (`max_queued`).
    pub max_queued: usize,
    /// Longest wait for a slot (`queue_timeout_ms`).
    pub queue_timeout: Duration,
    /// Caller certificates the tenant accepts (needs `[server.tls] client_ca`).
    pub callers: Option<CallerPolicy>,
    /// The outbound HTTP proxy: the tenant's `proxy` table, else
    /// `HTTPS_PROXY` / `NO_PROXY`; `None` when direct (`proxy = false`).
    pub proxy: Option<Proxy>,
    pub auth: Auth,
    pub workflows: Vec<Workflow>,
    /// Serves Salesforce's own surface to this tenant's callers (`front_door`).
    pub front_door: bool,
    /// `[tenant.policy]`: the front-door policy component (its `name` is
    /// `policy`), run on every front-door request and answer.
    pub policy: Option<Workflow>,
}

/// The caller certificates a tenant accepts. The certificate must chain to
/// `[server.tls] client_ca`; then, when `ca` is set, also to the tenant's own
/// CA; and when any list is given, match one listed fingerprint, subject or SAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerPolicy {
    /// The tenant's own CA for its callers (PEM).
    pub ca: Option<PathBuf>,
    /// SHA-256 fingerprints, normalised to uppercase hex without colons.
    pub fingerprints: Vec<String>,
    /// Subject distinguished names, parsed from RFC 4514 strings.
    pub subjects: Vec<names::DistinguishedName>,
    /// Subject alternative names (`DNS:`, `URI:`, `email:`, `IP:`).
    pub sans: Vec<names::SubjectAltName>,
}

impl CallerPolicy {
    /// Normalises a fingerprint for comparison.
    pub fn normalise(fingerprint: &str) -> String {
        fingerprint
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .collect::<String>()
            .to_ascii_uppercase()
    }

    /// True when a verified caller certificate with these facts matches the
    /// lists (or no list is given).
    /// Subjects compare as distinguished names (every RDN, attribute OID and
    /// value exactly) and SANs as typed values, never as display strings.
    pub fn listed(
        &self,
        fingerprint: Option<&str>,
        subject: Option<&names::DistinguishedName>,
        sans: &[names::SubjectAltName],
    ) -> bool {
        if self.fingerprints.is_empty() && self.subjects.is_empty() && self.sans.is_empty() {
            return fingerprint.is_some();
        }
        fingerprint.is_some_and(|f| self.fingerprints.contains(&Self::normalise(f)))
            || subject.is_some_and(|s| self.subjects.contains(s))
            || sans.iter().any(|san| self.sans.contains(san))
    }
}

/// How a tenant gets its session (`[tenant.auth] kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// SOAP partner login(): username, password and optional security token.
    SoapLogin {
        username: String,
        password: Secret,
        security_token: Option<Secret>,
    },
    /// OAuth username-password flow.
    OAuthPassword {
        client_id: String,
        client_secret: Secret,
        username: String,
        password: Secret,
        security_token: Option<Secret>,
    },
    /// OAuth client-credentials flow (runs as the connected app's user).
    OAuthClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    /// OAuth JWT bearer flow: an RS256 assertion signed with `private_key` (PEM).
    OAuthJwtBearer {
        client_id: String,
        username: String,
        private_key: Secret,
        audience: String,
    },
}

impl Auth {
    /// The `kind` key's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SoapLogin { .. } => "soap-login",
            Self::OAuthPassword { .. } => "oauth-password",
            Self::OAuthClientCredentials { .. } => "oauth-client-credentials",
            Self::OAuthJwtBearer { .. } => "oauth-jwt-bearer",
        }
    }

    /// The Salesforce username it logs in as; none for client credentials
    /// (the connected app's run-as user is not in the config).
    pub fn username(&self) -> Option<&str> {
        match self {
            Self::SoapLogin { username, .. }
            | Self::OAuthPassword { username, .. }
            | Self::OAuthJwtBearer { username, .. } => Some(username),
            Self::OAuthClientCredentials { .. } => None,
        }
    }
}

/// `[[tenant.workflow]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub name: String,
    /// The component file, resolved against `[plugins].dir`.
    pub plugin: PathBuf,
    /// Non-secret strings the plugin reads through `context.config`.
    pub config: BTreeMap<String, String>,
    pub limits: PluginLimits,
}

/// Where a client identity comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// One PEM file holding key, certificate and chain, blocks in any order (the seed's fullcert.pem).
    Pem { path: PathBuf },
    /// Separate files; chain optional.
    Files {
        cert: PathBuf,
        key: PathBuf,
        chain: Option<PathBuf>,
    },
    /// PKCS#12 (.p12/.pfx).
    Pkcs12 {
        path: PathBuf,
        password: Option<Secret>,
    },
}

impl IdentitySource {
    /// The file that names the identity: the PEM bundle, the certificate, or the PKCS#12 file.
    pub fn path(&self) -> &Path {
        match self {
            Self::Pem { path } | Self::Pkcs12 { path, .. } => path,
            Self::Files { cert, .. } => cert,
        }
    }
}
