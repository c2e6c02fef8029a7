//! Checks a tenant's `proxy` key (a child of `validate`): absent means the
//! environment (`https_proxy` / `HTTPS_PROXY`, `no_proxy` / `NO_PROXY`),
//! `false` means direct, a table names the proxy itself and overrides the
//! environment entirely (its own `no_proxy` included).

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};

use super::Checker;
use crate::config::raw::{RawProxy, RawProxyTable};
use crate::config::{NoProxy, Proxy, ProxyCredentials};

impl<'de> Deserialize<'de> for RawProxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = RawProxy;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("false, or a table like { url = \"http://proxy:3128\" }")
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawProxy, E> {
                Ok(RawProxy::Switch(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawProxy, A::Error> {
                RawProxyTable::deserialize(MapAccessDeserializer::new(map)).map(RawProxy::Table)
            }
        }
        d.deserialize_any(Either)
    }
}

impl Checker<'_> {
    pub(super) fn proxy(&mut self, key: &str, raw: Option<RawProxy>) -> Option<Proxy> {
        let t = match raw {
            None => {
                return Proxy::from_env(self.env).unwrap_or_else(|e| {
                    self.problem(
                        key,
                        format!("{e} (fix the variable, or set proxy = false for this tenant)"),
                    );
                    None
                });
            }
            Some(RawProxy::Switch(false)) => return None,
            Some(RawProxy::Switch(true)) => {
                self.problem(
                    key,
                    "proxy = true means nothing: leave proxy out to use HTTPS_PROXY, set proxy = false for none, or proxy = { url = \"http://proxy:3128\" }",
                );
                return None;
            }
            Some(RawProxy::Table(t)) => t,
        };
        let url = match (&t.url, &t.url_env) {
            (Some(url), None) => Some(url.clone()),
            (None, Some(var)) => match (self.env)(var).filter(|v| !v.trim().is_empty()) {
                Some(v) => Some(v),
                None => {
                    self.problem(
                        &format!("{key}.url_env"),
                        format!("environment variable {var} is not set"),
                    );
                    None
                }
            },
            _ => {
                self.problem(
                    key,
                    "give exactly one of url = \"http://proxy:3128\" or url_env = \"VAR\"",
                );
                None
            }
        };
        let password = self.secret(
            &format!("{key}.password"),
            t.password_env.as_deref(),
            t.password_file.as_deref(),
            false,
        );
        let url_key = if t.url.is_some() { "url" } else { "url_env" };
        let mut proxy = match Proxy::parse(&url?) {
            Ok(p) => p,
            Err(e) => {
                self.problem(&format!("{key}.{url_key}"), e);
                return None;
            }
        };
        match (t.username, password) {
            (Some(_), _) if proxy.credentials.is_some() => {
                self.problem(
                    key,
                    "credentials are both in the URL and in username: keep one",
                );
            }
            (Some(username), password) => {
                proxy.credentials = Some(ProxyCredentials {
                    username,
                    password: password.unwrap_or_else(|| crate::secret::Secret::new("")),
                });
            }
            (None, Some(_)) => {
                self.problem(key, "password_env / password_file need a username");
            }
            (None, None) => {}
        }
        proxy.no_proxy = NoProxy::parse(t.no_proxy.as_deref().unwrap_or_default());
        Some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Tenant;

    fn tenant(proxy: &str, env: &[(&str, &str)]) -> Result<Tenant, Vec<String>> {
        let text = format!(
            "[[tenant]]\nname = \"t\"\n{proxy}\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"u\"\npassword_env = \"PW\"\n"
        );
        let lookup = |name: &str| {
            (name == "PW").then(|| "pw".to_string()).or_else(|| {
                env.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        super::super::from_toml(&text, Path::new("/"), &lookup).map(|c| c.tenants[0].clone())
    }

    #[test]
    fn environment_table_and_off() {
        let env = [
            ("HTTPS_PROXY", "http://envproxy:3128"),
            ("NO_PROXY", ".corp"),
        ];
        let p = tenant("", &env).unwrap().proxy.unwrap();
        assert_eq!(p.to_string(), "envproxy:3128");
        assert!(!p.applies_to("x.corp", 443));
        assert_eq!(tenant("proxy = false", &env).unwrap().proxy, None);
        assert_eq!(tenant("", &[]).unwrap().proxy, None);
        let p = tenant(
            "proxy = { url_env = \"TENANT_PROXY\", username = \"bob\", password_env = \"PW\" }",
            &[("TENANT_PROXY", "http://own:8080"), ("NO_PROXY", "own")],
        )
        .unwrap()
        .proxy
        .unwrap();
        assert_eq!(p.to_string(), "own:8080");
        assert!(p.applies_to("x.corp", 443), "the table ignores NO_PROXY");
        let c = p.credentials.unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("bob", "pw"));
    }

    #[test]
    fn problems_name_the_key_and_hide_passwords() {
        let problems = |proxy: &str| tenant(proxy, &[]).unwrap_err().join("\n");
        let p = problems("proxy = { url = \"https://u:hunter2@p:1\" }");
        assert!(
            p.contains("tenant[t].proxy.url") || p.contains(".proxy.url"),
            "{p}"
        );
        assert!(!p.contains("hunter2"), "{p}");
        assert!(
            problems("proxy = { password_env = \"PW\", url = \"http://p:1\" }")
                .contains("need a username")
        );
        assert!(problems("proxy = {}").contains("exactly one of url"));
        assert!(problems("proxy = true").contains("proxy = false"));
        let unknown = problems("proxy = { url = \"http://p:1\", pasword_env = \"PW\" }");
        assert!(unknown.contains("unknown field `pasword_env`"), "{unknown}");
        let string = problems("proxy = \"none\"");
        assert!(string.contains("expected false, or a table"), "{string}");
        assert!(problems("proxy = { url_env = \"NOPE\" }").contains("NOPE is not set"));
        let bad_env = tenant("", &[("https_proxy", "socks5://p:1")])
            .unwrap_err()
            .join("\n");
        assert!(bad_env.contains("https_proxy:"), "{bad_env}");
    }
}
