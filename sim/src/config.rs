//! The simulator's configuration: `sim.toml` (or the built-in defaults) read
//! into raw structs, then checked and resolved into a [`SimConfig`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SimError;

/// The built-in configuration, used when `twoway sim` runs without `--config`.
/// It is also the documented example: `examples/sim.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../examples/sim.toml");

/// Raw `sim.toml`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    /// Directory made by `twoway pki init` (created if missing).
    pki_dir: PathBuf,
    #[serde(default)]
    listen: RawListen,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    object: Vec<ObjectSchema>,
    #[serde(default)]
    org: Vec<RawOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    #[serde(default = "loopback")]
    host: IpAddr,
    #[serde(default)]
    login_port: u16,
    #[serde(default)]
    standard_port: u16,
    #[serde(default)]
    mutual_port: u16,
    #[serde(default)]
    admin_port: u16,
}

impl Default for RawListen {
    fn default() -> Self {
        Self {
            host: loopback(),
            login_port: 0,
            standard_port: 0,
            mutual_port: 0,
            admin_port: 0,
        }
    }
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// Limits and behaviours, all with Salesforce-like defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Lifetime of a session (`sessionSecondsValid`).
    pub session_seconds: u64,
    /// API requests per org per day before REQUEST_LIMIT_EXCEEDED.
    pub api_requests_per_day: u64,
    /// Logins per user per hour before LOGIN_RATE_EXCEEDED.
    pub logins_per_hour: u32,
    /// Failed logins after which a user is locked out (0: never).
    pub lockout_after_failures: u32,
    /// Records per query batch before `nextRecordsUrl` / queryLocator.
    pub query_batch_size: usize,
    /// Largest request body accepted, in KiB.
    pub max_body_kb: usize,
    /// Accept login on the mutual-auth port (a My Domain login URL on 8443).
    pub allow_login_on_mutual_port: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            session_seconds: 7200,
            api_requests_per_day: 15_000,
            logins_per_hour: 3600,
            lockout_after_failures: 10,
            query_batch_size: 2000,
            max_body_kb: 1024,
            allow_login_on_mutual_port: false,
        }
    }
}

/// The fields an sObject type has; anything else is INVALID_FIELD.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSchema {
    pub name: String,
    /// Three-character key prefix of record ids (`001` for Account).
    pub key_prefix: String,
    pub fields: Vec<String>,
    /// Fields that create requires (REQUIRED_FIELD_MISSING).
    #[serde(default)]
    pub required: Vec<String>,
    /// Fields usable as an upsert external id.
    #[serde(default)]
    pub external_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    id: String,
    name: String,
    /// Mutual-authentication certificates (files in pki_dir, or paths).
    #[serde(default)]
    certificates: Vec<PathBuf>,
    #[serde(default)]
    user: Vec<User>,
    #[serde(default)]
    connected_app: Vec<RawConnectedApp>,
    #[serde(default)]
    record: Vec<SeedRecord>,
}

/// A user of an org. Passwords here are the simulator's own fake secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
    /// When set, logins from "outside trusted networks" need password+token.
    #[serde(default)]
    pub security_token: Option<String>,
    /// The profile permission "Enforce SSL/TLS Mutual Authentication".
    #[serde(default)]
    pub enforce_mutual_auth: bool,
    pub full_name: String,
    pub email: String,
    /// Filled in from the org when the config is resolved.
    #[serde(skip)]
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnectedApp {
    client_id: String,
    client_secret: String,
    /// Certificate whose key signs JWT bearer assertions.
    #[serde(default)]
    certificate: Option<PathBuf>,
    /// The user that client_credentials runs as.
    #[serde(default)]
    run_as: Option<String>,
    /// The username-password flow is blocked by default in new orgs.
    #[serde(default)]
    allow_password_flow: bool,
}

/// A record the org starts with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRecord {
    #[serde(rename = "type")]
    pub object: String,
    pub fields: BTreeMap<String, String>,
}

/// A connected app, resolved.
#[derive(Debug, Clone)]
pub struct ConnectedApp {
    pub client_id: String,
    pub client_secret: String,
    /// Certificate whose key signs JWT bearer assertions, if the app allows it.
    pub certificate_file: Option<PathBuf>,
    pub run_as: Option<String>,
    pub allow_password_flow: bool,
}

/// An org, checked: paths resolved, user ids assigned.
#[derive(Debug, Clone)]
pub struct Org {
    /// 15-character org id.
    pub id: String,
    pub name: String,
    /// Registered mutual-authentication certificates (PEM files).
    pub certificate_files: Vec<PathBuf>,
    pub users: Vec<User>,
    pub connected_apps: Vec<ConnectedApp>,
    pub records: Vec<SeedRecord>,
}

/// Where the simulator listens; port 0 picks a free one.
#[derive(Debug, Clone)]
pub struct Listen {
    pub host: IpAddr,
    pub login_port: u16,
    pub standard_port: u16,
    pub mutual_port: u16,
    pub admin_port: u16,
}

/// The TLS material of the simulator, from the PKI directory.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Server certificate chain (leaf first) and key, for all three ports.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// The CA the mutual-auth port trusts for client certificates.
    pub client_ca: PathBuf,
}

/// A checked simulator configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub pki_dir: PathBuf,
    pub listen: Listen,
    pub limits: Limits,
    pub tls: TlsFiles,
    pub objects: Vec<ObjectSchema>,
    pub orgs: Vec<Org>,
}

