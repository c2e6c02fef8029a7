//! `[store]`: where sessions, login budgets and login stops live. `memory`
//! (the default) keeps them in the process; `redis` shares them with every
//! gateway instance pointed at the same Redis and key prefix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::EnvLookup;
use crate::secret::Secret;

/// `[store]` exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub kind: Option<String>,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub prefix: Option<String>,
    pub encryption_key_env: Option<String>,
    pub encryption_key_file: Option<PathBuf>,
    pub connect_timeout_ms: Option<u64>,
    pub command_timeout_ms: Option<u64>,
    pub instances: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

/// A checked `[store]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Store {
    /// Each process keeps its own state.
    #[default]
    Memory,
    /// State shared through Redis.
    Redis(RedisStore),
}

/// `[store] kind = "redis"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStore {
    /// `redis://` or `rediss://`; may hold a password, hence a secret.
    pub url: Secret,
    /// Every key starts with `{prefix}:`.
    pub prefix: String,
    /// The AES-256-GCM key sessions are sealed with (32 bytes).
    pub encryption_key: Secret,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// How many instances share the store: while Redis is unreachable each
    /// one allows itself `login_budget_per_hour / instances` logins.
    pub instances: u32,
    /// With `rediss://`: the CA certificates (PEM) the server's certificate
    /// must chain to, instead of the system's roots (`ca_file`).
    pub ca: Option<Vec<u8>>,
}

/// Checks `raw`, pushing problems (with their key paths) onto `problems`.
pub(super) fn check(
    raw: Option<RawStore>,
    base: &Path,
    env: EnvLookup<'_>,
    problems: &mut Vec<String>,
) -> Store {
    let Some(raw) = raw else {
        return Store::Memory;
    };
    let mut problem = |key: &str, what: String| problems.push(format!("store.{key}: {what}"));
    let kind = raw.kind.as_deref().unwrap_or("memory");
    if kind == "memory" {
        let redis_only = raw.url_env.is_some()
            || raw.url_file.is_some()
            || raw.encryption_key_env.is_some()
            || raw.encryption_key_file.is_some()
            || raw.prefix.is_some()
            || raw.ca_file.is_some();
        if redis_only {
            problem(
                "kind",
                "url, prefix, encryption_key and ca_file only apply to kind = \"redis\"; set it or remove them".into(),
            );
        }
        return Store::Memory;
    }
    if kind != "redis" {
        problem(
            "kind",
            "is not a store: use \"memory\" or \"redis\" (the value is not shown: it may be a secret pasted in the wrong place)".to_string(),
        );
        return Store::Memory;
    }
    let mut secret = |name: &str, env_key: Option<&str>, file: Option<&Path>| {
        read_secret(name, env_key, file, base, env).map_err(|e| problem(name, e))
    };
    let url = secret("url", raw.url_env.as_deref(), raw.url_file.as_deref());
    let key = secret(
        "encryption_key",
        raw.encryption_key_env.as_deref(),
        raw.encryption_key_file.as_deref(),
    );
    let prefix = raw.prefix.unwrap_or_else(|| "twoway".into());
    let mut problem = |key: &str, what: String| problems.push(format!("store.{key}: {what}"));
    if prefix.is_empty() || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        problem(
            "prefix",
            "use 1 to 64 printable characters without spaces, e.g. \"twoway\"".into(),
        );
    }
    if let Ok(url) = &url {
        let text = url.expose();
        if !(text.starts_with("redis://") || text.starts_with("rediss://")) {
            problem(
                "url",
                "must start with redis:// or rediss:// (the value is not shown: it may hold a password)".into(),
            );
        }
    }
    if let Ok(key) = &key
        && parse_key(key.expose()).is_none()
    {
        problem(
            "encryption_key",
            "must be 32 bytes written as 64 hex digits or as base64 (e.g. `openssl rand -hex 32`)"
                .into(),
        );
    }
    let mut ms = |key: &str, value: Option<u64>, default: u64| match value {
        None => Duration::from_millis(default),
        Some(v) if (1..=60_000).contains(&v) => Duration::from_millis(v),
        Some(v) => {
            problem(key, format!("{v} cannot work: use a value from 1 to 60000"));
            Duration::from_millis(default)
        }
    };
    let connect_timeout = ms("connect_timeout_ms", raw.connect_timeout_ms, 1000);
    let command_timeout = ms("command_timeout_ms", raw.command_timeout_ms, 500);
    let instances = match raw.instances {
        None => 1,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => {
            problem(
                "instances",
                format!("{n} cannot work: use a value from 1 to 1000"),
            );
            1
        }
    };
    let tls = url
        .as_ref()
        .is_ok_and(|u| u.expose().starts_with("rediss://"));
    let ca = raw.ca_file.as_deref().and_then(|path| {
        read_ca(path, base, tls)
            .map_err(|e| problem("ca_file", e))
            .ok()
    });
    match (url, key) {
        (Ok(url), Ok(encryption_key)) => Store::Redis(RedisStore {
            url,
            prefix,
            encryption_key,
            connect_timeout,
            command_timeout,
            instances,
            ca,
        }),
        _ => Store::Memory,
    }
}

/// The 32-byte key from `encryption_key_env`/`_file`: 64 hex digits or
/// base64 (padded or not).
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?
    };
    bytes.try_into().ok()
}

