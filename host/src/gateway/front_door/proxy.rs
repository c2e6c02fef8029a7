//! One front-door request from body to answer: the body read (gzip
//! decoded, bounded; on Bulk routes what is past `max_body_kb` streams on),
//! a login terminated or the caller's credential resolved to a tenant, a
//! slot of the tenant's concurrency taken, and the request sent with the
//! tenant's session; the answer goes back as the API gave it (Bulk
//! results as they come), with only what names the instance (identity,
//! userinfo) rewritten to the gateway.

use std::collections::VecDeque;

use bytes::Bytes;
use http::header;
use http_body_util::BodyExt;

use super::errors::FrontDoorError;
use super::route::Route;
use super::{Served, credential, login, refuse, refused, tokens, upstream_error};
use crate::gateway::auth::Caller;
use crate::gateway::linger;
use crate::gateway::{Generation, Shared};
use crate::problem::{ProblemCode, UpstreamCode};
use crate::salesforce::{Api, Envelope};
use crate::transport::{self, Capped, Overrun, StreamError};
use crate::upstream::{Answer, Carried, Forward};
use crate::xml;

/// Request headers never sent on: hop-by-hop, the client's credentials
/// (the session goes in instead), and what the gateway sets itself.
/// `accept-encoding` too (gzip alone is asked for, when the client takes
/// it: the one encoding the gateway can read); `content-encoding` because
/// a gzip body goes on decoded.
const REQUEST_DROPPED: [http::HeaderName; 15] = [
    header::HOST,
    header::CONNECTION,
    http::HeaderName::from_static("keep-alive"),
    http::HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::ACCEPT_ENCODING,
    header::AUTHORIZATION,
    http::HeaderName::from_static("x-sfdc-session"),
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

const JSON: &str = "application/json;charset=UTF-8";

/// Answer headers never passed back.
const ANSWER_DROPPED: [http::HeaderName; 8] = [
    header::CONNECTION,
    http::HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
    header::SET_COOKIE,
];

/// Removes from `headers` every header `dropped` names. The few names a
/// request or an answer carries are each looked for in the list and only
/// those found are removed: a hashed look-up of every name on the list,
/// most of them absent, cost more (docs/performance.md, the ninth round).
fn drop_headers<const N: usize>(headers: &mut http::HeaderMap, dropped: &[http::HeaderName; N]) {
    const { assert!(N <= 64, "one bit a name") };
    let mut found = 0u64;
    for name in headers.keys() {
        if let Some(at) = dropped.iter().position(|d| d == name) {
            found |= 1 << at;
        }
    }
    while found != 0 {
        headers.remove(&dropped[found.trailing_zeros() as usize]);
        found &= found - 1;
    }
}

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
    let (parts, body) = request.into_parts();
    let declared = linger::declared(&parts.headers);
    let read = match too_long(&generation, declared, route.streams()) {
        Some(error) => Err((error, Some(body.map_err(Into::into).boxed_unsync()))),
        None => read(&generation, &parts.headers, body, route.streams()).await,
    };
    let (body, streamed) = match read {
        Ok(Held::Whole(body)) => {
            crate::gateway::access::body_read(body.len());
            (body, None)
        }
        Ok(Held::Stream(body, overrun, rest)) => {
            crate::gateway::access::body_streams(&overrun);
            (Bytes::new(), Some((body, overrun, rest)))
        }
        Err((error, rest)) => {
            let mut served = refuse(route, false, error, request_id);
            // The rest of the body is not read: the connection cannot be
            // reused, and closes once the rest is thrown away (so that a
            // client still sending reads this answer).
            closes(&mut served);
            if let Some(rest) = rest {
                linger::discard(rest, declared);
            }
            return served;
        }
    };
    let (api, rewrite, soap_session, soap_operation, prepared) = match route {
        Route::Soap { api, version } => {
            // Split for the session now, in one pass over an envelope in
            // the plain subset clients write, else from the tree; should
            // that fail, the upstream layer refuses it as it would any body.
            let envelope = match Envelope::plain(*api, &body) {
                Some(envelope) => envelope,
                None => {
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
                    if matches!(api, Api::SoapPartner | Api::SoapEnterprise)
                        && let Some(request) = login::soap_login(&doc)
                    {
                        return soap_login(
                            shared, caller, route, *api, version, request, request_id,
                        )
                        .await;
                    }
                    Envelope::of_tree(*api, &body, &doc)
                }
            };
            (
                *api,
                false,
                envelope.session,
                envelope.operation,
                envelope.prepared,
            )
        }
        Route::OAuthToken => {
            return oauth_login(shared, caller, route, &parts.method, &body, request_id).await;
        }
        Route::Proxy { api, rewrite, .. } => (*api, *rewrite, None, None, None),
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
    let fail = |error: FrontDoorError| Served {
        response: super::errors::response(route.family(), false, &error, request_id),
        tenant: Some(name.clone()),
        code: error.code.code(),
    };
    let _slot = match tenant.limit.acquire().await {
        Ok(slot) => slot,
        Err(refusal) => {
            let mut error = FrontDoorError::new(
                ProblemCode::Overloaded,
                format!("tenant {name:?}: {refusal}"),
            );
            error.retry_after = Some(1);
            return fail(error);
        }
    };
    let mut policy = match super::policy::Policy::of(shared, &tenant) {
        Ok(policy) => policy,
        Err(error) => return fail(error),
    };
    if policy.is_some() && streamed.is_some() {
        return fail(FrontDoorError::new(
            ProblemCode::PayloadTooLarge,
            format!(
                "the body is over the {}-byte limit ([server] max_body_kb); bodies do not stream for a tenant with a policy",
                generation.config.server.max_body_bytes
            ),
        ));
    }
    let mut headers = parts.headers;
    // A gzip answer goes back as the API sent it, unless the gateway must
    // read it whole (a rewritten answer, or one a policy judges).
    let gzip = transport::accepts_gzip(&headers) && !rewrite;
    drop_headers(&mut headers, &REQUEST_DROPPED);
    let forward = Forward {
        api,
        method: parts.method,
        path_and_query: match without_token(query) {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        },
        headers,
        body,
        // A policy that changes the request has it prepared again.
        prepared,
    };
    let mut forward = match &mut policy {
        Some(policy) => match policy.on_request(shared, forward, soap_operation).await {
            Ok(forward) => forward,
            Err(error) => return fail(error),
        },
        None => forward,
    };
    let upstream = &tenant.upstream;
    // Answers stream on Bulk routes and may come gzip, unless a policy
    // reads them (one that skips the answer does not).
    let policy = policy.filter(super::policy::Policy::judges_answer);
    forward.headers.remove(http::header::ACCEPT_ENCODING);
    if gzip && policy.is_none() {
        forward.headers.insert(
            http::header::ACCEPT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    let stream_answer = route.streams() && policy.is_none();
    let (streamed, overrun, rest) = match streamed {
        Some((body, overrun, rest)) => (Some(body), Some(overrun), Some(rest)),
        None => (None, None, None),
    };
    let passed = match upstream.forward(&forward, streamed, stream_answer).await {
        Ok(passed) => passed,
        Err(e) => {
            let Some(broken) = overrun.and_then(|o| o.get()) else {
                return fail(upstream_error(&e));
            };
            let too_large = matches!(broken, StreamError::TooLarge { .. });
            let mut served = fail(body_error(&generation, broken));
            // Refused while the client still sends: the rest is read and
            // thrown away before the connection closes, as for a body
            // refused on its head.
            if let (true, Some(rest)) = (too_large, rest) {
                closes(&mut served);
                rest.discard();
            }
            return served;
        }
    };
    let (status, headers, body) = match (passed.body, policy) {
        (Carried::Whole(mut body), policy) => {
            // What names the instance points at the gateway before a policy
            // sees the answer, as the client will.
            if rewrite && let Ok(facts) = upstream.session_facts().await {
                let origin = shared.front_door.origin(&generation);
                body = rewrite_origins(&body, &facts.origins, &origin);
            }
            match policy {
                Some(mut policy) => {
                    let answer = Answer {
                        status: passed.status,
                        headers: passed.headers,
                        body,
                        verdict: passed.verdict,
                    };
                    match policy.on_response(shared, answer).await {
                        Ok(answer) => (answer.status, answer.headers, whole(answer.body)),
                        Err(error) => return fail(error),
                    }
                }
                None => (passed.status, passed.headers, whole(body)),
            }
        }
        (Carried::Stream(body), _) => {
            let limit = generation.config.front_door.max_stream_bytes;
            // Said to be too large: refused before any of it goes.
            if let Some(length) = linger::declared(&passed.headers)
                && length > limit as u64
            {
                drop(body);
                return fail(FrontDoorError::new(
                    ProblemCode::Upstream(UpstreamCode::UpstreamTooLarge),
                    format!(
                        "the answer's Content-Length {length} is over the {limit}-byte limit ([front_door] max_stream_mb)"
                    ),
                ));
            }
            // Else cut past the cap (the client sees an incomplete
            // transfer); the tenant's slot is held until the answer has gone.
            let body = Capped::new(body, limit, None).0.holding(_slot);
            (passed.status, passed.headers, body.boxed_unsync())
        }
    };
    // The API's headers move into the answer, less those never passed back.
    let mut headers = headers;
    drop_headers(&mut headers, &ANSWER_DROPPED);
    let response = match (
        http::StatusCode::from_u16(status),
        http::HeaderValue::from_str(request_id),
    ) {
        (Ok(status), Ok(id)) => {
            headers.append(http::HeaderName::from_static("x-request-id"), id);
            let mut response = http::Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        _ => http::Response::new(whole(Bytes::new())),
    };
    Served {
        response,
        tenant: Some(name),
        code: if status < 400 { "success" } else { "fault" },
    }
}

/// Marks an answer to a request whose body was not read to its end: the
/// connection cannot be reused and closes once the rest is thrown away.
fn closes(served: &mut Served) {
    served.response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}

/// A request body as the front door holds it.
enum Held {
    /// Read whole (and sent again after a re-login if need be).
    Whole(Bytes),
    /// Too large to hold: what was read, then the rest as it comes
    /// (bounded by `max_stream_mb`, and `body_timeout_ms` between parts),
    /// and what is left of it if it is refused midway.
    Stream(transport::Body, Overrun, linger::Rest<transport::Body>),
}

/// The refusal of a body whose `Content-Length` is over the route's cap
/// (`max_stream_mb` where bodies stream, else `max_body_kb`), before any
/// of it is read.
fn too_long(
    generation: &Generation,
    declared: Option<u64>,
    stream: bool,
) -> Option<FrontDoorError> {
    let config = &generation.config;
    let (limit, key) = if stream {
        (
            config.front_door.max_stream_bytes,
            "[front_door] max_stream_mb",
        )
    } else {
        (config.server.max_body_bytes, "[server] max_body_kb")
    };
    let length = declared?;
    (length > limit as u64).then(|| {
        FrontDoorError::new(
            ProblemCode::PayloadTooLarge,
            format!("Content-Length {length} is over the {limit}-byte limit ({key}); the body was not read"),
        )
    })
}

/// A request body that could not be read: why, and the rest of it when
/// there is a rest to throw away (a body over its cap).
type Unread = (FrontDoorError, Option<transport::Body>);

/// Reads a request body: gzip decoded when it says so; whole up to
/// `[server] max_body_kb` within `body_timeout_ms`; past that refused,
/// or on a route whose bodies `stream`, streamed on.
async fn read(
    generation: &Generation,
    headers: &http::HeaderMap,
    body: hyper::body::Incoming,
    stream: bool,
) -> Result<Held, Unread> {
    let server = &generation.config.server;
    let encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let mut body: transport::Body = match encoding.as_deref() {
        None | Some("" | "identity") => body.map_err(Into::into).boxed_unsync(),
        Some("gzip" | "x-gzip") => transport::Gunzip::new(body).boxed_unsync(),
        Some(other) => {
            let error = FrontDoorError::new(
                ProblemCode::BadRequest,
                format!(
                    "Content-Encoding {:?} is not accepted: send the body uncompressed or gzip",
                    other.chars().take(40).collect::<String>()
                ),
            );
            return Err((error, Some(body.map_err(Into::into).boxed_unsync())));
        }
    };
    let max = server.max_body_bytes;
    let deadline = tokio::time::Instant::now() + server.body_timeout;
    let mut held = VecDeque::new();
    let mut size = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                let after = server.body_timeout;
                return Err((body_error(generation, StreamError::Idle { after }), None));
            }
            Ok(None) if held.len() <= 1 => {
                // One frame (most bodies): kept as it came, not copied.
                return Ok(Held::Whole(held.pop_front().unwrap_or_default()));
            }
            Ok(None) => {
                let mut whole = bytes::BytesMut::with_capacity(size);
                held.iter()
                    .for_each(|part: &Bytes| whole.extend_from_slice(part));
                return Ok(Held::Whole(whole.freeze()));
            }
            Ok(Some(Err(e))) => {
                let error = body_error(generation, StreamError::Broken(e.to_string()));
                return Err((error, None));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len();
        held.push_back(data);
        if size > max {
            if !stream {
                let error = body_error(generation, StreamError::TooLarge { limit: max });
                return Err((error, Some(body)));
            }
            let limit = generation.config.front_door.max_stream_bytes;
            let (body, rest) = linger::kept(body);
            let (body, overrun) = Capped::new(body, limit, Some(server.body_timeout));
            return Ok(Held::Stream(body.after(held).boxed_unsync(), overrun, rest));
        }
    }
}

/// What a request body that could not be read is at the front door.
fn body_error(generation: &Generation, why: StreamError) -> FrontDoorError {
    let server = &generation.config.server;
    match why {
        StreamError::TooLarge { limit } => {
            let key = if limit == server.max_body_bytes {
                "[server] max_body_kb"
            } else {
                "[front_door] max_stream_mb"
            };
            FrontDoorError::new(
                ProblemCode::PayloadTooLarge,
                format!(
                    "the body is over the {limit}-byte limit ({key}), counted after gzip decoding"
                ),
            )
        }
        StreamError::Idle { after } => FrontDoorError::new(
            ProblemCode::RequestTimeout,
            format!(
                "the request body stalled for {} ms ([server] body_timeout_ms)",
                after.as_millis()
            ),
        ),
        StreamError::Broken(why) => FrontDoorError::new(
            ProblemCode::BadRequest,
            format!("could not read the request body: {why}"),
        ),
    }
}

/// `bytes` as an answer body.
fn whole(bytes: Bytes) -> transport::Body {
    transport::whole(bytes)
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
    let code = if status < 400 {
        "success"
    } else {
        ProblemCode::BadRequest.code()
    };
    let response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("x-request-id", request_id)
        .body(whole(Bytes::from(body)))
        .unwrap_or_else(|_| http::Response::new(whole(Bytes::new())));
    Served {
        response,
        tenant,
        code,
    }
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
    fn dropped_headers_go_with_all_their_values_and_the_rest_stay() {
        let mut headers = http::HeaderMap::new();
        for (name, value) in [
            ("host", "gw"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("x-sfdc-session", "00D!secret"),
            ("keep-alive", "timeout=5"),
            ("authorization", "Bearer t"),
            ("content-type", "text/xml"),
            ("soapaction", "\"\""),
            ("x-request-id", "abc"),
        ] {
            headers.append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        drop_headers(&mut headers, &REQUEST_DROPPED);
        let mut left: Vec<_> = headers.keys().map(http::HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "soapaction", "x-request-id"]);
        assert_eq!(headers.len(), 3);
        // Nothing to drop: nothing changes.
        drop_headers(&mut headers, &ANSWER_DROPPED);
        assert_eq!(headers.len(), 3);
        let mut answer = http::HeaderMap::new();
        answer.append(header::SET_COOKIE, http::HeaderValue::from_static("s=1"));
        answer.append(header::SET_COOKIE, http::HeaderValue::from_static("t=2"));
        answer.append(header::CONTENT_LENGTH, http::HeaderValue::from_static("9"));
        answer.append(header::DATE, http::HeaderValue::from_static("today"));
        drop_headers(&mut answer, &ANSWER_DROPPED);
        let left: Vec<_> = answer.keys().map(http::HeaderName::as_str).collect();
        assert_eq!(left, ["date"]);
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
