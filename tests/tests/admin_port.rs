//! The admin port against a browser: a page of another site reaches a
//! tokenless loopback admin port through DNS rebinding (a `Host` of its
//! own name) or a cross-site request (`Origin`, `Sec-Fetch-Site`), and is
//! refused before any route, `/admin/reload` included; curl and probes,
//! which name the port by its address, still get their answers. With
//! `admin_token_metrics`, `/metrics` (which lists every tenant and
//! workflow) needs the token too.

use twoway_tests::gateway::{ACME, TestGateway, http};
use twoway_tests::start_sim;

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_page_of_another_site_is_refused_and_curl_is_not() {
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
    let port = gw.admin.rsplit(':').next().unwrap().to_string();
    let rebound = format!("evil.example:{port}");
    let reloads = || async { gw.admin_get("/admin/config").await.json()["reloads"].clone() };
    let before = reloads().await;

    for (method, path) in [
        ("GET", "/admin/config"),
        ("GET", "/admin/sessions"),
        ("GET", "/metrics"),
        ("GET", "/healthz"),
        ("POST", "/admin/reload"),
    ] {
        let url = format!("{}{path}", gw.admin);
        let refused = [
            vec![("host", rebound.as_str())],
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
        ];
        for headers in &refused {
            let reply = http(method, &url, headers, "").await;
            assert_eq!(
                reply.status, 403,
                "{method} {path} {headers:?}: {}",
                reply.body
            );
            assert_eq!(reply.json()["error"], "forbidden", "{}", reply.body);
        }
    }
    assert_eq!(reloads().await, before, "no reload from another site");

    // curl, a probe, a same-origin page: answered.
    let url = format!("{}/admin/reload", gw.admin);
    let local = format!("localhost:{port}");
    for headers in [
        vec![],
        vec![("host", local.as_str())],
        vec![("sec-fetch-site", "none")],
    ] {
        let reply = http("POST", &url, &headers, "").await;
        assert_eq!(reply.status, 200, "{headers:?}: {}", reply.body);
    }
    assert_ne!(reloads().await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_covers_metrics_when_asked() {
    const TOKEN: &str = "metrics-token-canary-5d1e8b";
    let sim = start_sim().await;
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("admin-token.txt");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let gw = TestGateway::with_user_workflow(
        &sim,
        &format!(
            "admin_token_file = \"{}\"\nadmin_token_metrics = true",
            token_file.display()
        ),
        ACME,
    )
    .await;
    let url = format!("{}/metrics", gw.admin);
    let reply = http("GET", &url, &[], "").await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(!reply.body.contains("acme"), "{}", reply.body);
    let bearer = format!("Bearer {TOKEN}");
    let reply = http("GET", &url, &[("authorization", bearer.as_str())], "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("tenant=\"acme\""), "{}", reply.body);
    // Probes stay open.
    for path in ["/healthz", "/readyz"] {
        let reply = http("GET", &format!("{}{path}", gw.admin), &[], "").await;
        assert_eq!(reply.status, 200, "{path}");
    }
}
