//! One front-door request from body to answer: the body read (bounded),
//! a login terminated or the caller's credential resolved to a tenant, a
//! slot of the tenant's concurrency taken, and the request sent with the
//! tenant's session; the answer goes back as the API gave it, with only
//! what names the instance (identity, userinfo) rewritten to the gateway.

use bytes::Bytes;
use http_body_util::Full;

use super::errors::FrontDoorError;
use super::route::Route;
use super::{Served, credential, login, refuse, refused, tokens, upstream_error};
use crate::gateway::Shared;
use crate::gateway::auth::Caller;
use crate::problem::ProblemCode;
use crate::salesforce::Api;
use crate::upstream::Forward;
use crate::xml;

/// Request headers never sent on: hop-by-hop, the client's credentials
/// (the session goes in instead), and what the gateway sets itself.
/// `accept-encoding` too: answers are read (errors, identity) before they
/// go back.
const REQUEST_DROPPED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
    "authorization",
    "x-sfdc-session",
    "cookie",
    "proxy-authorization",
];

const JSON: &str = "application/json;charset=UTF-8";

/// Answer headers never passed back.
const ANSWER_DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "set-cookie",
];

pub(super) async fn serve(
    shared: &Shared,
    caller: &Caller,
    route: &Route,
    path: &str,
    request: http::Request<hyper::body::Incoming>,
    request_id: &str,
) -> Served {
    if let Route::NotFound(_) = route {
        let error = FrontDoorError::new(ProblemCode::NotFound, "not found");
        return refuse(route, false, error, request_id);
    }
    let generation = shared.current();
    let server = &generation.config.server;
    let (parts, body) = request.into_parts();
    let body = crate::gateway::routing::read_body(body, server.max_body_bytes, server.body_timeout);
    let body = match body.await {
        Ok(body) => body,
        Err((code, detail)) => {
            let error = FrontDoorError::new(code, detail);
            let mut served = refuse(route, false, error, request_id);
            // The rest of the body is not read: the connection cannot be reused.
            served.response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            return served;
        }
    };
    let (api, rewrite, soap_session) = match route {
        Route::Soap { api, version } => {
            let doc = match xml::parse(&body) {
                Ok(doc) => doc,
                Err(e) => {
                    let error = FrontDoorError::new(
                        ProblemCode::BadRequest,
                        format!("the body is not a SOAP envelope the gateway accepts: {e}"),
                    );
                    return refuse(route, false, error, request_id);
                }
            };
            if *api != Api::SoapMetadata
                && let Some(request) = login::soap_login(&doc)
            {
                return soap_login(shared, caller, route, *api, version, request, request_id).await;
            }
            let session = xml::soap_header(&doc).and_then(|header| {
                header
                    .descendants()
                    .find(|n| n.is_element() && n.tag_name().name() == "sessionId")
                    .map(|n| n.text().unwrap_or("").to_string())
            });
            (*api, false, session)
        }
        Route::OAuthToken => {
            return oauth_login(shared, caller, route, &parts.method, &body, request_id).await;
        }
        Route::Proxy { api, rewrite, .. } => (*api, *rewrite, None),
        Route::NotFound(_) => unreachable!("answered above"),
    };
    let query = parts.uri.query();
    let Some(presented) = credential::presented(&parts.headers, soap_session.as_deref(), query)
    else {
        return refuse(
            route,
            false,
            refused("no credential", request_id),
            request_id,
        );
    };
    let tokens = shared.front_door.tokens.as_ref();
    let tenant = match credential::tenant_of(&generation, tokens, &presented, caller).await {
        Ok(tenant) => tenant,
        Err(refusal) => return refuse(route, false, refusal.to_front_door(request_id), request_id),
    };
    let name = tenant.config.name.clone();
    let answer = |response| Served {
        response,
        tenant: Some(name.clone()),
    };
    let _slot = match tenant.limit.acquire().await {
        Ok(slot) => slot,
        Err(refusal) => {
            let mut error = FrontDoorError::new(
                ProblemCode::Overloaded,
                format!("tenant {name:?}: {refusal}"),
            );
            error.retry_after = Some(1);
            return answer(super::errors::response(
                route.family(),
                false,
                &error,
                request_id,
            ));
        }
    };
    let mut headers = parts.headers;
    for name in REQUEST_DROPPED {
        headers.remove(*name);
    }
    let forward = Forward {
        api,
        method: parts.method,
        path_and_query: match without_token(query) {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        },
        headers,
        body,
    };
    let fail = |error: FrontDoorError| {
        answer(super::errors::response(
            route.family(),
            false,
            &error,
            request_id,
        ))
    };
    let policy = match super::policy::Policy::of(shared, &tenant) {
        Ok(policy) => policy,
        Err(error) => return fail(error),
    };
    let forward = match &policy {
        Some(policy) => match policy.on_request(shared, forward).await {
            Ok(forward) => forward,
            Err(error) => return fail(error),
        },
        None => forward,
    };
    let upstream = &tenant.upstream;
    let reply = match upstream.forward(&forward).await {
        Ok(reply) => reply,
        Err(e) => {
            let error = upstream_error(&e);
            return answer(super::errors::response(
                route.family(),
                false,
                &error,
                request_id,
            ));
        }
    };
    let reply = match &policy {
        Some(policy) => match policy.on_response(shared, &forward, reply).await {
            Ok(reply) => reply,
            Err(error) => return fail(error),
        },
        None => reply,
    };
    let mut body = reply.body;
    if rewrite && let Ok(facts) = upstream.session_facts().await {
        let origin = shared.front_door.origin(&generation);
        body = rewrite_origins(&body, &facts.origins, &origin);
    }
    let mut response = http::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        if !ANSWER_DROPPED.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    let response = response
        .header("x-request-id", request_id)
        .body(Full::new(body))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())));
    answer(response)
}

