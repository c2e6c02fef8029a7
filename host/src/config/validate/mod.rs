//! Checks raw config into [`Config`]: defaults, path resolution, secret
//! lookup, and every problem collected with its key path. The server,
//! plugins and upstream sections are here; a tenant in [`tenant`], its auth
//! in [`auth`], secrets and identities in [`secrets`], its proxy in [`proxy`].

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{RawAuth, RawConfig, RawIdentity, RawTenant};
use super::{
    Auth, Config, EnvLookup, PluginLimits, Plugins, Server, ServerTls, Tenant, Upstream, Workflow,
};
use crate::config::IdentitySource;
use crate::secret::Secret;

mod auth;
mod proxy;
mod secrets;
mod tenant;

/// Largest secret file read (a private key is a few KiB).
const MAX_SECRET_FILE: u64 = 64 * 1024;
/// Longest timeout or deadline accepted anywhere: one hour.
const MAX_TIMEOUT_MS: u64 = 3_600_000;
/// Largest inbound body or plugin output: 64 MiB (it is copied into a plugin).
const MAX_BODY_KB: usize = 64 * 1024;
/// Largest upstream answer: 1 GiB.
const MAX_RESPONSE_KB: usize = 1024 * 1024;
/// Salesforce sessions last 15 minutes to 24 hours.
const MIN_SESSION_SECONDS: u64 = 60;
const MAX_SESSION_SECONDS: u64 = 86_400;
/// Requests one tenant may have in flight at once.
const MAX_CONCURRENCY: usize = 10_000;
/// Bound of `api_budget_per_day` and `api_reserve` (far above any org's
/// daily API request limit).
const MAX_API_REQUESTS: u64 = 1_000_000_000;

/// Parses and checks `text`, resolving paths against `base`.
pub fn from_toml(text: &str, base: &Path, env: EnvLookup<'_>) -> Result<Config, Vec<String>> {
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| vec![super::toml_error::describe(text, &e)])?;
    let mut c = Checker {
        base,
        env,
        problems: Vec::new(),
        files: BTreeSet::new(),
    };
    let config = c.config(raw);
    if c.problems.is_empty() {
        Ok(config)
    } else {
        Err(c.problems)
    }
}

struct Checker<'a> {
    base: &'a Path,
    env: EnvLookup<'a>,
    problems: Vec<String>,
    /// Every file the config names (read or checked), for [`Config::files`].
    files: BTreeSet<PathBuf>,
}

