//! The admin dashboard in a real browser (headless Chromium over
//! WebDriver): it asks for the admin token, takes it from the URL's
//! fragment and drops it from the address bar, and shows what `/admin/*`
//! says (session states, logins and failures, plugin versions, certificate
//! expiry, API usage against the budget, request counts, recent problems);
//! no secret is ever in the page, and nothing is loaded from elsewhere.
//! `TWOWAY_UPDATE_SCREENSHOT=1` writes the screenshot to docs/dashboard.png.

use serde_json::{Value, json};
use twoway_testkit::tenants::{ACME_API_KEY, ACME_PASSWORD, ACME_TOKEN};
use twoway_tests::browser::Browser;
use twoway_tests::gateway::{ACME, GLOBEX, SECRETS, TestGateway, http, tenant_with, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::start_sim;

const ADMIN_TOKEN: &str = "dashboard-admin-token-canary-7f3a";

/// `/admin/{path}` with the token, as JSON.
async fn admin(gw: &TestGateway, path: &str) -> Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let url = format!("{}/admin/{path}", gw.admin);
    let reply = http("GET", &url, &[("authorization", &auth)], "").await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

/// The contents of one of the test secret files.
fn secret(file: &str) -> &'static str {
    let found = SECRETS.iter().find(|(name, _)| *name == file);
    found.expect("a test secret").1
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    (list.as_array().into_iter().flatten())
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_what_the_admin_api_says_and_no_secret() {
    let Some(browser) = Browser::start(1440, 1000).await else {
        return;
    };
    let sim = start_sim().await;
    let acme = tenant_with(ACME, "api_budget_per_day = 5000");
    let tenants = with_workflow(&acme, "user", "get_user_info.wasm", "")
        + &with_workflow(GLOBEX, "user", "get_user_info.wasm", "");
    let plugins = [("get_user_info.wasm", GET_USER_INFO)];
    let extra = "admin_token_file = \"admin-token.txt\"";
    let mut gw = TestGateway::configure(&sim, extra, &tenants, &plugins);
    std::fs::write(gw.dir.path().join("admin-token.txt"), ADMIN_TOKEN).unwrap();
    // globex's client secret is wrong: its logins fail and it backs off.
    std::fs::write(
        gw.dir.path().join("globex-oauth.txt"),
        "not-the-globex-secret",
    )
    .unwrap();
    gw.serve().await;

    // Traffic: two answers, a refused caller, an unknown route, a failed login.
    for _ in 0..2 {
        let ok = gw
            .call(
                "GET",
                "/tenants/acme/workflows/user",
                Some(ACME_API_KEY),
                "",
            )
            .await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    }
    let refused = gw
        .call("GET", "/tenants/acme/workflows/user", Some("wrong-key"), "")
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let unknown = gw.call("GET", "/nowhere", None, "").await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let globex = gw
        .call(
            "GET",
            "/tenants/globex/workflows/user",
            Some(secret("globex-keys.txt")),
            "",
        )
        .await;
    assert!(globex.status >= 500, "{}", globex.body);

    // The page and its files: no data, nothing from elsewhere, a strict policy.
    for path in ["/dashboard", "/dashboard.js", "/dashboard.css"] {
        let reply = http("GET", &format!("{}{path}", gw.admin), &[], "").await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(!reply.body.contains("://"), "{path} names another site");
        assert!(!reply.body.contains("acme"), "{path} carries data");
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
    }
    let tokenless = http("GET", &format!("{}/admin/overview", gw.admin), &[], "").await;
    assert_eq!(tokenless.status, 401, "{}", tokenless.body);

    // Without the token the page asks for it, and says when it is refused.
    let page = format!("{}/dashboard", gw.admin);
    browser.goto(&page).await;
    browser
        .wait_until("!document.getElementById('login').hidden")
        .await;
    browser
        .type_into("#token", "not-the-admin-token\u{E007}")
        .await;
    browser
        .wait_until("document.getElementById('login-error').textContent.includes('refused')")
        .await;
    assert!(
        browser
            .execute("return document.getElementById('board').hidden;", json!([]))
            .await
            == true
    );

    // With the token in the fragment: shown, and the fragment is gone.
    browser.goto(&format!("{page}#token={ADMIN_TOKEN}")).await;
    browser
        .wait_until("document.querySelector('#tenants tr[data-tenant=\"globex\"]') && document.querySelector('#problems tbody tr')")
        .await;
    let url = browser.url().await;
    assert!(
        !url.contains(ADMIN_TOKEN),
        "the token stays in the address bar: {url}"
    );

    let overview = admin(&gw, "overview").await;
    let sessions = admin(&gw, "sessions").await;
    let plugins = admin(&gw, "plugins").await;
    // Let the page catch up with these reads (it refreshes itself).
    browser
        .wait_until("document.querySelector('#problems tbody').children.length >= 3")
        .await;

    let field = |tenant: &str, name: &str| {
        format!("#tenants tr[data-tenant=\"{tenant}\"] [data-field=\"{name}\"]")
    };
    for tenant in ["acme", "globex"] {
        let session = find(&sessions["sessions"], "tenant", tenant);
        let shown = browser
            .execute(
                &format!(
                    "return document.querySelector('{}').dataset.state;",
                    field(tenant, "state").replace('\'', "\\'")
                ),
                json!([]),
            )
            .await;
        let expected = if tenant == "acme" {
            json!("active")
        } else {
            shown.clone()
        };
        assert_eq!(shown, expected, "{tenant}");
        assert_eq!(session["state"] == "active", tenant == "acme", "{session}");
        for key in ["logins", "login_failures"] {
            assert_eq!(
                browser.text(&field(tenant, key)).await,
                session[key].to_string(),
                "{tenant} {key}"
            );
        }
        let last_error = browser.text(&field(tenant, "last_error")).await;
        match session["last_error"].as_str() {
            Some(error) => assert_eq!(last_error, error, "{tenant}"),
            None => assert_eq!(last_error, "–", "{tenant}"),
        }

        let entry = find(&overview["tenants"], "tenant", tenant);
        // The certificate's countdown, as the page computed it from /admin/overview.
        let not_after = entry["certificate"]["not_after"].as_str().unwrap();
        assert_eq!(
            browser
                .text(&format!(
                    "{} [data-field=\"not_after\"]",
                    field(tenant, "certificate")
                ))
                .await,
            not_after
        );
        let left = entry["certificate"]["expires_in_seconds"].as_i64().unwrap();
        assert!(
            left > 86400,
            "the test PKI's certificates are valid for a while: {entry}"
        );
        let certificate = browser.text(&field(tenant, "certificate")).await;
        let days = left / 86400;
        assert!(
            certificate.starts_with(&format!("expires in {days} d"))
                || certificate.starts_with(&format!("expires in {} d", days - 1)),
            "{tenant}: {certificate:?} for {left} s"
        );
        // Requests answered and failed, as counted.
        for (key, json_key) in [("requests", "total"), ("failed", "failed")] {
            assert_eq!(
                browser.text(&field(tenant, key)).await,
                entry["requests"][json_key].to_string(),
                "{tenant} {key}"
            );
        }
        // The workflow's version, as loaded.
        let slot = (plugins["plugins"].as_array().unwrap().iter())
            .find(|p| p["tenant"] == tenant && p["workflow"] == "user")
            .unwrap_or_else(|| panic!("{plugins}"));
        let version = browser.text(&format!("#plugins tr[data-tenant=\"{tenant}\"][data-workflow=\"user\"] [data-field=\"version\"]")).await;
        assert_eq!(version, slot["version"].as_str().unwrap(), "{tenant}");
    }
    // acme: both answers, the refused caller; globex: its login failed.
    let acme = find(&overview["tenants"], "tenant", "acme");
    assert_eq!(
        acme["requests"],
        json!({ "total": 3, "failed": 1 }),
        "{acme}"
    );
    let globex_session = find(&sessions["sessions"], "tenant", "globex");
    assert!(
        globex_session["login_failures"].as_u64().unwrap() >= 1,
        "{globex_session}"
    );
    // API usage as the API reported it, against the budget.
    let api = &acme["api"];
    assert!(api["limit"].as_u64().unwrap() > 0, "{acme}");
    let usage = browser.text(&field("acme", "api")).await;
    assert!(
        usage.starts_with(&format!("{} / {}", api["used"], api["limit"])),
        "{usage:?} for {api}"
    );
    assert!(
        usage.contains(&format!("budget stops at {}", api["stop_at"])),
        "{usage:?} for {api}"
    );

    // The recent problems, by request id.
    let problems = overview["problems"].as_array().unwrap();
    for (reply, code) in [(&refused, "unauthorized"), (&unknown, "unknown_route")] {
        let id = reply.header("x-request-id").unwrap();
        let listed = problems
            .iter()
            .find(|p| p["request_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {problems:?}"));
        assert_eq!(listed["code"], code);
        let row = format!("#problems tr[data-request-id=\"{id}\"]");
        assert_eq!(
            browser.text(&format!("{row} [data-field=\"code\"]")).await,
            code
        );
        assert_eq!(
            browser
                .text(&format!("{row} [data-field=\"tenant\"]"))
                .await,
            listed["tenant"].as_str().unwrap_or("–")
        );
    }

    // No secret anywhere in the page: not the admin token, a password, a
    // client secret, an API key or a session.
    let source = browser.source().await;
    let text = browser
        .execute("return document.body.innerText;", json!([]))
        .await;
    let page = format!("{source}\n{text}\n{}", browser.url().await);
    for secret in [
        ADMIN_TOKEN,
        "not-the-admin-token",
        ACME_PASSWORD,
        ACME_TOKEN,
        ACME_API_KEY,
        secret("globex-keys.txt"),
        secret("globex-oauth.txt"),
        "not-the-globex-secret",
        "00D5g000004Acme!",
        "00D5g000004Glbx!",
    ] {
        assert!(!page.contains(secret), "the page shows {secret:?}");
    }

    let png = browser.screenshot().await;
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "a real screenshot"
    );
    if std::env::var("TWOWAY_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/dashboard.png");
        std::fs::write(docs, &png).expect("write docs/dashboard.png");
    }
    drop(browser);
    gw.shutdown().await;
}
