//! The front door: Salesforce's own surface at the root of the callers'
//! listener, so existing clients (curl, jsforce, the sf CLI,
//! simple-salesforce, WSC, Data Loader) work through the gateway with only
//! their URL and credential changed. Logins are terminated here
//! ([`login`]), every API call is proxied with the tenant's session
//! ([`proxy`]), and the gateway's own errors go back in the client's
//! format ([`errors`]). docs/front-door.md tells the whole story.

mod credential;
mod errors;
mod fleet_tokens;
mod login;
mod policy;
mod proxy;
mod route;
mod tokens;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::auth::Caller;
use super::metrics::{FrontDoorApiLabels, FrontDoorLabels};
use super::{Generation, Shared};
use crate::problem::ProblemCode;
use errors::FrontDoorError;
use route::Route;

pub use route::normalise as claims;
pub use tokens::{MemoryTokens, TokenStore};

/// What the front door keeps across reloads.
pub struct State {
    /// Issued tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// The callers' listener's own origin, when `public_url` is not set.
    listening: OnceLock<String>,
}

impl State {
    /// Tokens in the fleet's Redis when there is one (`shelf`), else in
    /// this process's memory.
    pub fn new(shelf: Option<crate::session::fleet::Shelf>) -> Self {
        let tokens: Arc<dyn TokenStore> = match shelf {
            Some(shelf) => Arc::new(fleet_tokens::FleetTokens::new(shelf)),
            None => Arc::new(MemoryTokens::default()),
        };
        Self {
            tokens,
            listening: OnceLock::new(),
        }
    }

    /// Records where the callers' listener listens.
    pub fn listening(&self, addr: std::net::SocketAddr, tls: bool) {
        let scheme = if tls { "https" } else { "http" };
        let _ = self.listening.set(format!("{scheme}://{addr}"));
    }

    /// The origin handed to clients.
    fn origin(&self, generation: &Generation) -> String {
        generation
            .config
            .front_door
            .public_url
            .clone()
            .or_else(|| self.listening.get().cloned())
            .unwrap_or_default()
    }
}

/// What one request came to: the answer, and the tenant when one was chosen.
struct Served {
    response: http::Response<crate::transport::Body>,
    tenant: Option<String>,
    /// How it ended, for metrics: `success`, `fault` (the API's error
    /// status) or the problem code the gateway answered with.
    code: &'static str,
}

/// Answers one front-door request (`path` from [`claims`]); never fails.
pub async fn handle(
    shared: &Shared,
    caller: &Caller,
    path: &str,
    request: http::Request<hyper::body::Incoming>,
    request_id: &str,
) -> http::Response<crate::transport::Body> {
    let started = Instant::now();
    let route = route::route(path);
    let served = proxy::serve(shared, caller, &route, path, request, request_id).await;
    let api = route.api_name(path);
    super::access::front_door(served.tenant.as_deref(), api);
    // The gateway's own refusals, for the dashboard's recent problems.
    if let Some(code) = super::access::problem_code(&served.response) {
        let status = served.response.status().as_u16();
        let tenant = served.tenant.as_deref();
        shared
            .problems
            .record(code, status, tenant, None, Some(api), request_id);
    }
    // Only requests a credential tied to a tenant get series: a refused
    // caller names no tenant (the access log line says why).
    if let Some(tenant) = served.tenant {
        let metrics = &shared.metrics;
        let labels = FrontDoorLabels {
            tenant: tenant.clone(),
            api,
            code: served.code,
        };
        metrics
            .front_door_requests
            .with_series(&labels, |c| c.inc());
        metrics
            .front_door_latency
            .with_series(&FrontDoorApiLabels { tenant, api }, |h| {
                h.observe(started.elapsed().as_secs_f64())
            });
    }
    served.response
}

/// A request refused on its head alone ([`crate::gateway::early`]), in the
/// format of the client's API.
pub fn refuse_early(
    path: &str,
    problem: crate::problem::Problem,
    request_id: &str,
) -> http::Response<crate::transport::Body> {
    // The body is not read, so whether it was a login is not known; it
    // only matters for a refused credential, which the head never is.
    let error = FrontDoorError::new(problem.code, problem.detail);
    errors::response(route::route(path).family(), false, &error, request_id)
}

/// The answer for `error` on `route`.
fn refuse(route: &Route, login: bool, error: FrontDoorError, request_id: &str) -> Served {
    Served {
        response: errors::response(route.family(), login, &error, request_id),
        tenant: None,
        code: error.code.code(),
    }
}

/// What an upstream failure looks like at the front door.
fn upstream_error(e: &crate::upstream::UpstreamError) -> FrontDoorError {
    FrontDoorError {
        code: e.problem_code().into(),
        detail: e.to_string(),
        retry_after: e.retry_after().map(|d| d.as_secs()),
    }
}

/// A refusal of the caller's credential (the reason goes to the log only).
fn refused(reason: &str, request_id: &str) -> FrontDoorError {
    tracing::info!(%request_id, reason, "front door caller refused");
    FrontDoorError::new(ProblemCode::Unauthorized, "refused")
}
