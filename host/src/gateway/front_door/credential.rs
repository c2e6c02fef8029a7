//! Who a front-door caller is. The tenant is chosen by the credential only:
//! a token the gateway issued (its grant names the tenant) or one of a
//! tenant's API keys, carried where the client's API carries a session
//! (`Authorization: Bearer|OAuth`, `X-SFDC-Session` with or without a
//! doubled `Bearer ` prefix, the SOAP `SessionHeader`, the identity URL's
//! `oauth_token`); then the tenant's `callers` certificate policy. Every
//! refusal looks the same to the client; the reason is for the log.

use std::sync::Arc;
use std::time::SystemTime;

use super::errors::FrontDoorError;
use super::tokens::{self, TokenError, TokenStore};
use crate::gateway::auth::{self, Caller};
use crate::gateway::{Generation, TenantRuntime};

/// The credential a request presents, by the first carrier that has one.
pub fn presented(
    headers: &http::HeaderMap,
    soap_session: Option<&str>,
    query: Option<&str>,
) -> Option<String> {
    let header = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let strip = |mut value: &str| {
        // Data Loader doubles the prefix when Authorization was preset.
        while let Some(rest) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("OAuth "))
        {
            value = rest.trim_start();
        }
        if matches!(value, "Bearer" | "OAuth") {
            value = "";
        }
        value.to_string()
    };
    soap_session
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| header(http::header::AUTHORIZATION).map(strip))
        .or_else(|| header(http::header::HeaderName::from_static("x-sfdc-session")).map(strip))
        .or_else(|| {
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .find(|(k, _)| k == "oauth_token")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|s| !s.is_empty())
}

/// Why a presented credential names no tenant.
#[derive(Debug)]
pub enum Refusal {
    /// Not a credential of a front-door tenant (the reason is for the log).
    Credential(&'static str),
    /// The token store could not tell (Redis down), or a token's record
    /// does not verify.
    Store(TokenError),
}

impl From<&'static str> for Refusal {
    fn from(reason: &'static str) -> Self {
        Self::Credential(reason)
    }
}

impl Refusal {
    /// The error the client gets; the reason goes to the log.
    pub fn to_front_door(&self, request_id: &str) -> FrontDoorError {
        match self {
            Self::Credential(reason) => super::refused(reason, request_id),
            Self::Store(e @ TokenError::Refused(_)) => {
                tracing::warn!(%request_id, error = %e, "front door caller refused: a token record in Redis was written without the encryption key or changed");
                e.to_front_door()
            }
            Self::Store(e) => {
                tracing::error!(%request_id, error = %e, "front door cannot check a gateway token");
                e.to_front_door()
            }
        }
    }
}

/// The tenant `presented` (a token or an API key) belongs to, if it opted
/// in, still holds the key and accepts the caller's certificate.
pub async fn tenant_of(
    generation: &Generation,
    store: &dyn TokenStore,
    presented: &str,
    caller: &Caller,
) -> Result<Arc<TenantRuntime>, Refusal> {
    let (tenant, key) = if tokens::is_token(presented) {
        let longest = generation.config.front_door.token_ttl;
        let grant = store
            .get(tokens::digest(presented), longest)
            .await
            .map_err(Refusal::Store)?
            .ok_or("an unknown or expired gateway token")?;
        if grant.expires_at <= SystemTime::now() {
            return Err("an expired gateway token".into());
        }
        let tenant = generation
            .tenants
            .get(&grant.tenant)
            .filter(|t| t.config.front_door)
            .ok_or("a token of a tenant that left the config or the front door")?;
        if !tenant.api_keys.contains(&grant.key) {
            return Err("a token obtained with an API key that left the config".into());
        }
        (tenant.clone(), grant.key)
    } else {
        let key = auth::key_digest(presented);
        let mut matching = generation
            .tenants
            .values()
            .filter(|t| t.config.front_door && t.api_keys.contains(&key));
        let tenant = matching
            .next()
            .ok_or("not a gateway token nor a front-door tenant's API key")?;
        if matching.next().is_some() {
            return Err(
                "an API key that several front-door tenants share; give each its own".into(),
            );
        }
        (tenant.clone(), key)
    };
    auth::Gate::of(&tenant, generation.client_ca()).check(Some(&key), caller)?;
    Ok(tenant)
}

/// A login: `name` must be a front-door tenant, `key` one of its API keys,
/// and the caller's certificate one its policy accepts. Returns the tenant
/// and the key's digest (the token remembers it).
pub fn login(
    generation: &Generation,
    name: &str,
    key: &str,
    caller: &Caller,
) -> Result<(Arc<TenantRuntime>, [u8; 32]), &'static str> {
    let digest = auth::key_digest(key);
    let Some(tenant) = generation.tenants.get(name).filter(|t| t.config.front_door) else {
        // The work a tenant costs, so timing does not tell.
        auth::refuse_unknown(generation.client_ca(), Some(&digest), caller);
        return Err("no front-door tenant of this name");
    };
    auth::Gate::of(tenant, generation.client_ca()).check(Some(&digest), caller)?;
    Ok((tenant.clone(), digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (http::header::HeaderName::from_static(k), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn every_carrier_is_read() {
        let none = http::HeaderMap::new();
        assert_eq!(
            presented(&none, Some(" tok "), None).as_deref(),
            Some("tok")
        );
        let h = headers(&[("authorization", "Bearer tok")]);
        assert_eq!(presented(&h, None, None).as_deref(), Some("tok"));
        let h = headers(&[("authorization", "OAuth tok")]);
        assert_eq!(presented(&h, None, None).as_deref(), Some("tok"));
        for v in ["tok", "Bearer tok", "Bearer Bearer tok"] {
            let h = headers(&[("x-sfdc-session", v)]);
            assert_eq!(presented(&h, None, None).as_deref(), Some("tok"), "{v}");
        }
        assert_eq!(
            presented(&none, None, Some("format=json&oauth_token=tok")).as_deref(),
            Some("tok")
        );
        let h = headers(&[("authorization", "Bearer ")]);
        assert_eq!(presented(&h, Some(""), Some("a=1")), None);
    }
}
