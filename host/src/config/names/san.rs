//! Subject alternative names as `callers.sans` lists them (`DNS:`, `URI:`,
//! `email:`, `IP:`), parsed when the config loads and compared as typed
//! values against the SANs x509-parser reads from a caller's certificate.

use std::fmt;
use std::net::IpAddr;

use x509_parser::extensions::GeneralName;

use super::NameError;

/// A subject alternative name as `callers.sans` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    /// `DNS:name`, compared without regard to ASCII case (DNS names are
    /// case-insensitive); no wildcard matching.
    Dns(String),
    /// `URI:uri`, compared exactly.
    Uri(String),
    /// `email:local@domain`: the local part exactly, the domain without
    /// regard to ASCII case.
    Email(String),
    /// `IP:address` (IPv4 or IPv6), compared as an address.
    Ip(IpAddr),
}

impl SubjectAltName {
    /// Parses `DNS:`, `URI:`, `email:` or `IP:` followed by the value (the
    /// prefix in any case).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let (kind, value) = text.split_once(':').ok_or(NameError::SanFormat)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(NameError::SanFormat);
        }
        match kind.trim().to_ascii_lowercase().as_str() {
            "dns" => Ok(Self::Dns(value.to_ascii_lowercase())),
            "uri" => Ok(Self::Uri(value.to_string())),
            "email" if value.contains('@') => Ok(Self::Email(normal_email(value))),
            "ip" => value
                .parse()
                .map(Self::Ip)
                .map_err(|_| NameError::BadIp(value.to_string())),
            _ => Err(NameError::SanFormat),
        }
    }

    /// The SAN of a certificate, when it is one of the listed kinds.
    pub fn from_general_name(name: &GeneralName<'_>) -> Option<Self> {
        match name {
            GeneralName::DNSName(s) => Some(Self::Dns(s.to_ascii_lowercase())),
            GeneralName::URI(s) => Some(Self::Uri((*s).to_string())),
            GeneralName::RFC822Name(s) => Some(Self::Email(normal_email(s))),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes).ok().map(|b| Self::Ip(b.into())),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| Self::Ip(b.into())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `Local@Domain` with the domain lowercased.
fn normal_email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => value.to_string(),
    }
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(v) => write!(f, "DNS:{v}"),
            Self::Uri(v) => write!(f, "URI:{v}"),
            Self::Email(v) => write!(f, "email:{v}"),
            Self::Ip(v) => write!(f, "IP:{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans() {
        let parse = |t: &str| SubjectAltName::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(
            parse("DNS:API.Example.com"),
            SubjectAltName::Dns("api.example.com".into())
        );
        assert_eq!(parse("dns:api.example.com"), parse("DNS:api.example.com"));
        assert_eq!(parse("IP:::1"), SubjectAltName::Ip("::1".parse().unwrap()));
        assert_eq!(
            parse("IP:192.0.2.7"),
            SubjectAltName::Ip([192, 0, 2, 7].into())
        );
        assert_eq!(
            parse("email:Ops@Example.COM"),
            SubjectAltName::Email("Ops@example.com".into())
        );
        assert_eq!(
            parse("URI:spiffe://acme/app"),
            SubjectAltName::Uri("spiffe://acme/app".into())
        );
        assert_ne!(
            parse("URI:spiffe://acme/app"),
            parse("URI:spiffe://acme/App")
        );
        assert_eq!(
            SubjectAltName::from_general_name(&GeneralName::IPAddress(&[192, 0, 2, 7])),
            Some(parse("IP:192.0.2.7"))
        );
        assert_eq!(
            SubjectAltName::from_general_name(&GeneralName::DNSName("API.example.com")),
            Some(parse("DNS:api.example.com"))
        );
        for bad in [
            "api.example.com",
            "DNS:",
            "IP:300.1.1.1",
            "email:nobody",
            "X400:x",
        ] {
            assert!(SubjectAltName::parse(bad).is_err(), "{bad}");
        }
    }
}
