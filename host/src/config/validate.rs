//! Checks raw config into [`Config`]: defaults, path resolution, secret
//! lookup, and every problem collected with its key path.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{RawAuth, RawConfig, RawIdentity, RawTenant};
use super::{
    Auth, Config, EnvLookup, PluginLimits, Plugins, Server, ServerTls, Tenant, Upstream, Workflow,
};
use crate::identity::IdentitySource;
use crate::secret::Secret;

#[path = "proxy.rs"]
mod proxy;

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
                format!("{text:?} is not an address like \"127.0.0.1:8080\""),
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
            shutdown_grace: Duration::from_millis(self.bounded(
                "server.shutdown_grace_ms",
                raw.server.shutdown_grace_ms,
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
        };
        server.admin_token = self.admin_token(
            server.admin_listen,
            raw.server.admin_token_env.as_deref(),
            raw.server.admin_token_file.as_deref(),
        );
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
        Config {
            server,
            plugins,
            upstream,
            tenants,
            store,
        }
    }

    fn tenant(&mut self, key: &str, t: RawTenant, plugins: &Plugins) -> Option<Tenant> {
        if t.name.is_empty()
            || !t
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.problem(
                &format!("{key}.name"),
                "use letters, digits, '-' and '_' (it appears in URLs)",
            );
        }
        let login_url = t
            .login_url
            .as_deref()
            .unwrap_or("https://login.salesforce.com");
        let login_url = match login_url.parse::<http::Uri>() {
            Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() => Some(u),
            _ => {
                self.problem(
                    &format!("{key}.login_url"),
                    format!("{login_url:?} is not an https:// URL"),
                );
                None
            }
        };
        let api_version = t.api_version.unwrap_or_else(|| "62.0".to_string());
        if !is_api_version(&api_version) {
            self.problem(
                &format!("{key}.api_version"),
                format!("{api_version:?} is not a version like \"62.0\""),
            );
        }
        let api_keys = self.api_keys(key, t.api_keys_env.as_deref(), t.api_keys_file.as_deref());
        let identity = t
            .client_identity
            .and_then(|i| self.identity(&format!("{key}.client_identity"), i));
        if t.mutual_auth && identity.is_none() {
            self.problem(
                &format!("{key}.mutual_auth"),
                "mutual_auth = true needs a client_identity (pem, cert+key, or pkcs12)",
            );
        }
        let extra_roots = t
            .extra_roots
            .iter()
            .map(|p| self.existing_file(&format!("{key}.extra_roots"), self.path(p)))
            .collect();
        let auth = self.auth(&format!("{key}.auth"), t.auth, login_url.as_ref());
        let proxy = self.proxy(&format!("{key}.proxy"), t.proxy);
        let mut workflow_names = BTreeSet::new();
        let mut workflows = Vec::new();
        for w in t.workflows {
            let wkey = format!("{key}.workflow[{}]", w.name);
            if !workflow_names.insert(w.name.clone()) {
                self.problem(
                    &wkey,
                    "a workflow of this name is already defined for this tenant",
                );
            }
            if w.name.is_empty()
                || !w
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.problem(
                    &format!("{wkey}.name"),
                    "use letters, digits, '-' and '_' (it appears in URLs)",
                );
            }
            let limits = self.plugin_limits(
                &wkey,
                w.memory_mb,
                w.timeout_ms,
                (&format!("{wkey}.max_output_kb"), w.max_output_kb),
                plugins.limits,
            );
            workflows.push(Workflow {
                name: w.name,
                plugin: plugins.dir.join(&w.plugin),
                config: w.config,
                limits,
            });
        }
        let callers = t.callers.map(|c| super::CallerPolicy {
            ca: c
                .ca
                .map(|ca| self.existing_file(&format!("{key}.callers.ca"), self.path(&ca))),
            fingerprints: c
                .fingerprints
                .iter()
                .map(|f| super::CallerPolicy::normalise(f))
                .collect(),
            subjects: self.names(
                &format!("{key}.callers.subjects"),
                &c.subjects,
                super::names::DistinguishedName::parse,
            ),
            sans: self.names(
                &format!("{key}.callers.sans"),
                &c.sans,
                super::names::SubjectAltName::parse,
            ),
        });
        if callers.as_ref().is_some_and(|c| {
            c.ca.is_none()
                && c.fingerprints.is_empty()
                && c.subjects.is_empty()
                && c.sans.is_empty()
        }) {
            self.problem(
                &format!("{key}.callers"),
                "give ca and/or at least one of fingerprints, subjects, sans",
            );
        }
        if !workflows.is_empty()
            && t.api_keys_env.is_none()
            && t.api_keys_file.is_none()
            && callers.is_none()
        {
            self.problem(key, "set api_keys_env / api_keys_file and/or callers: a tenant must say who may call it");
        }
        let budget = t.login_budget_per_hour.unwrap_or(60);
        if budget == 0 || budget > 3600 {
            self.problem(
                &format!("{key}.login_budget_per_hour"),
                "between 1 and 3600 (Salesforce allows 3600 logins per user per hour)",
            );
        }
        let api_budget_per_day = t.api_budget_per_day.map(|n| {
            self.bounded(
                &format!("{key}.api_budget_per_day"),
                Some(n),
                n,
                1..=MAX_API_REQUESTS,
            )
        });
        let api_reserve = t.api_reserve.map(|n| {
            self.bounded(
                &format!("{key}.api_reserve"),
                Some(n),
                n,
                0..=MAX_API_REQUESTS,
            )
        });
        let login_timeout_ms = t.login_timeout_ms.unwrap_or(8_000);
        if login_timeout_ms == 0 || login_timeout_ms > 600_000 {
            self.problem(
                &format!("{key}.login_timeout_ms"),
                "between 1 and 600000 (milliseconds one login may take; keep it below [plugins] timeout_ms)",
            );
        }
        Some(Tenant {
            name: t.name,
            api_keys,
            login_url: login_url?,
            api_version,
            mutual_auth: t.mutual_auth,
            mutual_auth_port: self.bounded(
                &format!("{key}.mutual_auth_port"),
                t.mutual_auth_port,
                8443,
                1..=u16::MAX,
            ),
            identity,
            extra_roots,
            login_budget_per_hour: budget,
            api_budget_per_day,
            api_reserve,
            session_seconds: self.bounded(
                &format!("{key}.session_seconds"),
                t.session_seconds,
                7200,
                MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS,
            ),
            login_timeout: Duration::from_millis(login_timeout_ms),
            max_concurrency: self.bounded(
                &format!("{key}.max_concurrency"),
                t.max_concurrency,
                25,
                1..=MAX_CONCURRENCY,
            ),
            max_queued: self.bounded(&format!("{key}.max_queued"), t.max_queued, 100, 0..=100_000),
            queue_timeout: Duration::from_millis(self.bounded(
                &format!("{key}.queue_timeout_ms"),
                t.queue_timeout_ms,
                5_000,
                1..=MAX_TIMEOUT_MS,
            )),
            callers,
            proxy,
            auth: auth?,
            workflows,
        })
    }

    /// Memory, CPU time and output limits of `key` (`plugins` or one
    /// workflow), each bounded by what the engine can give.
    fn plugin_limits(
        &mut self,
        key: &str,
        memory_mb: Option<u64>,
        timeout_ms: Option<u64>,
        (output_key, output_kb): (&str, Option<usize>),
        defaults: PluginLimits,
    ) -> PluginLimits {
        let max_memory_mb = crate::plugin::MAX_PLUGIN_MEMORY / (1024 * 1024);
        PluginLimits {
            memory_bytes: self.bounded(
                &format!("{key}.memory_mb"),
                memory_mb,
                defaults.memory_bytes / (1024 * 1024),
                1..=max_memory_mb,
            ) * 1024
                * 1024,
            timeout: Duration::from_millis(self.bounded(
                &format!("{key}.timeout_ms"),
                timeout_ms,
                defaults.timeout.as_millis() as u64,
                1..=MAX_TIMEOUT_MS,
            )),
            max_output_bytes: self.bounded(
                output_key,
                output_kb,
                defaults.max_output_bytes / 1024,
                1..=MAX_BODY_KB,
            ) * 1024,
        }
    }

    /// Each entry of a `callers.subjects` / `callers.sans` list, parsed.
    fn names<T>(
        &mut self,
        key: &str,
        list: &[String],
        parse: fn(&str) -> Result<T, super::names::NameError>,
    ) -> Vec<T> {
        let mut parsed = Vec::new();
        for (i, text) in list.iter().enumerate() {
            match parse(text) {
                Ok(name) => parsed.push(name),
                Err(e) => self.problem(&format!("{key}[{i}]"), format!("{text:?} {e}")),
            }
        }
        parsed
    }

    /// `[server] admin_token_env` / `_file`: required when the admin listener
    /// is not on loopback, since anyone who reaches it could reload the config.
    fn admin_token(
        &mut self,
        listen: std::net::SocketAddr,
        env: Option<&str>,
        file: Option<&Path>,
    ) -> Option<Secret> {
        let token = self.secret("server.admin_token", env, file, false);
        if env.is_none() && file.is_none() && !listen.ip().is_loopback() {
            self.problem(
                "server.admin_token",
                format!(
                    "required because admin_listen {listen} is not a loopback address: set admin_token_env or admin_token_file, or listen on 127.0.0.1"
                ),
            );
        }
        if token.as_ref().is_some_and(|t| t.expose().trim().len() < 16) {
            let which = if env.is_some() { "env" } else { "file" };
            self.problem(
                &format!("server.admin_token_{which}"),
                "the admin token must be at least 16 characters (e.g. `openssl rand -hex 32`)",
            );
        }
        token
    }

    fn api_keys(&mut self, key: &str, env: Option<&str>, file: Option<&Path>) -> Vec<Secret> {
        let text = self.secret(&format!("{key}.api_keys"), env, file, false);
        text.map(|s| {
            s.expose()
                .split([',', '\n'])
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(Secret::new)
                .collect()
        })
        .unwrap_or_default()
    }

    /// A secret from `<name>_env` or `<name>_file`; `required` reports its absence.
    fn secret(
        &mut self,
        key: &str,
        env: Option<&str>,
        file: Option<&Path>,
        required: bool,
    ) -> Option<Secret> {
        match (env, file) {
            (Some(_), Some(_)) => {
                self.problem(key, "set either the _env or the _file key, not both");
                None
            }
            (Some(var), None) => match (self.env)(var) {
                Some(v) if !v.is_empty() => Some(Secret::new(v)),
                _ => {
                    self.problem(
                        &format!("{key}_env"),
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            },
            (None, Some(path)) => {
                let path = self.path(path);
                match std::fs::metadata(&path) {
                    Ok(m) if m.len() > MAX_SECRET_FILE => {
                        self.problem(
                            &format!("{key}_file"),
                            format!("{} is larger than 64 KiB", path.display()),
                        );
                        None
                    }
                    Ok(_) => match std::fs::read_to_string(&path) {
                        Ok(text) => Some(Secret::new(text.trim_end_matches(['\r', '\n']))),
                        Err(e) => {
                            self.problem(
                                &format!("{key}_file"),
                                format!("cannot read {}: {e}", path.display()),
                            );
                            None
                        }
                    },
                    Err(e) => {
                        self.problem(
                            &format!("{key}_file"),
                            format!("cannot read {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => {
                if required {
                    self.problem(
                        key,
                        format!(
                            "required: set {0}_env or {0}_file",
                            key.rsplit('.').next().unwrap_or(key)
                        ),
                    );
                }
                None
            }
        }
    }

    fn identity(&mut self, key: &str, i: RawIdentity) -> Option<IdentitySource> {
        let password = self.secret(
            &format!("{key}.password"),
            i.password_env.as_deref(),
            i.password_file.as_deref(),
            false,
        );
        let source = match (i.pem, i.cert, i.key, i.pkcs12) {
            (Some(pem), None, None, None) => IdentitySource::Pem {
                path: self.existing_file(&format!("{key}.pem"), self.path(&pem)),
            },
            (None, Some(cert), Some(k), None) => IdentitySource::Files {
                cert: self.existing_file(&format!("{key}.cert"), self.path(&cert)),
                key: self.existing_file(&format!("{key}.key"), self.path(&k)),
                chain: i
                    .chain
                    .map(|c| self.existing_file(&format!("{key}.chain"), self.path(&c))),
            },
            (None, None, None, Some(p12)) => IdentitySource::Pkcs12 {
                path: self.existing_file(&format!("{key}.pkcs12"), self.path(&p12)),
                password,
            },
            _ => {
                self.problem(key, "give exactly one of: pem = FILE; cert = FILE + key = FILE [+ chain = FILE]; pkcs12 = FILE [+ password_env]");
                return None;
            }
        };
        Some(source)
    }

    fn auth(&mut self, key: &str, a: RawAuth, login_url: Option<&http::Uri>) -> Option<Auth> {
        let need = |c: &mut Self, field: &str, v: Option<String>| {
            if v.is_none() {
                c.problem(
                    &format!("{key}.{field}"),
                    format!("required for kind = \"{}\"", a.kind),
                );
            }
            v
        };
        let password = |c: &mut Self| {
            c.secret(
                &format!("{key}.password"),
                a.password_env.as_deref(),
                a.password_file.as_deref(),
                true,
            )
        };
        let token = |c: &mut Self| {
            c.secret(
                &format!("{key}.security_token"),
                a.security_token_env.as_deref(),
                a.security_token_file.as_deref(),
                false,
            )
        };
        let client_secret = |c: &mut Self| {
            c.secret(
                &format!("{key}.client_secret"),
                a.client_secret_env.as_deref(),
                a.client_secret_file.as_deref(),
                true,
            )
        };
        match a.kind.as_str() {
            "soap-login" => {
                let username = need(self, "username", a.username.clone());
                let password = password(self);
                let security_token = token(self);
                Some(Auth::SoapLogin {
                    username: username?,
                    password: password?,
                    security_token,
                })
            }
            "oauth-password" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let username = need(self, "username", a.username.clone());
                let client_secret = client_secret(self);
                let password = password(self);
                let security_token = token(self);
                Some(Auth::OAuthPassword {
                    client_id: client_id?,
                    client_secret: client_secret?,
                    username: username?,
                    password: password?,
                    security_token,
                })
            }
            "oauth-client-credentials" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let client_secret = client_secret(self);
                Some(Auth::OAuthClientCredentials {
                    client_id: client_id?,
                    client_secret: client_secret?,
                })
            }
            "oauth-jwt-bearer" => {
                let client_id = need(self, "client_id", a.client_id.clone());
                let username = need(self, "username", a.username.clone());
                let private_key = self.secret(
                    &format!("{key}.private_key"),
                    a.private_key_env.as_deref(),
                    a.private_key_file.as_deref(),
                    true,
                );
                let audience = a
                    .audience
                    .clone()
                    .unwrap_or_else(|| default_audience(login_url));
                Some(Auth::OAuthJwtBearer {
                    client_id: client_id?,
                    username: username?,
                    private_key: private_key?,
                    audience,
                })
            }
            other => {
                self.problem(
                    &format!("{key}.kind"),
                    format!("{other:?} is not one of soap-login, oauth-client-credentials, oauth-jwt-bearer, oauth-password"),
                );
                None
            }
        }
    }
}

/// Salesforce wants `https://test.salesforce.com` for sandboxes and
/// `https://login.salesforce.com` otherwise, whatever URL the token is posted to.
fn default_audience(login_url: Option<&http::Uri>) -> String {
    let host = login_url.and_then(|u| u.host()).unwrap_or("");
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".into()
    } else {
        "https://login.salesforce.com".into()
    }
}

/// Compiled plugin code goes to the user's cache folder, never beside the
/// plugins: whoever may drop a plugin file must not be able to plant
/// native code.
pub fn default_cache_dir(env: EnvLookup<'_>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("XDG_CACHE_HOME")
        .or_else(|| non_empty("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("twoway")
}

fn is_api_version(v: &str) -> bool {
    v.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor == "0"
    })
}