impl SimConfig {
    /// Reads `path`; relative paths in it resolve against its folder.
    pub fn load(path: &Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Config {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base, None).map_err(|problem| SimError::Config {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// The built-in defaults, with the PKI in `pki_dir`.
    pub fn defaults(pki_dir: &Path) -> Result<Self, SimError> {
        Self::from_toml(DEFAULT_TOML, Path::new("."), Some(pki_dir)).map_err(|problem| {
            SimError::Config {
                path: PathBuf::from("<built-in sim.toml>"),
                problem,
            }
        })
    }

    /// Parses and checks `text`; every problem is reported at once.
    /// `pki_override` replaces its `pki_dir`.
    pub fn from_toml(text: &str, base: &Path, pki_override: Option<&Path>) -> Result<Self, String> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| twoway::config::describe_toml_error(text, &e))?;
        let pki_dir = match pki_override {
            Some(dir) => dir.to_path_buf(),
            None => base.join(&raw.pki_dir),
        };
        let mut problems = check_objects(&raw.object);
        problems.extend(check_orgs(&raw.object, &raw.org));
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        // Ids are derived from the org id, so only once it is known to be valid;
        // user ids are numbered across orgs, since ids are unique across orgs.
        let mut orgs = Vec::new();
        let mut user_number = 0;
        for org in raw.org {
            let mut users = org.user;
            for user in users.iter_mut() {
                user.id = super::ids::user_id(&org.id, user_number);
                user_number += 1;
            }
            orgs.push(Org {
                id: org.id,
                name: org.name,
                certificate_files: org.certificates.iter().map(|p| pki_dir.join(p)).collect(),
                users,
                connected_apps: org
                    .connected_app
                    .into_iter()
                    .map(|a| ConnectedApp {
                        client_id: a.client_id,
                        client_secret: a.client_secret,
                        certificate_file: a.certificate.map(|p| pki_dir.join(p)),
                        run_as: a.run_as,
                        allow_password_flow: a.allow_password_flow,
                    })
                    .collect(),
                records: org.record,
            });
        }
        Ok(Self {
            tls: TlsFiles {
                server_cert: pki_dir.join("server.pem"),
                server_key: pki_dir.join("server.key"),
                client_ca: pki_dir.join("root-ca.pem"),
            },
            listen: Listen {
                host: raw.listen.host,
                login_port: raw.listen.login_port,
                standard_port: raw.listen.standard_port,
                mutual_port: raw.listen.mutual_port,
                admin_port: raw.listen.admin_port,
            },
            pki_dir,
            limits: raw.limits,
            objects: raw.object,
            orgs,
        })
    }

    /// The schema of an sObject type, by case-insensitive name.
    pub fn object(&self, name: &str) -> Option<&ObjectSchema> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }
}

/// Problems of the `[[object]]` schemas.
fn check_objects(objects: &[ObjectSchema]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        if object.key_prefix.len() != 3 {
            problems.push(format!(
                "object[{i}].key_prefix = {:?}: a key prefix is 3 characters",
                object.key_prefix
            ));
        }
        for (key, names) in [
            ("required", &object.required),
            ("external_ids", &object.external_ids),
        ] {
            for name in names.iter().filter(|n| !object.fields.contains(n)) {
                problems.push(format!(
                    "object[{i}].{key}: {name:?} is not one of its fields"
                ));
            }
        }
    }
    problems
}

/// Problems of the `[[org]]` tables: ids, users, connected apps, seed records.
fn check_orgs(objects: &[ObjectSchema], orgs: &[RawOrg]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut usernames = std::collections::BTreeSet::new();
    for (i, org) in orgs.iter().enumerate() {
        if !super::ids::is_org_id(&org.id) {
            problems.push(format!(
                "org[{i}].id = {:?}: an org id is 15 letters and digits starting with 00D",
                org.id
            ));
        }
        for (u, user) in org.user.iter().enumerate() {
            if !usernames.insert(user.username.to_ascii_lowercase()) {
                problems.push(format!(
                    "org[{i}].user[{u}].username = {:?}: already used",
                    user.username
                ));
            }
        }
        for (a, app) in org.connected_app.iter().enumerate() {
            let known = |name: &String| {
                org.user
                    .iter()
                    .any(|u| u.username.eq_ignore_ascii_case(name))
            };
            if let Some(name) = app.run_as.as_ref().filter(|n| !known(n)) {
                problems.push(format!(
                    "org[{i}].connected_app[{a}].run_as = {name:?}: no user of this org"
                ));
            }
        }
        for (r, record) in org.record.iter().enumerate() {
            let Some(object) = objects.iter().find(|o| o.name == record.object) else {
                problems.push(format!(
                    "org[{i}].record[{r}].type = {:?}: no [[object]] of that name",
                    record.object
                ));
                continue;
            };
            for field in record.fields.keys().filter(|f| !object.fields.contains(f)) {
                problems.push(format!(
                    "org[{i}].record[{r}].fields.{field}: not a field of {}",
                    object.name
                ));
            }
        }
    }
    problems
}

/// Reads the first certificate of a PEM file as DER.
pub fn read_cert_der(path: &Path) -> Result<Vec<u8>, SimError> {
    let bad = |problem: String| SimError::Certificate {
        path: path.to_path_buf(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let blocks = pem::parse_many(&bytes).map_err(|e| bad(format!("not PEM: {e}")))?;
    blocks
        .into_iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .ok_or_else(|| bad("no CERTIFICATE block".into()))
}
