//! The admin dashboard: one read-only page (HTML, JS and CSS embedded in
//! the binary, nothing fetched from elsewhere) and `/admin/overview`, the
//! JSON it shows: tenants with their session state (never the id), logins
//! and backoff, client-certificate expiry, API usage against limit and
//! budget and request counts; plugin versions and load errors; the recent
//! problems.
//!
//! The page itself carries no data and is served without the token; every
//! value comes from `/admin/overview`, which needs the admin token like all
//! of `/admin/*`. A page cannot set a header on its own navigation, so the
//! token travels in the URL's fragment (`/dashboard#token=...`, never sent
//! to the server nor in a `Referer`) or a form on the page; the script
//! keeps it in the tab's `sessionStorage`, removes it from the address
//! bar, and sends it as `Authorization: Bearer` on its own fetches. No
//! cookie, so no other site's page can make the browser send it.

use std::collections::BTreeMap;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Shared;

const HTML: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");

/// Only the page's own files, no inline code, no frames, no forms posted.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's files by path, or `None` for another path.
pub fn asset(path: &str) -> Option<http::Response<Full<Bytes>>> {
    let (body, kind) = match path {
        "/dashboard" | "/dashboard/" => (HTML, "text/html; charset=utf-8"),
        "/dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/dashboard.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    http::Response::builder()
        .header(http::header::CONTENT_TYPE, kind)
        .header(http::header::CONTENT_SECURITY_POLICY, CSP)
        .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(http::header::X_FRAME_OPTIONS, "DENY")
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .ok()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// What the dashboard shows, as of now.
pub fn overview(shared: &Shared) -> serde_json::Value {
    let generation = shared.current();
    let now = OffsetDateTime::now_utc();
    // Requests answered so far and those answered with a 4xx or 5xx, by
    // (tenant, workflow).
    let mut requests: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (labels, counter) in shared.metrics.requests.series() {
        let entry = requests
            .entry((labels.tenant, labels.workflow))
            .or_default();
        entry.0 += counter.get();
        if labels.status >= 400 {
            entry.1 += counter.get();
        }
    }
    let count = |tenant: &str, workflow: Option<&str>| {
        (requests.iter())
            .filter(|((t, w), _)| t == tenant && workflow.is_none_or(|name| name == w))
            .fold((0, 0), |(total, failed), (_, (t, f))| {
                (total + t, failed + f)
            })
    };
    let mut tenants: Vec<_> = generation.tenants.values().collect();
    tenants.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    let tenants: Vec<_> = tenants
        .into_iter()
        .map(|t| {
            let upstream = &t.upstream;
            let usage = upstream.usage();
            let (total, failed) = count(&t.config.name, None);
            let certificate = upstream.identity().map(|id| {
                json!({
                    "subject": id.leaf.subject,
                    "not_after": rfc3339(id.leaf.not_after),
                    "expires_in_seconds": (id.leaf.not_after - now).whole_seconds(),
                })
            });
            json!({
                "tenant": t.config.name,
                "session": upstream.status(),
                "certificate": certificate,
                "api": {
                    "used": usage.used,
                    "limit": usage.limit,
                    "stop_at": usage.threshold,
                },
                "requests": { "total": total, "failed": failed },
            })
        })
        .collect();
    let plugins: Vec<_> = (shared.registry.status().into_iter())
        .map(|slot| {
            let (total, failed) = count(&slot.tenant, Some(&slot.workflow));
            let mut value = serde_json::to_value(&slot).unwrap_or_default();
            value["requests"] = json!({ "total": total, "failed": failed });
            value
        })
        .collect();
    let m = &shared.metrics;
    json!({
        "generated_at": rfc3339(now),
        "version": env!("CARGO_PKG_VERSION"),
        "ready": shared.registry.ready() && !shared.drain.draining(),
        "draining": shared.drain.draining(),
        "in_flight": m.in_flight.get(),
        "config": {
            "reloads": shared.reloads.load(std::sync::atomic::Ordering::Relaxed),
            "last_reload_successful": m.config_last_reload_successful.get() == 1,
            "last_reload_error": shared.last_reload_error.read().unwrap_or_else(|e| e.into_inner()).clone(),
        },
        "tenants": tenants,
        "plugins": plugins,
        "problems": shared.problems.list(),
    })
}
