//! Secrets from `*_env` / `*_file` (the admin token, API keys, passwords),
//! bounded and never echoed, and client identities.

use super::*;

/// Shortest API key accepted.
pub const MIN_API_KEY_CHARS: usize = 32;
/// Fewest different characters an API key must have.
pub const MIN_API_KEY_DISTINCT: usize = 8;
/// The rule, as messages and docs/config.md say it.
const MIN_API_KEY_RULE: &str =
    "at least 32 characters, at least 8 of them different (e.g. `openssl rand -hex 32`)";

/// Why an API key is too weak to guard a tenant, without showing it.
pub fn weak_key(key: &str) -> Option<String> {
    let chars = key.chars().count();
    if chars < MIN_API_KEY_CHARS {
        return Some(format!("it has {chars} characters"));
    }
    let distinct = key.chars().collect::<std::collections::BTreeSet<_>>().len();
    (distinct < MIN_API_KEY_DISTINCT)
        .then(|| format!("it repeats a few characters ({distinct} different ones)"))
}

impl Checker<'_> {
    /// `[server] admin_token_env` / `_file`: required when the admin listener
    /// is not on loopback, since anyone who reaches it could reload the config.
    pub(super) fn admin_token(
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

    /// `api_keys_env` / `_file`: at least one key, each one strong (see
    /// [`weak_key`]). Keys are named by their place in the list, never shown.
    pub(super) fn api_keys(
        &mut self,
        key: &str,
        env: Option<&str>,
        file: Option<&Path>,
    ) -> Vec<Secret> {
        let Some(text) = self.secret(&format!("{key}.api_keys"), env, file, false) else {
            return Vec::new();
        };
        let keys: Vec<&str> = text
            .expose()
            .split([',', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        let source = if env.is_some() { "env" } else { "file" };
        let at = format!("{key}.api_keys_{source}");
        if keys.is_empty() {
            self.problem(
                &at,
                format!("holds no API key, which would leave the tenant open to certificate-only callers: give at least one key ({MIN_API_KEY_RULE}), or remove api_keys_{source}"),
            );
        }
        let count = keys.len();
        for (i, k) in keys.iter().enumerate() {
            if let Some(why) = weak_key(k) {
                self.problem(
                    &at,
                    format!("API key {} of {count} is too weak: {why}; API keys must have {MIN_API_KEY_RULE}", i + 1),
                );
            }
        }
        keys.into_iter().map(Secret::new).collect()
    }

    /// A secret from `<name>_env` or `<name>_file`; `required` reports its absence.
    pub(super) fn secret(
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
                self.files.insert(path.clone());
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

    pub(super) fn identity(&mut self, key: &str, i: RawIdentity) -> Option<IdentitySource> {
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
}
