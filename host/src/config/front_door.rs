//! `[front_door]`: Salesforce's own surface served at the root of the
//! callers' listener (docs/front-door.md): the origin handed to clients in
//! login answers, the life and number of the tokens the gateway issues, and
//! the cap on bodies that stream (Bulk uploads and results).
//! Tenants opt in with `front_door = true`.

use std::time::Duration;

use serde::Deserialize;

/// The shortest token life: short enough for a test to watch clients
/// re-log in after INVALID_SESSION_ID, long enough for a login and a call.
pub const MIN_TOKEN_SECONDS: u64 = 5;

/// `[front_door]` exactly as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrontDoor {
    pub public_url: Option<String>,
    pub token_seconds: Option<u64>,
    pub max_tokens: Option<usize>,
    pub max_stream_mb: Option<usize>,
}

/// A checked `[front_door]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoor {
    /// `scheme://host[:port]` handed to clients as serverUrl, instance_url
    /// and id; `None`: the callers' listener's own address.
    pub public_url: Option<String>,
    /// How long a gateway-issued token is accepted.
    pub token_ttl: Duration,
    /// Most live tokens kept (a login past it is refused).
    pub max_tokens: usize,
    /// Most bytes of one Bulk body that streams (a request after gzip
    /// decoding, or an answer).
    pub max_stream_bytes: usize,
}

impl Default for FrontDoor {
    fn default() -> Self {
        Self {
            public_url: None,
            token_ttl: Duration::from_secs(7200),
            max_tokens: 100_000,
            max_stream_bytes: 1024 << 20,
        }
    }
}

/// Checks `raw`, pushing problems (with their key paths) onto `problems`.
pub(super) fn check(raw: Option<RawFrontDoor>, problems: &mut Vec<String>) -> FrontDoor {
    let d = FrontDoor::default();
    let Some(raw) = raw else {
        return d;
    };
    let mut problem = |key: &str, what: String| problems.push(format!("front_door.{key}: {what}"));
    let public_url = raw.public_url.and_then(|url| match origin(&url) {
        Ok(origin) => Some(origin),
        Err(why) => {
            problem(
                "public_url",
                format!("{url:?} {why}: write the origin clients reach, like \"https://gateway.example.com:8443\""),
            );
            None
        }
    });
    let token_seconds = match raw.token_seconds {
        None => d.token_ttl.as_secs(),
        Some(s) if (MIN_TOKEN_SECONDS..=86_400).contains(&s) => s,
        Some(s) => {
            problem(
                "token_seconds",
                format!("{s} cannot work: use a value from {MIN_TOKEN_SECONDS} to 86400"),
            );
            d.token_ttl.as_secs()
        }
    };
    let max_tokens = match raw.max_tokens {
        None => d.max_tokens,
        Some(n) if (1..=10_000_000).contains(&n) => n,
        Some(n) => {
            problem(
                "max_tokens",
                format!("{n} cannot work: use a value from 1 to 10000000"),
            );
            d.max_tokens
        }
    };
    let max_stream_bytes = match raw.max_stream_mb {
        None => d.max_stream_bytes,
        Some(n) if (1..=65_536).contains(&n) => n << 20,
        Some(n) => {
            problem(
                "max_stream_mb",
                format!("{n} cannot work: use a value from 1 to 65536"),
            );
            d.max_stream_bytes
        }
    };
    FrontDoor {
        public_url,
        token_ttl: Duration::from_secs(token_seconds),
        max_tokens,
        max_stream_bytes,
    }
}

/// A tenant that opts in needs API keys: they are what a client logs in
/// with (username = tenant name, password = key) or presents as a token.
pub(super) fn check_tenants(tenants: &[super::Tenant], problems: &mut Vec<String>) {
    for t in tenants
        .iter()
        .filter(|t| t.front_door && t.api_keys.is_empty())
    {
        problems.push(format!(
            "tenant[{}].front_door: clients log in with one of the tenant's API keys; set api_keys_env or api_keys_file",
            t.name
        ));
    }
}

/// `scheme://host[:port]` of `url`, refusing a path, query or user info:
/// clients (jsforce's Bulk 2, the sf CLI) drop or mangle a path prefix.
fn origin(url: &str) -> Result<String, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
    if !matches!(uri.scheme_str(), Some("https" | "http")) {
        return Err("is not an https:// URL");
    }
    let authority = uri.authority().ok_or("has no host")?;
    if authority.as_str().contains('@') {
        return Err("has user info");
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err("has a path or query; clients drop a path prefix");
    }
    Ok(format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("https"),
        authority
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_is_a_bare_origin() {
        assert_eq!(
            origin("https://gw.example.com:8443/").unwrap(),
            "https://gw.example.com:8443"
        );
        assert_eq!(origin("http://127.0.0.1:9").unwrap(), "http://127.0.0.1:9");
        for bad in [
            "gw.example.com",
            "ftp://x",
            "https://gw/pfx",
            "https://u@gw",
            "https://gw/?a=1",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let mut problems = Vec::new();
        let raw = RawFrontDoor {
            public_url: Some("https://gw/prefix".into()),
            token_seconds: Some(MIN_TOKEN_SECONDS - 1),
            max_tokens: Some(0),
            max_stream_mb: Some(0),
        };
        let checked = check(Some(raw), &mut problems);
        assert_eq!(checked, FrontDoor::default());
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[3].starts_with("front_door.max_stream_mb"));
        assert!(problems[0].starts_with("front_door.public_url"));
        assert!(problems[1].starts_with("front_door.token_seconds"));
    }
}
