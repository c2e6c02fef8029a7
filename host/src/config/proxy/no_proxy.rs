//! The `NO_PROXY` matcher: which targets are reached directly.

use std::net::IpAddr;

use super::url::split_host_port;

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

#[cfg(test)]
mod tests {
    use super::*;

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
