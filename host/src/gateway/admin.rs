//! The admin listener (loopback by default): health, readiness, Prometheus
//! metrics, plugin versions and session states. Never a secret.
//!
//! Connections get the callers' header limits, the header read timeout
//! (which is also the idle keep-alive timeout) and the connection cap.
//! `/healthz`, `/readyz` and `/metrics` are always open; `/admin/*` needs
//! `Authorization: Bearer <token>` when `[server] admin_token_env` / `_file`
//! is set (the config refuses a non-loopback `admin_listen` without one).

use std::convert::Infallible;
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
                .max_headers(super::server::MAX_HEADERS)
                .max_buf_size(super::server::MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Routes `/admin/*` only for holders of the admin token, when one is set.
async fn answer(
    shared: &Arc<Shared>,
    req: &http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    let path = req.uri().path();
    if path.starts_with("/admin/")
        && let Some(token) = shared.current().config.server.admin_token.as_ref()
        && !super::auth::bearer_is(req.headers(), token)
    {
        let mut response = json_response(
            401,
            json!({
                "error": "unauthorized",
                "detail": "/admin/* needs Authorization: Bearer <token> with the token of [server] admin_token_env / admin_token_file",
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
            super::mirror::refresh(shared);
            http::Response::builder()
                .header(
                    http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
                .body(Full::new(Bytes::from(shared.metrics.encode())))
                .unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())))
        }
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
            json!({ "error": "unknown admin route", "routes": ["GET /healthz", "GET /readyz", "GET /metrics", "GET /admin/plugins", "GET /admin/sessions", "GET /admin/config", "POST /admin/reload"] }),
        ),
    }
}