impl Checker<'_> {
    fn problem(&mut self, key: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{key}: {what}"));
    }

    fn path(&self, p: &Path) -> PathBuf {
        self.base.join(p)
    }

    fn addr(&mut self, key: &str, value: Option<String>, default: &str) -> std::net::SocketAddr {
        let text = value.unwrap_or_else(|| default.to_string());
        text.parse().unwrap_or_else(|_| {
            self.problem(
                key,
                "is not an address like \"127.0.0.1:8080\" (the value is not shown: it may be a secret pasted in the wrong place)".to_string(),
            );
            default.parse().expect("default address")
        })
    }

    /// `value` (or `default`) when it lies in `range`; otherwise a problem
    /// naming the key and the range, and the default so checking goes on.
    fn bounded<T>(&mut self, key: &str, value: Option<T>, default: T, range: RangeInclusive<T>) -> T
    where
        T: PartialOrd + Copy + std::fmt::Display,
    {
        match value {
            None => default,
            Some(v) if range.contains(&v) => v,
            Some(v) => {
                self.problem(
                    key,
                    format!(
                        "{v} cannot work: use a value from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }

    fn existing_file(&mut self, key: &str, path: PathBuf) -> PathBuf {
        self.files.insert(path.clone());
        if !path.is_file() {
            self.problem(key, format!("file {} does not exist", path.display()));
        }
        path
    }

    fn config(&mut self, raw: RawConfig) -> Config {
        let mut server = Server {
            listen: self.addr("server.listen", raw.server.listen, "127.0.0.1:8080"),
            admin_listen: self.addr(
                "server.admin_listen",
                raw.server.admin_listen,
                "127.0.0.1:9090",
            ),
            tls: raw.server.tls.map(|t| ServerTls {
                cert: self.existing_file("server.tls.cert", self.path(&t.cert)),
                key: self.existing_file("server.tls.key", self.path(&t.key)),
                client_ca: t
                    .client_ca
                    .map(|ca| self.existing_file("server.tls.client_ca", self.path(&ca))),
            }),
            max_body_bytes: self.bounded(
                "server.max_body_kb",
                raw.server.max_body_kb,
                1024,
                1..=MAX_BODY_KB,
            ) * 1024,
            header_timeout: Duration::from_millis(self.bounded(
                "server.header_timeout_ms",
                raw.server.header_timeout_ms,
                10_000,
                1..=MAX_TIMEOUT_MS,
            )),
            drain_grace: Duration::from_millis(self.bounded(
                "server.drain_grace_ms",
                raw.server.drain_grace_ms,
                5_000,
                0..=MAX_TIMEOUT_MS,
            )),
            shutdown_timeout: Duration::from_millis(self.bounded(
                "server.shutdown_timeout_ms",
                raw.server.shutdown_timeout_ms,
                30_000,
                0..=MAX_TIMEOUT_MS,
            )),
            body_timeout: Duration::from_millis(self.bounded(
                "server.body_timeout_ms",
                raw.server.body_timeout_ms,
                30_000,
                1..=MAX_TIMEOUT_MS,
            )),
            // Each connection is a file descriptor and a task.
            max_connections: self.bounded(
                "server.max_connections",
                raw.server.max_connections,
                1024,
                1..=100_000,
            ),
            admin_token: None,
            admin_token_metrics: raw.server.admin_token_metrics.unwrap_or(false),
            admin_hosts: raw
                .server
                .admin_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        };
        server.admin_token = self.admin_token(
            server.admin_listen,
            raw.server.admin_token_env.as_deref(),
            raw.server.admin_token_file.as_deref(),
        );
        if server.admin_token_metrics && server.admin_token.is_none() {
            self.problem(
                "server.admin_token_metrics",
                "needs a token: set admin_token_env or admin_token_file",
            );
        }
        for (i, host) in server.admin_hosts.iter().enumerate() {
            let name = host.trim_end_matches('.');
            if name.is_empty()
                || name.len() > 253
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
            {
                self.problem(
                    &format!("server.admin_hosts[{i}]"),
                    "a DNS name (letters, digits, '-' and '.'), without a port",
                );
            }
        }
        let dir = self.path(
            raw.plugins
                .dir
                .as_deref()
                .unwrap_or(Path::new("plugins/dist")),
        );
        let defaults = PluginLimits {
            memory_bytes: 64 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_output_bytes: 1024 * 1024,
        };
        let output_key = if raw.plugins.max_output_kb.is_some() {
            "plugins.max_output_kb"
        } else {
            "plugins.max_body_kb"
        };
        let limits = self.plugin_limits(
            "plugins",
            raw.plugins.memory_mb,
            raw.plugins.timeout_ms,
            (
                output_key,
                raw.plugins.max_output_kb.or(raw.plugins.max_body_kb),
            ),
            defaults,
        );
        let plugins = Plugins {
            cache_dir: raw
                .plugins
                .cache_dir
                .map(|d| self.path(&d))
                .unwrap_or_else(|| default_cache_dir(self.env)),
            dir,
            limits,
        };
        let u = raw.upstream;
        let d = Upstream::default();
        let mut ms = |key: &str, v: Option<u64>, default: Duration| {
            Duration::from_millis(self.bounded(
                key,
                v,
                default.as_millis() as u64,
                1..=MAX_TIMEOUT_MS,
            ))
        };
        let upstream = Upstream {
            connect_timeout: ms(
                "upstream.connect_timeout_ms",
                u.connect_timeout_ms,
                d.connect_timeout,
            ),
            handshake_timeout: ms(
                "upstream.handshake_timeout_ms",
                u.handshake_timeout_ms,
                d.handshake_timeout,
            ),
            response_timeout: ms(
                "upstream.response_timeout_ms",
                u.response_timeout_ms,
                d.response_timeout,
            ),
            max_response_bytes: self.bounded(
                "upstream.max_response_kb",
                u.max_response_kb,
                d.max_response_bytes / 1024,
                1..=MAX_RESPONSE_KB,
            ) * 1024,
            pool_idle_timeout: Duration::from_secs(self.bounded(
                "upstream.pool_idle_timeout_s",
                u.pool_idle_timeout_s,
                d.pool_idle_timeout.as_secs(),
                0..=86_400,
            )),
            pool_max_idle_per_host: self.bounded(
                "upstream.pool_max_idle_per_host",
                u.pool_max_idle_per_host,
                d.pool_max_idle_per_host,
                0..=10_000,
            ),
        };
        let mut names = BTreeSet::new();
        let mut tenants = Vec::new();
        for (i, t) in raw.tenants.into_iter().enumerate() {
            let key = if t.name.is_empty() {
                format!("tenant[{i}]")
            } else {
                format!("tenant[{}]", t.name)
            };
            if !names.insert(t.name.clone()) {
                self.problem(&key, "a tenant of this name is already defined");
            }
            if let Some(tenant) = self.tenant(&key, t, &plugins) {
                tenants.push(tenant);
            }
        }
        let has_client_ca = server.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        for t in tenants
            .iter()
            .filter(|t| t.callers.is_some() && !has_client_ca)
        {
            self.problem(
                &format!("tenant[{}].callers", t.name),
                "caller certificates need HTTPS with client certificates: set [server.tls] cert, key and client_ca",
            );
        }
        let store = super::store::check(raw.store, self.base, self.env, &mut self.problems);
        let front_door = super::front_door::check(raw.front_door, &mut self.problems);
        super::front_door::check_tenants(&tenants, &mut self.problems);
        let telemetry = super::telemetry::check(raw.telemetry, &mut self.problems);
        Config {
            server,
            plugins,
            upstream,
            tenants,
            store,
            files: std::mem::take(&mut self.files).into_iter().collect(),
            front_door,
            telemetry,
        }
    }
}

/// Compiled plugin code goes to the user's cache folder, never beside the
/// plugins: whoever may drop a plugin file must not be able to plant
/// native code. With neither `XDG_CACHE_HOME` nor `HOME` the path is empty:
/// the cache is off (`plugin::cache` refuses it), never a shared temp folder.
pub fn default_cache_dir(env: EnvLookup<'_>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
        .map(|dir| dir.join("twoway"))
        .unwrap_or_default()
}
