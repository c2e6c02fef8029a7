//! Outbound HTTP proxies: which proxy a tenant uses (its own `proxy` table,
//! or `HTTPS_PROXY` / `NO_PROXY` from the environment), and the HTTP CONNECT
//! tunnel opened through it. The tenant's TLS (mutual when configured) runs
//! end to end inside the tunnel: the proxy sees only the target's name.
//! Proxy credentials go in a Basic `Proxy-Authorization` header on the
//! CONNECT and nowhere else; errors name the proxy, never the password.

use std::net::IpAddr;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TransportError;
use crate::secret::Secret;

/// Longest CONNECT answer head read from a proxy.
const MAX_REPLY_HEAD: usize = 16 * 1024;

/// One outbound HTTP proxy and the hosts that bypass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy's host name or IP address (no brackets).
    pub host: String,
    pub port: u16,
    /// Basic credentials sent on the CONNECT (`Proxy-Authorization`).
    pub credentials: Option<ProxyCredentials>,
    /// Targets reached directly, not through the proxy.
    pub no_proxy: NoProxy,
}

/// A proxy user and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Display for Proxy {
    /// `host:port`, never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

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

    /// True when a connection to `host:port` goes through this proxy.
    pub fn applies_to(&self, host: &str, port: u16) -> bool {
        !self.no_proxy.matches(host, port)
    }

    /// Asks the proxy, over `tcp`, for a tunnel to `host:port`; on success
    /// the stream carries the target's bytes from then on.
    pub async fn connect(
        &self,
        tcp: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), TransportError> {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let fail = |reason: String| TransportError::Proxy {
            proxy: self.to_string(),
            target: authority.clone(),
            reason,
        };
        let mut head = format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Connection: Keep-Alive\r\n"
        );
        if let Some(c) = &self.credentials {
            let token = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username,
                c.password.expose()
            ));
            head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes())
            .await
            .map_err(|e| fail(format!("cannot send the CONNECT request: {e}")))?;
        let mut reply = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        let end = loop {
            if let Some(end) = find_head_end(&reply) {
                break end;
            }
            if reply.len() > MAX_REPLY_HEAD {
                return Err(fail(format!(
                    "its answer to CONNECT is longer than {MAX_REPLY_HEAD} bytes"
                )));
            }
            let n = tcp
                .read(&mut chunk)
                .await
                .map_err(|e| fail(format!("reading its answer to CONNECT: {e}")))?;
            if n == 0 {
                return Err(fail(
                    "it closed the connection without answering CONNECT".into(),
                ));
            }
            reply.extend_from_slice(&chunk[..n]);
        };
        let status = String::from_utf8_lossy(&reply[..end]);
        let line = status.lines().next().unwrap_or_default();
        let code = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| fail(format!("its answer to CONNECT is not HTTP: {:.80}", line)))?;
        match code {
            // A refusal may carry a body; a tunnel may not, before TLS.
            200..=299 if end != reply.len() => Err(fail(
                "it sent bytes after its answer to CONNECT, before TLS began".into(),
            )),
            200..=299 => Ok(()),
            // 407, or 401 as some proxies (tinyproxy) answer a CONNECT.
            401 | 407 if self.credentials.is_some() => Err(fail(format!(
                "{}: the proxy refused the credentials \
                 (check the proxy's username and password_env / password_file)",
                line.trim()
            ))),
            401 | 407 => Err(fail(format!(
                "{}: the proxy wants credentials \
                 (set the tenant's proxy username and password_env / password_file, \
                 or user:password@ in HTTPS_PROXY)",
                line.trim()
            ))),
            _ => Err(fail(format!(
                "it refused CONNECT: {:.120} (does the proxy allow CONNECT to this host and port?)",
                line.trim()
            ))),
        }
    }
}

/// Hosts that bypass the proxy, in `NO_PROXY` syntax: a comma- (or
/// space-) separated list of `*` (everything), IP addresses, CIDR blocks,
/// and host names that match themselves and their subdomains (a leading
/// `.` or `*.` means the same), each optionally with `:port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyEntry {
    All,
    Ip(IpAddr, Option<u16>),
    Cidr(IpAddr, u8),
    Domain(String, Option<u16>),
}

impl NoProxy {
    /// Parses a `NO_PROXY` value; entries that mean nothing are skipped.
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split([',', ' ', '\t', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(|e| {
                if e == "*" {
                    return Some(NoProxyEntry::All);
                }
                if let Some((ip, bits)) = e.split_once('/') {
                    let ip = ip.trim_start_matches('[').trim_end_matches(']');
                    let ip = ip.parse::<IpAddr>().ok()?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let bits = bits.parse::<u8>().ok().filter(|b| *b <= max)?;
                    return Some(NoProxyEntry::Cidr(ip, bits));
                }
                if let Ok(ip) = e.parse::<IpAddr>() {
                    return Some(NoProxyEntry::Ip(ip, None));
                }
                let (host, port) = split_host_port(e)?;
                let port = match port {
                    Some(p) => Some(p.parse::<u16>().ok()?),
                    None => None,
                };
                if let Ok(ip) = host.parse::<IpAddr>() {
                    return Some(NoProxyEntry::Ip(ip, port));
                }
                let domain = host
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                (!domain.is_empty()).then_some(NoProxyEntry::Domain(domain, port))
            })
            .collect();
        Self { entries }
    }

    /// True when `host:port` is reached directly.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        self.entries.iter().any(|e| match e {
            NoProxyEntry::All => true,
            NoProxyEntry::Ip(want, p) => ip == Some(*want) && port_ok(p),
            NoProxyEntry::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
            NoProxyEntry::Domain(d, p) => {
                port_ok(p)
                    && (host == *d
                        || host
                            .strip_suffix(d.as_str())
                            .is_some_and(|head| head.ends_with('.')))
            }
        })
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) as u128, u32::from(b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - u32::from(bits);
    (a >> shift) == (b >> shift)
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
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

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
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

    #[test]
    fn no_proxy_semantics() {
        let n = NoProxy::parse(
            ".example.com,*.corp.test, localhost:8443 127.0.0.1 ::1,[fd00::1]:443,192.168.0.0/16",
        );
        assert!(n.matches("example.com", 443));
        assert!(n.matches("a.b.example.com", 1));
        assert!(n.matches("A.EXAMPLE.COM.", 443));
        assert!(!n.matches("notexample.com", 443));
        assert!(n.matches("x.corp.test", 443));
        assert!(n.matches("corp.test", 443));
        assert!(n.matches("localhost", 8443));
        assert!(!n.matches("localhost", 443));
        assert!(n.matches("127.0.0.1", 9));
        assert!(!n.matches("127.0.0.2", 9));
        assert!(n.matches("[::1]", 443));
        assert!(n.matches("fd00::1", 443));
        assert!(!n.matches("fd00::1", 8443));
        assert!(n.matches("192.168.4.5", 443));
        assert!(!n.matches("192.169.0.1", 443));
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
        assert!(!NoProxy::parse("bad/xx, :::").matches("bad", 1));
    }
}
