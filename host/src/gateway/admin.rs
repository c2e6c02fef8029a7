//! The admin listener (loopback by default): health, readiness, Prometheus
//! metrics, plugin versions and session states, and the dashboard
//! ([`super::dashboard`]: `/dashboard`, open because it holds no data, and
//! `/admin/overview`). Never a secret.
//!
//! Connections get the callers' header limits, the header read timeout
//! (which is also the idle keep-alive timeout) and the connection cap.
//! `/healthz`, `/readyz` and `/metrics` are open (`/metrics` needs the
//! token too with `admin_token_metrics`); `/admin/*` needs
//! `Authorization: Bearer <token>` when `[server] admin_token_env` / `_file`
//! is set (the config refuses a non-loopback `admin_listen` without one).
//!
//! A browser is never a client: a request whose `Host` is a name other
//! than `localhost` or one of `admin_hosts` (DNS rebinding: a page of the
//! attacker's name resolved to this address; an address as `Host` cannot
//! be an attacker's page, and NAT or a port forward changes it), or that a
//! page of another site sends
//! (`Origin` of another host, `Sec-Fetch-Site` other than `same-origin` /
//! `none`), is refused with 403 before any route.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use super::Shared;

/// Serves the admin routes until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    header_timeout: Duration,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let stop = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stop);
    while let Some((tcp, _, permit)) =
        super::server::accept(&listener, &permits, &shared, "admin", stop.as_mut()).await
    {
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, &req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                // At most 100 headers: hyper's default (see server.rs).
                .max_header_size(super::server::MAX_HEAD_BYTES)
                .max_buf_size(super::server::MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Refuses a request from a browser page; routes `/admin/*` (and
/// `/metrics` when asked) only for holders of the admin token, when one is
/// set.
async fn answer(
    shared: &Arc<Shared>,
    req: &http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let path = req.uri().path();
    let generation = shared.current();
    let server = &generation.config.server;
    if let Err(detail) = same_site(req.headers(), &server.admin_hosts) {
        return json_response(403, json!({ "error": "forbidden", "detail": detail }));
    }
    let guarded = path.starts_with("/admin/") || (path == "/metrics" && server.admin_token_metrics);
    if guarded
        && let Some(token) = server.admin_token.as_ref()
        && !super::auth::bearer_is(req.headers(), token)
    {
        let mut response = json_response(
            401,
            json!({
                "error": "unauthorized",
                "detail": "/admin/* (and /metrics with admin_token_metrics) needs Authorization: Bearer <token> with the token of [server] admin_token_env / admin_token_file",
            }),
        );
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    route(shared, req.method(), path).await
}

/// Whether a request comes from the admin port's own clients rather than a
/// browser page of another site; else why not.
fn same_site(headers: &http::HeaderMap, names: &[String]) -> Result<(), &'static str> {
    let text = |name: http::header::HeaderName| {
        headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| "a header that is not text"))
            .transpose()
    };
    let host = text(http::header::HOST)?
        .ok_or("no Host header: the admin port answers requests that name it")?;
    if !names_this(host, names) {
        return Err(
            "the Host header names another site (the admin port answers addresses, localhost and the names of [server] admin_hosts)",
        );
    }
    if let Some(origin) = text(http::header::ORIGIN)? {
        let authority = origin
            .parse::<http::Uri>()
            .ok()
            .and_then(|u| u.authority().cloned());
        if !authority.is_some_and(|a| names_this(a.as_str(), names)) {
            return Err("a request from a page of another site (Origin)");
        }
    }
    if let Some(site) = text(http::HeaderName::from_static("sec-fetch-site"))?
        && !matches!(site, "same-origin" | "none")
    {
        return Err("a request from a page of another site (Sec-Fetch-Site)");
    }
    Ok(())
}

/// Whether `authority` (`host[:port]`) may name this listener: an address
/// (no page of another site has one as its origin), `localhost`, or one of
/// `names`. The port is not compared (a port forward changes it).
fn names_this(authority: &str, names: &[String]) -> bool {
    let Ok(authority) = authority.parse::<http::uri::Authority>() else {
        return false;
    };
    let host = authority.host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return true;
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || names.iter().any(|n| n.trim_end_matches('.') == host)
}

fn json_response(status: u16, value: serde_json::Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
}

async fn route(
    shared: &Arc<Shared>,
    method: &http::Method,
    path: &str,
) -> http::Response<Full<Bytes>> {
    if method == http::Method::GET
        && let Some(page) = super::dashboard::asset(path)
    {
        return page;
    }
    match (method.as_str(), path) {
        ("GET", "/healthz") => json_response(200, json!({ "status": "ok" })),
        ("GET", "/readyz") => {
            let (loaded, draining) = (shared.registry.ready(), shared.drain.draining());
            let ready = loaded && !draining;
            json_response(
                if ready { 200 } else { 503 },
                json!({ "ready": ready, "plugins_loaded": loaded, "shutting_down": draining }),
            )
        }
        ("GET", "/metrics") => {
            super::gauges::refresh(shared);
            http::Response::builder()
                .header(
                    http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
                .body(Full::new(Bytes::from(shared.metrics.encode())))
                .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
        }
        ("GET", "/admin/overview") => json_response(200, super::dashboard::overview(shared)),
        ("GET", "/admin/plugins") => {
            json_response(200, json!({ "plugins": shared.registry.status() }))
        }
        ("GET", "/admin/sessions") => {
            let generation = shared.current();
            let mut sessions: Vec<_> = generation
                .tenants
                .values()
                .map(|t| t.upstream.status())
                .collect();
            sessions.sort_by(|a, b| a.tenant.cmp(&b.tenant));
            json_response(200, json!({ "sessions": sessions }))
        }
        ("GET", "/admin/config") => {
            let m = &shared.metrics;
            json_response(
                200,
                json!({
                    "reloads": shared.reloads.load(Ordering::Relaxed),
                    "last_reload_successful": m.config_last_reload_successful.get() == 1,
                    "last_success_unix": m.config_last_reload_success.get(),
                    "last_reload_error": shared.last_reload_error.read().unwrap_or_else(|e| e.into_inner()).clone(),
                    "watched_files": shared.files.read().unwrap_or_else(|e| e.into_inner()).clone(),
                    "tenants": shared.current().tenants.keys().collect::<Vec<_>>(),
                }),
            )
        }
        ("POST", "/admin/reload") => match super::reload(shared).await {
            Ok(()) => json_response(200, json!({ "reloaded": true })),
            Err(e) => json_response(400, json!({ "reloaded": false, "error": e.to_string() })),
        },
        _ => json_response(
            404,
            json!({ "error": "unknown admin route", "routes": ["GET /healthz", "GET /readyz", "GET /metrics", "GET /dashboard", "GET /admin/overview", "GET /admin/plugins", "GET /admin/sessions", "GET /admin/config", "POST /admin/reload"] }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[(&str, &str)], names: &[&str]) -> Result<(), &'static str> {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        same_site(&map, &names)
    }

    #[test]
    fn the_admin_ports_own_names_pass() {
        for host in [
            "127.0.0.1:9090",
            "127.0.0.1",
            "10.1.2.3:9090",
            "[::1]:9090",
            "localhost:9090",
            "LOCALHOST.",
        ] {
            assert_eq!(check(&[("host", host)], &[]), Ok(()), "{host}");
        }
        let svc = [("host", "twoway.prod.svc:9090")];
        assert_eq!(check(&svc, &["twoway.prod.svc"]), Ok(()));
        // A curl or a probe: same-origin or no fetch metadata at all.
        let same = [("host", "localhost:9090"), ("sec-fetch-site", "none")];
        assert_eq!(check(&same, &[]), Ok(()));
        let origin = [
            ("host", "localhost:9090"),
            ("origin", "http://localhost:9090"),
        ];
        assert_eq!(check(&origin, &[]), Ok(()));
    }

    #[test]
    fn a_browser_page_of_another_site_is_refused() {
        // DNS rebinding: the attacker's name resolves to this address.
        for host in [
            "evil.example:9090",
            "evil.example",
            "localhost.evil.example",
        ] {
            assert!(check(&[("host", host)], &[]).is_err(), "{host}");
        }
        assert!(
            check(&[("host", "twoway.prod.svc")], &[]).is_err(),
            "not listed"
        );
        assert!(check(&[], &[]).is_err(), "no Host");
        // A cross-site POST to /admin/reload: the Host is right, the page is not.
        for (name, value) in [
            ("origin", "https://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let headers = [("host", "127.0.0.1:9090"), (name, value)];
            assert!(check(&headers, &[]).is_err(), "{name}: {value}");
        }
    }
}
