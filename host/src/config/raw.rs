//! `twoway.toml` exactly as written: serde structs that refuse unknown keys.
//! Nothing here is checked beyond its type; see [`super::validate`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub plugins: RawPlugins,
    #[serde(default)]
    pub upstream: RawUpstream,
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<RawTenant>,
    pub store: Option<super::store::RawStore>,
    pub front_door: Option<super::front_door::RawFrontDoor>,
    pub telemetry: Option<super::telemetry::RawTelemetry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub admin_listen: Option<String>,
    pub tls: Option<RawServerTls>,
    pub max_body_kb: Option<usize>,
    pub header_timeout_ms: Option<u64>,
    pub drain_grace_ms: Option<u64>,
    /// `shutdown_grace_ms` is its former name, still accepted.
    #[serde(alias = "shutdown_grace_ms")]
    pub shutdown_timeout_ms: Option<u64>,
    pub body_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub admin_token_env: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    pub admin_token_metrics: Option<bool>,
    #[serde(default)]
    pub admin_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugins {
    pub dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub memory_mb: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_body_kb: Option<usize>,
    pub max_output_kb: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub connect_timeout_ms: Option<u64>,
    pub handshake_timeout_ms: Option<u64>,
    pub response_timeout_ms: Option<u64>,
    pub max_response_kb: Option<usize>,
    pub pool_idle_timeout_s: Option<u64>,
    pub pool_max_idle_per_host: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    pub name: String,
    pub api_keys_env: Option<String>,
    pub api_keys_file: Option<PathBuf>,
    pub login_url: Option<String>,
    pub api_version: Option<String>,
    #[serde(default)]
    pub mutual_auth: bool,
    pub mutual_auth_port: Option<u16>,
    pub client_identity: Option<RawIdentity>,
    #[serde(default)]
    pub extra_roots: Vec<PathBuf>,
    pub login_budget_per_hour: Option<u32>,
    pub api_budget_per_day: Option<u64>,
    pub api_reserve: Option<u64>,
    pub session_seconds: Option<u64>,
    pub login_timeout_ms: Option<u64>,
    pub max_concurrency: Option<usize>,
    pub max_queued: Option<usize>,
    pub queue_timeout_ms: Option<u64>,
    pub callers: Option<RawCallers>,
    /// Outbound proxy: a table, or `false` for none (absent: the environment).
    pub proxy: Option<RawProxy>,
    pub auth: RawAuth,
    #[serde(default, rename = "workflow")]
    pub workflows: Vec<RawWorkflow>,
    #[serde(default)]
    pub front_door: bool,
    /// `[tenant.policy]`: the front-door policy component.
    pub policy: Option<RawPolicy>,
}

/// `[tenant.policy]`: a workflow's keys without the name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub plugin: PathBuf,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    pub memory_mb: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_output_kb: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    pub pem: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub chain: Option<PathBuf>,
    pub pkcs12: Option<PathBuf>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub kind: String,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub security_token_env: Option<String>,
    pub security_token_file: Option<PathBuf>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub private_key_env: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub audience: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflow {
    pub name: String,
    pub plugin: PathBuf,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    pub memory_mb: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_output_kb: Option<usize>,
}

/// `proxy = false` or `proxy = { url = ..., ... }` (its `Deserialize`, in
/// `config/validate/proxy.rs`, keeps the table's unknown-key errors).
#[derive(Debug)]
pub enum RawProxy {
    Switch(bool),
    Table(RawProxyTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxyTable {
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub no_proxy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallers {
    pub ca: Option<PathBuf>,
    #[serde(default)]
    pub fingerprints: Vec<String>,
    #[serde(default)]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub sans: Vec<String>,
}
