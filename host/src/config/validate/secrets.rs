//! Secrets from `*_env` / `*_file` (the admin token, API keys, passwords),
//! bounded and never echoed, and client identities.

use super::*;

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

    pub(super) fn api_keys(
        &mut self,
        key: &str,
        env: Option<&str>,
        file: Option<&Path>,
    ) -> Vec<Secret> {
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
