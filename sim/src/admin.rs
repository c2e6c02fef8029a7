//! The simulator's loopback admin port (plain HTTP): counters for tests
//! (logins, API requests, TLS handshakes), expiring sessions, unlocking users.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Ctx;
use super::reply::Reply;
use super::server::into_response;

/// Serves the admin routes until `stop` turns true.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => continue,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(route(&ctx, &req)) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn route(ctx: &Ctx, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("");
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let state = &ctx.state;
    let reply = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/healthz") => Reply::json(200, &json!({ "status": "ok" })),
        ("GET", "/endpoints") => Reply::json(200, &ctx.endpoints.to_json()),
        ("GET", "/counters") => Reply::json(200, &state.counters_json()),
        ("POST", "/counters/reset") => {
            state.reset_counters();
            Reply::json(200, &state.counters_json())
        }
        ("POST", "/sessions/expire") => {
            let expired = state.expire_sessions(param("username").as_deref());
            Reply::json(200, &json!({ "expired": expired }))
        }
        ("POST", "/users/unlock") => {
            state.unlock_users();
            Reply::json(200, &json!({ "unlocked": true }))
        }
        _ => Reply::json(
            404,
            &json!({ "error": "unknown admin route", "routes": ["GET /healthz", "GET /endpoints", "GET /counters", "POST /counters/reset", "POST /sessions/expire[?username=U]", "POST /users/unlock"] }),
        ),
    };
    into_response(reply).map(Full::new)
}
