//! A proxy from its URL (`http://[user[:password]@]host[:port]`) or from
//! the environment (`HTTPS_PROXY`, `NO_PROXY`).

use super::{NoProxy, Proxy, ProxyCredentials};
use crate::secret::Secret;

impl Proxy {
    /// Parses `http://[user[:password]@]host[:port][/]` (the scheme may be
    /// left out, as in many `HTTPS_PROXY` values; the port defaults to 80).
    /// Percent-encoded user info is decoded. Errors never quote the URL,
    /// which may hold a password.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "the proxy URL's scheme is {scheme:?}: only http:// proxies (HTTP CONNECT) are supported"
                ));
            }
            None => url,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err("a proxy URL has no path: use http://host:port".into());
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport)
            .ok_or("the proxy URL needs a host, as in http://proxy.example.com:3128")?;
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("the proxy URL's port is not a number from 1 to 65535")?,
            None => 80,
        };
        let credentials = userinfo.map(|u| {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            ProxyCredentials {
                username: decode(user),
                password: Secret::new(decode(pass)),
            }
        });
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            credentials,
            no_proxy: NoProxy::default(),
        })
    }

    /// The proxy named by the environment: `https_proxy` or `HTTPS_PROXY`
    /// (lowercase first, as curl does), with `no_proxy` / `NO_PROXY`.
    /// Loopback (`localhost`, 127.0.0.0/8, ::1) is always reached directly,
    /// as Go's net/http does. `Ok(None)` when no proxy is set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let pick = |a: &str, b: &str| {
            env(a)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (a.to_string(), v))
                .or_else(|| {
                    env(b)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (b.to_string(), v))
                })
        };
        let Some((var, url)) = pick("https_proxy", "HTTPS_PROXY") else {
            return Ok(None);
        };
        let mut proxy = Self::parse(&url).map_err(|e| format!("{var}: {e}"))?;
        let list = pick("no_proxy", "NO_PROXY")
            .map(|(_, l)| l)
            .unwrap_or_default();
        proxy.no_proxy = NoProxy::parse(&format!("{list},localhost,127.0.0.0/8,::1"));
        Ok(Some(proxy))
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
pub(super) fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return (!host.is_empty()).then_some((host, port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (s, None),
    };
    (!host.is_empty()).then_some((host, port))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = Proxy::parse("http://alice:s%40cret@Proxy.Example.com:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.example.com", 3128));
        let c = p.credentials.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("alice", "s@cret")
        );
        let p = Proxy::parse("10.0.0.1:8080").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.credentials),
            ("10.0.0.1", 8080, None)
        );
        assert_eq!(
            Proxy::parse("http://[::1]:3128").unwrap().to_string(),
            "[::1]:3128"
        );
        assert_eq!(Proxy::parse("http://proxy").unwrap().port, 80);
        let e = Proxy::parse("https://u:hunter2@proxy:443").unwrap_err();
        assert!(e.contains("only http://") && !e.contains("hunter2"), "{e}");
        assert!(Proxy::parse("http://proxy:99999").is_err());
        assert!(Proxy::parse("http://proxy:3128/path").is_err());
        assert!(Proxy::parse("http://").is_err());
    }

    #[test]
    fn display_hides_credentials() {
        let p = Proxy::parse("http://alice:hunter2@proxy:3128").unwrap();
        assert_eq!(p.to_string(), "proxy:3128");
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn environment_lowercase_first_and_no_proxy() {
        let env = |name: &str| match name {
            "https_proxy" => Some("http://low:3128".to_string()),
            "HTTPS_PROXY" => Some("http://up:3128".to_string()),
            "NO_PROXY" => Some("internal.example.com, 10.0.0.0/8".to_string()),
            _ => None,
        };
        let p = Proxy::from_env(&env).unwrap().unwrap();
        assert_eq!(p.host, "low");
        assert!(!p.applies_to("api.internal.example.com", 443));
        assert!(!p.applies_to("10.1.2.3", 443));
        assert!(p.applies_to("login.salesforce.com", 443));
        assert!(!p.applies_to("127.0.0.1", 8443) && !p.applies_to("localhost", 1));
        assert_eq!(Proxy::from_env(&|_| None).unwrap(), None);
        let bad = |name: &str| (name == "HTTPS_PROXY").then(|| "ftp://x".to_string());
        assert!(
            Proxy::from_env(&bad)
                .unwrap_err()
                .starts_with("HTTPS_PROXY:")
        );
    }
}
