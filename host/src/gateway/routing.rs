//! One inbound request: route `/tenants/{tenant}/workflows/{workflow}[/{rest}]`,
//! authenticate the caller for that tenant only, read the body (bounded in
//! size and time), then take one of the tenant's slots (waiting in its queue
//! if need be) only to run the plugin, and answer or write the problem.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tracing::Instrument as _;

use super::auth::{self, Caller};
use super::metrics::{RequestLabels, TenantLabels, WorkflowLabels};
use super::problem::{IntoResponse, Problem, ProblemCode};
use super::{Shared, access};
use crate::plugin::{CallContext, Header, InboundRequest};

/// Headers a workflow never sees.
const HIDDEN_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Handles one request from `peer`; never fails (errors become problems).
/// Every request, whatever its route, gets an access log line ([`access`]).
pub async fn handle(
    shared: Arc<Shared>,
    caller: Arc<Caller>,
    peer: SocketAddr,
    request: http::Request<hyper::body::Incoming>,
) -> http::Response<crate::transport::Body> {
    let request_id = request_id(request.headers());
    let started = Instant::now();
    shared.metrics.in_flight.inc();
    let _in_flight = InFlight(&shared.metrics.in_flight);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let trace_id = access::caller_trace_id(request.headers());
    let (route, workflow) = match parse_route(&path) {
        _ if super::front_door::claims(&path).is_some() => (access::Route::FrontDoor, None),
        Some((tenant, workflow, _)) => (access::Route::Workflow, Some((tenant, workflow))),
        None => (access::Route::Unknown, None),
    };
    let span = access::span(&method, route, workflow, request.headers());
    let trace_id = access::trace_id(&span).or(trace_id);
    let answer = answer(&shared, &caller, &path, request, &request_id, started);
    let (response, tally) = access::tallied(answer.instrument(span.clone())).await;
    access::end_span(&span, &response);
    let entry = access::Entry {
        method: &method,
        route,
        workflow,
        request_id: &request_id,
        peer,
        trace_id,
        started,
    };
    access::log(&shared, &entry, tally, response)
}

/// The answer to one request.
async fn answer(
    shared: &Arc<Shared>,
    caller: &Caller,
    path: &str,
    request: http::Request<hyper::body::Incoming>,
    request_id: &str,
    started: Instant,
) -> http::Response<crate::transport::Body> {
    let front_door = super::front_door::claims(path);
    // The front door refuses a body over its caps itself, in the client's
    // format (and lets a Bulk body past max_body_kb stream).
    let max_body = match front_door {
        Some(_) => usize::MAX,
        None => shared.current().config.server.max_body_bytes,
    };
    if let Some(problem) = super::early::refusal(request.headers(), max_body) {
        tracing::info!(%path, request_id = %request_id, code = %problem.code, "request refused on its head");
        // In the client's format on Salesforce's paths (a SOAP fault for
        // a SOAP client), else problem+json.
        let mut response = match &front_door {
            Some(path) => super::front_door::refuse_early(path, problem, request_id),
            None => problem.into_response(request_id).map(boxed),
        };
        // The body is not read: the connection cannot be reused, and
        // closes once the rest of the body is thrown away.
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        let declared = super::linger::declared(request.headers());
        super::linger::discard(request.into_body(), declared);
        return response;
    }
    // Each branch is boxed: a connection holds its request's future for as
    // long as it is open, and an inline one is the size of the largest
    // branch (the front door's), whichever route the request takes.
    if let Some(path) = front_door {
        return Box::pin(super::front_door::handle(
            shared, caller, &path, request, request_id,
        ))
        .await;
    }
    let route = parse_route(path);
    let (mut response, labels) = match route {
        None => (
            Problem::new(ProblemCode::UnknownRoute, format!("{path} is not a route; workflows are at /tenants/{{tenant}}/workflows/{{workflow}}"))
                .into_response(request_id),
            None,
        ),
        Some((tenant, workflow, rest)) => {
            let (tenant, workflow, rest) = (tenant.to_string(), workflow.to_string(), rest.to_string());
            let response =
                Box::pin(run(shared, caller, &tenant, &workflow, &rest, request, request_id)).await;
            (response, Some((tenant, workflow)))
        }
    };
    response.headers_mut().insert(
        "x-request-id",
        http::HeaderValue::from_str(request_id).unwrap_or(http::HeaderValue::from_static("-")),
    );
    if let Some(&code) = response.extensions().get::<ProblemCode>() {
        // Names a caller made up are not shown: only configured ones.
        let (tenant, workflow) = match &labels {
            Some((t, w)) if shared.registry.get(t, w).is_some() => {
                (Some(t.as_str()), Some(w.as_str()))
            }
            Some((t, _)) if shared.current().tenants.contains_key(t) => (Some(t.as_str()), None),
            _ => (None, None),
        };
        let status = response.status().as_u16();
        shared
            .problems
            .record(code, status, tenant, workflow, None, request_id);
    }
    if let Some((tenant, workflow)) = labels {
        let status = response.status().as_u16();
        // Only configured workflows get series: unknown names are not labels.
        if shared.registry.get(&tenant, &workflow).is_some() {
            let labels = RequestLabels {
                tenant: tenant.clone(),
                workflow: workflow.clone(),
                status,
            };
            shared.metrics.requests.with_series(&labels, |c| c.inc());
            shared
                .metrics
                .latency
                .with_series(&WorkflowLabels { tenant, workflow }, |h| {
                    h.observe(started.elapsed().as_secs_f64())
                });
        }
    }
    response.map(boxed)
}