/// The PEM CA certificates of `ca_file`, checked; only with `rediss://`.
fn read_ca(path: &Path, base: &Path, tls: bool) -> Result<Vec<u8>, String> {
    if !tls {
        return Err(
            "only applies to a rediss:// url (TLS); use rediss:// or remove ca_file".into(),
        );
    }
    let path = base.join(path);
    let pem = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match crate::pem::certificates(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        _ => Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA that issued the Redis server's certificate",
            path.display()
        )),
    }
}

/// A required secret from `{name}_env` or `{name}_file`.
fn read_secret(
    name: &str,
    env_key: Option<&str>,
    file: Option<&Path>,
    base: &Path,
    env: EnvLookup<'_>,
) -> Result<Secret, String> {
    match (env_key, file) {
        (Some(_), Some(_)) => Err("set either the _env or the _file key, not both".into()),
        (Some(var), None) => match env(var) {
            Some(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
            _ => Err(format!("environment variable {var} is not set")),
        },
        (None, Some(path)) => {
            let path = base.join(path);
            match std::fs::read_to_string(&path) {
                Ok(text) if text.len() <= 64 * 1024 => Ok(Secret::new(text.trim())),
                Ok(_) => Err(format!("{} is larger than 64 KiB", path.display())),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        }
        (None, None) => Err(format!(
            "required with kind = \"redis\": set {name}_env or {name}_file"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_or_base64_only_at_32_bytes() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_key(&hex).unwrap()[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(parse_key(&b64), Some([7u8; 32]));
        assert_eq!(parse_key("00ff"), None);
        assert_eq!(parse_key(&"00".repeat(33)), None);
        assert_eq!(parse_key("not a key"), None);
    }

    fn check_text(store: &str) -> Result<Store, Vec<String>> {
        let env = |name: &str| match name {
            "URL" => Some("redis://:pw@127.0.0.1:6379/0".to_string()),
            "KEY" => Some("ab".repeat(32)),
            "SHORT" => Some("abcd".to_string()),
            _ => None,
        };
        crate::config::from_toml(store, Path::new("/"), &env).map(|c| c.store)
    }

    #[test]
    fn memory_is_the_default_and_redis_needs_a_url_and_a_key() {
        assert_eq!(check_text("").unwrap(), Store::Memory);
        assert_eq!(
            check_text("[store]\nkind = \"memory\"").unwrap(),
            Store::Memory
        );
        let Store::Redis(redis) = check_text(
            "[store]\nkind = \"redis\"\nurl_env = \"URL\"\nencryption_key_env = \"KEY\"\ninstances = 3",
        )
        .unwrap() else {
            panic!("a redis store")
        };
        assert_eq!((redis.prefix.as_str(), redis.instances), ("twoway", 3));
        assert_eq!(redis.command_timeout, Duration::from_millis(500));

        let problems = check_text("[store]\nkind = \"redis\"").unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("store.url: required")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("store.encryption_key: required")),
            "{problems:?}"
        );
    }

    #[test]
    fn bad_values_are_named_without_quoting_secrets() {
        let problems = check_text(
            "[store]\nkind = \"redis\"\nurl_env = \"URL\"\nencryption_key_env = \"SHORT\"\nprefix = \"a b\"\ncommand_timeout_ms = 0\ninstances = 0",
        )
        .unwrap_err();
        for key in [
            "store.encryption_key:",
            "store.prefix:",
            "store.command_timeout_ms:",
            "store.instances:",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(key)),
                "{key}: {problems:?}"
            );
        }
        let all = problems.join("\n");
        assert!(!all.contains("abcd") && !all.contains(":pw@"), "{all}");
        let problems = check_text("[store]\nkind = \"disk\"").unwrap_err();
        assert!(
            problems[0].contains("\"memory\" or \"redis\""),
            "{problems:?}"
        );
        let problems = check_text("[store]\nurl_env = \"URL\"").unwrap_err();
        assert!(problems[0].starts_with("store.kind:"), "{problems:?}");
    }

    #[test]
    fn ca_file_needs_rediss_and_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("ca.txt");
        std::fs::write(&not_pem, "not a certificate").unwrap();
        let store = |url: &str, ca: &Path| {
            let env = |name: &str| match name {
                "URL" => Some(url.to_string()),
                "KEY" => Some("ab".repeat(32)),
                _ => None,
            };
            let text = format!(
                "[store]\nkind = \"redis\"\nurl_env = \"URL\"\nencryption_key_env = \"KEY\"\nca_file = \"{}\"",
                ca.display()
            );
            crate::config::from_toml(&text, Path::new("/"), &env).map(|c| c.store)
        };
        let problems = store("redis://:pw@h:6379/", &not_pem).unwrap_err();
        assert!(
            problems[0].starts_with("store.ca_file:") && problems[0].contains("rediss://"),
            "{problems:?}"
        );
        assert!(!problems[0].contains(":pw@"), "{problems:?}");
        let problems = store("rediss://h:6380/", &not_pem).unwrap_err();
        assert!(problems[0].contains("no PEM certificate"), "{problems:?}");
        let problems = store("rediss://h:6380/", &dir.path().join("missing.pem")).unwrap_err();
        assert!(problems[0].contains("cannot read"), "{problems:?}");

        let ca = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["redis".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&ca, cert.pem()).unwrap();
        let Ok(Store::Redis(redis)) = store("rediss://h:6380/", &ca) else {
            panic!("a redis store with a CA")
        };
        assert_eq!(redis.ca.as_deref(), Some(cert.pem().as_bytes()));
    }
}