/// A SOAP `login`: the tenant's credential checked, a token issued.
async fn soap_login(
    shared: &Shared,
    caller: &Caller,
    route: &Route,
    api: Api,
    version: &str,
    request: login::LoginRequest,
    request_id: &str,
) -> Served {
    let generation = shared.current();
    let issued = issue(shared, &generation, caller, &request, request_id).await;
    let (token, facts) = match issued {
        Ok(issued) => issued,
        Err(error) => return refuse(route, true, error, request_id),
    };
    let config = &generation.config.front_door;
    let body = login::soap_response(
        api,
        version,
        &shared.front_door.origin(&generation),
        token.expose(),
        &request.tenant,
        &facts,
        config.token_ttl,
    );
    written(
        200,
        "text/xml;charset=UTF-8",
        body,
        request_id,
        Some(request.tenant),
    )
}

/// An answer the front door writes itself.
fn written(
    status: u16,
    content_type: &'static str,
    body: String,
    request_id: &str,
    tenant: Option<String>,
) -> Served {
    let response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("x-request-id", request_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())));
    Served { response, tenant }
}

/// `POST /services/oauth2/token`: the password or client-credentials grant.
async fn oauth_login(
    shared: &Shared,
    caller: &Caller,
    route: &Route,
    method: &http::Method,
    body: &[u8],
    request_id: &str,
) -> Served {
    let oauth_error = |status: u16, error: &str, description: String| {
        let body = serde_json::json!({ "error": error, "error_description": description });
        written(status, JSON, body.to_string(), request_id, None)
    };
    if method != http::Method::POST {
        return oauth_error(400, "invalid_request", "must use HTTP POST".into());
    }
    let request = match login::oauth_login(body) {
        Ok(request) => request,
        Err(login::OAuthRefusal::Grant(_)) => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "grant type not supported".into(),
            );
        }
        Err(login::OAuthRefusal::Missing(field)) => {
            return oauth_error(400, "invalid_request", format!("missing {field}"));
        }
    };
    let generation = shared.current();
    let (token, facts) = match issue(shared, &generation, caller, &request, request_id).await {
        Ok(issued) => issued,
        Err(error) => return refuse(route, true, error, request_id),
    };
    let body = login::oauth_response(
        &shared.front_door.origin(&generation),
        token.expose(),
        &facts,
    );
    written(200, JSON, body, request_id, Some(request.tenant))
}

/// A token for a login's tenant, with what its session says of the org.
async fn issue(
    shared: &Shared,
    generation: &crate::gateway::Generation,
    caller: &Caller,
    request: &login::LoginRequest,
    request_id: &str,
) -> Result<(crate::secret::Secret, crate::upstream::SessionFacts), FrontDoorError> {
    let (tenant, key) = credential::login(generation, &request.tenant, &request.key, caller)
        .map_err(|reason| refused(reason, request_id))?;
    let facts = tenant
        .upstream
        .session_facts()
        .await
        .map_err(|e| upstream_error(&e))?;
    let config = &generation.config.front_door;
    let (token, _) = tokens::issue(
        shared.front_door.tokens.as_ref(),
        &tenant.config.name,
        key,
        config.token_ttl,
        config.max_tokens,
    )
    .await
    .map_err(|e| e.to_front_door())?;
    Ok((token, facts))
}

/// The query without `oauth_token` (the gateway's token stays here).
fn without_token(query: Option<&str>) -> Option<String> {
    let query = query?;
    if !query.contains("oauth_token") {
        return Some(query.to_string());
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("oauth_token=") && *pair != "oauth_token")
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// `body` with every one of the instance's `origins` replaced by `origin`.
fn rewrite_origins(body: &Bytes, origins: &[String], origin: &str) -> Bytes {
    let Ok(text) = std::str::from_utf8(body) else {
        return body.clone();
    };
    let mut text = text.to_string();
    // Longest first: the mutual-auth origin contains the standard one.
    let mut origins: Vec<&String> = origins.iter().filter(|o| !o.is_empty()).collect();
    origins.sort_by_key(|o| std::cmp::Reverse(o.len()));
    for from in origins {
        text = text.replace(from.as_str(), origin);
    }
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_goes_on_in_a_query() {
        assert_eq!(without_token(None), None);
        assert_eq!(
            without_token(Some("format=json")).as_deref(),
            Some("format=json")
        );
        assert_eq!(
            without_token(Some("format=json&oauth_token=00DX!t&version=1")).as_deref(),
            Some("format=json&version=1")
        );
        assert_eq!(without_token(Some("oauth_token=00DX!t")), None);
    }

    #[test]
    fn instance_origins_become_the_gateway() {
        let body = Bytes::from(
            r#"{"urls":{"rest":"https://sf:8443/services/data/v{version}/","partner":"https://sf/services/Soap/u/{version}/00D"}}"#,
        );
        let out = rewrite_origins(
            &body,
            &["https://sf".into(), "https://sf:8443".into()],
            "https://gw:1",
        );
        assert_eq!(
            out,
            Bytes::from(
                r#"{"urls":{"rest":"https://gw:1/services/data/v{version}/","partner":"https://gw:1/services/Soap/u/{version}/00D"}}"#
            )
        );
    }
}