/// A whole answer as the listener's body type.
fn boxed(body: Full<Bytes>) -> crate::transport::Body {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// Counts a request out of `requests_in_flight` however it ends.
struct InFlight<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `x-request-id` from the caller when it is sane, else a fresh one.
fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(fresh_request_id)
}

/// A new request id: 128 random bits as 32 lowercase hex digits, most
/// significant first, written into a buffer by `hex::encode_to_slice` (a
/// table look-up a digit): `hex::encode` (an iterator of chars collected
/// into a `String`) cost about 1,400 instructions a request, ten times the
/// random bits (docs/performance.md, the ninth round).
pub(super) fn fresh_request_id() -> String {
    let mut hex = [0u8; 32];
    // 16 bytes fill exactly 32 digits: the lengths match, it cannot fail.
    let _ = hex::encode_to_slice(rand::random::<u128>().to_be_bytes(), &mut hex);
    // Only ASCII digits and letters: always UTF-8.
    String::from_utf8(hex.to_vec()).unwrap_or_default()
}

/// `(tenant, workflow, rest)` of a workflow route.
pub fn parse_route(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/tenants/")?;
    let (tenant, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("workflows/")?;
    let (workflow, rest) = match rest.split_once('/') {
        Some((w, r)) => (w, r),
        None => (rest, ""),
    };
    (!tenant.is_empty() && !workflow.is_empty()).then_some((tenant, workflow, rest))
}

async fn run(
    shared: &Shared,
    caller: &Caller,
    tenant_name: &str,
    workflow: &str,
    rest: &str,
    request: http::Request<hyper::body::Incoming>,
    request_id: &str,
) -> http::Response<Full<Bytes>> {
    let problem = |code: ProblemCode, detail: String| {
        Problem::new(code, detail)
            .at(Some(tenant_name), Some(workflow))
            .into_response(request_id)
    };
    let generation = shared.current();
    // An unknown tenant and refused credentials get the same answer, so
    // callers cannot probe which tenants exist; the log says which it was.
    let Some(tenant) = generation.tenants.get(tenant_name).cloned() else {
        let key = auth::bearer(request.headers()).map(auth::key_digest);
        auth::refuse_unknown(generation.client_ca(), key.as_ref(), caller);
        tracing::info!(tenant = ?tenant_name, %request_id, reason = "no such tenant", "caller refused");
        return problem(ProblemCode::Unauthorized, auth::REFUSED.to_string());
    };
    if let Err(reason) = auth::authorize(&tenant, generation.client_ca(), caller, request.headers())
    {
        tracing::info!(tenant = ?tenant_name, %request_id, reason, "caller refused");
        return problem(ProblemCode::Unauthorized, auth::REFUSED.to_string());
    }
    let Some(slot) = generation.plugins.get(tenant_name, workflow) else {
        return problem(
            ProblemCode::UnknownWorkflow,
            format!("tenant {tenant_name:?} has no workflow {workflow:?}"),
        );
    };
    let Some(version) = slot.live() else {
        return problem(
            ProblemCode::PluginUnavailable,
            format!(
                "{} has not loaded yet; see /admin/plugins on the admin port",
                slot.path.display()
            ),
        );
    };
    // The body is read before a slot is taken: a caller that sends it
    // slowly holds only its own connection, never the tenant's capacity.
    let server = &generation.config.server;
    let (parts, body) = request.into_parts();
    let body = match read_body(body, server.max_body_bytes, server.body_timeout).await {
        Ok(body) => body,
        Err((code, detail, rest)) => {
            let mut response = Problem::new(code, detail)
                .at(Some(tenant_name), Some(workflow))
                .into_response(request_id);
            // The rest of the body is not read: the connection cannot be
            // reused, and closes once the rest of a body over the cap is
            // thrown away (so that a client still sending reads this).
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            if let Some(rest) = rest {
                super::linger::discard(rest, None);
            }
            return response;
        }
    };
    let queue_wait = tracing::info_span!(target: crate::config::telemetry::TRACE_TARGET, "queue wait", otel.name = "queue wait", twoway.tenant = %tenant_name);
    let _permit = match tenant.limit.acquire().instrument(queue_wait).await {
        Ok(permit) => {
            let labels = TenantLabels {
                tenant: tenant_name.to_string(),
            };
            shared
                .metrics
                .queue_wait
                .with_series(&labels, |h| h.observe(permit.waited.as_secs_f64()));
            permit
        }
        Err(refusal) => {
            return Problem::new(
                ProblemCode::Overloaded,
                format!("tenant {tenant_name:?}: {refusal}"),
            )
            .at(Some(tenant_name), Some(workflow))
            .retry_after(1)
            .into_response(request_id);
        }
    };
    let inbound = InboundRequest {
        method: parts.method.as_str().to_string(),
        path: format!("/{rest}"),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| !HIDDEN_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                value.to_str().ok().map(|v| Header {
                    name: name.as_str().to_string(),
                    value: v.to_string(),
                })
            })
            .collect(),
        // The buffer the body was read into, not a copy of it.
        body: Vec::from(body),
    };
    let call = CallContext {
        tenant: tenant_name.to_string(),
        workflow: workflow.to_string(),
        version: version.id.clone(),
        upstream: tenant.upstream.clone(),
        config: slot.config.clone(),
    };
    let plugin = tracing::info_span!(
        target: crate::config::telemetry::TRACE_TARGET,
        "plugin",
        otel.name = format!("plugin {workflow}"),
        twoway.tenant = %tenant_name,
        twoway.workflow = %workflow,
        twoway.plugin.version = %version.id,
    );
    let result = shared
        .registry
        .runtime()
        .call(&version, call, slot.limits, inbound)
        .instrument(plugin)
        .await;
    let mut response = match result {
        Ok(answer) => {
            let mut builder = http::Response::builder().status(answer.status);
            for Header { name, value } in &answer.headers {
                if is_hop_by_hop(name) {
                    continue;
                }
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
                .body(Full::new(Bytes::from(answer.body)))
                .unwrap_or_else(|e| {
                    problem(
                        ProblemCode::PluginTrap,
                        format!("the workflow returned an invalid response: {e}"),
                    )
                })
        }
        Err(e) => e
            .problem()
            .at(Some(tenant_name), Some(workflow))
            .into_response(request_id),
    };
    response.headers_mut().insert(
        "x-twoway-plugin-version",
        http::HeaderValue::from_str(&version.id).unwrap_or(http::HeaderValue::from_static("-")),
    );
    response
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "connection"
            | "transfer-encoding"
            | "content-length"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

/// The whole body, at most `max` bytes, within `timeout`; else the code,
/// what happened and, for a body over `max`, the rest of it (to throw away).
pub(super) async fn read_body(
    mut body: hyper::body::Incoming,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, (ProblemCode, String, Option<hyper::body::Incoming>)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut whole = bytes::BytesMut::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                let detail = format!("could not read the request body: {e}");
                return Err((ProblemCode::BadRequest, detail, None));
            }
            Err(_) => {
                let detail = format!(
                    "the request body did not arrive within {} ms ([server] body_timeout_ms)",
                    timeout.as_millis()
                );
                return Err((ProblemCode::RequestTimeout, detail, None));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if whole.len() + data.len() > max {
            let detail = format!("the body is over the {max}-byte limit ([server] max_body_kb)");
            return Err((ProblemCode::PayloadTooLarge, detail, Some(body)));
        }
        whole.extend_from_slice(&data);
    }
    access::body_read(whole.len());
    Ok(whole.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            parse_route("/tenants/acme/workflows/lead"),
            Some(("acme", "lead", ""))
        );
        assert_eq!(
            parse_route("/tenants/acme/workflows/q/a/b"),
            Some(("acme", "q", "a/b"))
        );
        assert_eq!(parse_route("/tenants//workflows/x"), None);
        assert_eq!(parse_route("/tenants/acme/flows/x"), None);
        assert_eq!(parse_route("/"), None);
    }

    #[test]
    fn request_ids_are_kept_when_sane() {
        let mut h = http::HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", "has space".parse().unwrap());
        assert_ne!(request_id(&h), "has space");
    }

    #[test]
    fn fresh_request_ids_are_32_hex_digits_and_differ() {
        let ids: Vec<String> = (0..64)
            .map(|_| request_id(&http::HeaderMap::new()))
            .collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // The digits are the random number's, most significant first.
        let n = u128::from_str_radix(&ids[0], 16).unwrap();
        assert_eq!(format!("{n:032x}"), ids[0]);
    }
}
