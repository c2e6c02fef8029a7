//! The simulator's configuration: `sim.toml` (or the built-in defaults) read
//! into raw structs, then checked and resolved into a [`SimConfig`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use twoway::pem;

use super::SimError;
use super::schema::{Object, ObjectDecl, Schema};

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
    object: Vec<ObjectDecl>,
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
    /// Largest request body accepted, in KiB (after gzip decoding).
    pub max_body_kb: usize,
    /// Largest Bulk data upload (Bulk 1.0 batches, Bulk 2.0 `batches`), in
    /// MiB (Salesforce takes 150 MB per Bulk 2.0 upload).
    pub max_bulk_upload_mb: usize,
    /// Accept login on the mutual-auth port (a My Domain login URL on 8443).
    pub allow_login_on_mutual_port: bool,
    /// Milliseconds every answer of the login port waits (a slow login service).
    pub login_delay_ms: u64,
    /// Send answers as Salesforce sends Bulk results and large answers:
    /// without `Content-Length`, in chunks (`Transfer-Encoding: chunked` on
    /// HTTP/1.1). Every successful Bulk result is, and any answer whose body
    /// is over `chunked_over_kb`. `false`: every answer has a
    /// `Content-Length`.
    pub chunked_answers: bool,
    /// Size in KiB past which any answer goes chunked (with `chunked_answers`).
    pub chunked_over_kb: usize,
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
            max_bulk_upload_mb: 150,
            allow_login_on_mutual_port: false,
            login_delay_ms: 0,
            chunked_answers: true,
            chunked_over_kb: 32,
        }
    }
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

/// A record the org starts with. A field's value may be `"@name"`: the id of
/// the seed record whose `ref` is `name` (a Contact's AccountId).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRecord {
    #[serde(rename = "type")]
    pub object: String,
    /// A name other seed records refer to this one by.
    #[serde(default, rename = "ref")]
    pub ref_name: Option<String>,
    #[serde(deserialize_with = "scalars")]
    pub fields: BTreeMap<String, String>,
}

/// A table of strings, numbers and booleans, each as text.
fn scalars<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Scalar::Text(s) => s,
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, text)
        })
        .collect())
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
    /// The standard objects and those `[[object]]` declares.
    pub schema: Schema,
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
        let (schema, mut problems) = match Schema::build(&raw.object) {
            Ok(schema) => (schema, Vec::new()),
            Err(problems) => (Schema::build(&[]).expect("the standard objects"), problems),
        };
        problems.extend(check_orgs(&schema, &raw.org));
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
            schema,
            orgs,
        })
    }

    /// The schema of an sObject type, by case-insensitive name.
    pub fn object(&self, name: &str) -> Option<&Object> {
        self.schema.object(name)
    }
}

/// Problems of the `[[org]]` tables: ids, users, connected apps, seed records.
fn check_orgs(schema: &Schema, orgs: &[RawOrg]) -> Vec<String> {
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
            let Some(object) = schema.object(&record.object) else {
                problems.push(format!(
                    "org[{i}].record[{r}].type = {:?}: no standard object or [[object]] of that name",
                    record.object
                ));
                continue;
            };
            for (field, value) in &record.fields {
                let Some(name) = value.strip_prefix('@') else {
                    continue;
                };
                if !org
                    .record
                    .iter()
                    .any(|other| other.ref_name.as_deref() == Some(name))
                {
                    problems.push(format!(
                        "org[{i}].record[{r}].fields.{field} = {value:?}: no record of this org has ref = {name:?}"
                    ));
                }
            }
            let writable = |f: &&String| object.field(f).is_some_and(|f| f.createable);
            for field in record.fields.keys().filter(|f| !writable(f)) {
                problems.push(format!(
                    "org[{i}].record[{r}].fields.{field}: not a writable field of {}",
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
    let certs = pem::certificates(&bytes).map_err(|e| bad(format!("not PEM: {e}")))?;
    certs
        .into_iter()
        .next()
        .map(|c| c.to_vec())
        .ok_or_else(|| bad("no CERTIFICATE block".into()))
}
