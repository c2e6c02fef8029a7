//! Real clients through the front door, with nothing changed but their URL
//! and credential: jsforce 3 and simple-salesforce 1.12 (the scripts of
//! tests/clients/ that run against the simulator directly) log in to
//! the gateway with the tenant's name and API key, and queries, creates,
//! reads, updates and deletes, describes, and runs Bulk 1.0 and 2.0 jobs
//! through it to `twoway sim` over mutual TLS; identity and userinfo answer
//! at the gateway, queries page, and when the gateway token expires each
//! client's own re-login runs and the call succeeds. Nothing a client gets
//! holds the tenant's real session.

use serde_json::{Value, json};
use twoway_tests::clients::Peer;
use twoway_tests::gateway::{ACME, TestGateway, server_tls, tenant_with};
use twoway_tests::{ACME_ACCOUNTS, ACME_ORG, ACME_USER, Client, start_sim, start_sim_with};

/// A gateway serving acme at the front door over HTTPS, and its origin.
async fn gateway(sim: &twoway_sim::Sim) -> (TestGateway, String) {
    let tenant = tenant_with(ACME, "front_door = true");
    let gw = TestGateway::start_with(sim, &server_tls("{pki}/root-ca.pem"), &tenant, &[]).await;
    let origin = format!("https://{}", gw.addr());
    (gw, origin)
}

/// What every client script reads: the gateway as the login URL, the
/// tenant as the user and one of its API keys as the password.
fn env(origin: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("SF_LOGIN_URL", origin),
        ("SF_USERNAME", "acme"),
        ("SF_PASSWORD", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
    ]
}

fn assert_crud(out: &Value, name: &str) {
    assert_eq!(out["accounts"]["totalSize"], 3, "{out}");
    assert_eq!(out["accounts"]["names"], json!(ACME_ACCOUNTS));
    let id = out["created"]["id"].as_str().expect("created id");
    assert!(id.starts_with("001"), "{id}");
    assert_eq!(out["read"]["Name"], name);
    assert_eq!(out["read"]["Industry"], "Testing");
    assert_eq!(out["reread"]["Industry"], "Updated");
}

#[tokio::test(flavor = "multi_thread")]
async fn jsforce_works_through_the_gateway_unchanged() {
    let Some(js) = Peer::jsforce() else { return };
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let out = js.run("sim-crud.js", &env(&origin)).await;
    // The instance URL jsforce derived from serverUrl is the gateway.
    assert_eq!(out["instanceUrl"], origin.as_str(), "{out}");
    assert_crud(&out, "jsforce Test Account");
    assert_eq!(out["deleted"]["success"], true);
    assert_eq!(out["gone"]["errorCode"], "ENTITY_IS_DELETED", "{out}");
}
#[tokio::test(flavor = "multi_thread")]
async fn simple_salesforce_works_through_the_gateway_unchanged() {
    let Some(py) = Peer::simple_salesforce() else {
        return;
    };
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let out = py.run("sim_crud.py", &env(&origin)).await;
    assert_eq!(
        out["instance"].as_str(),
        origin.strip_prefix("https://"),
        "{out}"
    );
    assert_crud(&out, "simple-salesforce Test Account");
    // requests asked for gzip: the query page came compressed and decoded.
    assert_eq!(out["queryEncoding"], "gzip", "{out}");
    assert_eq!(out["deleted"], 204);
    assert_eq!(out["gone"]["type"], "SalesforceResourceNotFound", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_and_bulk_through_the_gateway_with_both_clients() {
    let (Some(js), Some(py)) = (Peer::jsforce(), Peer::simple_salesforce()) else {
        return;
    };
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    let env = env(&origin);

    // Describe Global and sObject Describe (REST).
    let out = js.run("sim-describe.js", &env).await;
    let names = out["global"]["names"].as_array().expect("names");
    assert!(names.contains(&json!("Invoice__c")), "{out}");
    assert_eq!(out["account"]["name"], "Account", "{out}");
    let out = py.run("sim_describe.py", &env).await;
    assert_eq!(out["account"]["keyPrefix"], "001", "{out}");

    // Bulk 1.0 (X-SFDC-Session) through simple-salesforce.
    let out = py.run("sim_bulk.py", &env).await;
    assert_eq!(out["inserted"][0]["success"], true, "{out}");
    assert_eq!(
        out["inserted"][1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING",
        "{out}"
    );
    assert_eq!(out["deleted"][0]["success"], true, "{out}");

    // Bulk 1.0 and 2.0 through jsforce.
    let out = js.run("sim-bulk.js", &env).await;
    assert_eq!(out["v1"][0]["success"], true, "{out}");
    assert_eq!(out["v1"][2]["success"], false, "{out}");
    assert_eq!(
        out["v2"]["successful"].as_array().map(Vec::len),
        Some(2),
        "Bulk 2.0 ingest: {out}"
    );
    assert_eq!(
        out["query"],
        json!([
            { "LastName": "Pig, Petunia", "Email": "petunia@pig.example" },
            { "LastName": "Porky", "Email": "porky@pig.example" },
        ]),
        "Bulk 2.0 query with its locator paging: {out}"
    );
}

/// Every URL in `value` (strings starting with `http`), with its path.
fn urls(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.starts_with("http") => out.push((path.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                urls(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                urls(field, &format!("{path}.{name}"), out);
            }
        }
        _ => {}
    }
}

/// What a client got: no real session, and every URL at the gateway.
#[track_caller]
fn assert_gateway_only(out: &Value, origin: &str) {
    let text = out.to_string();
    assert!(
        !text.contains(&format!("{ACME_ORG}!")),
        "the real session leaked: {text}"
    );
    let mut found = Vec::new();
    urls(out, "", &mut found);
    assert!(found.len() > 5, "identity URLs: {out}");
    for (path, url) in found {
        let at_gateway = url == origin || url.starts_with(&format!("{origin}/"));
        assert!(at_gateway, "{path} = {url}, not at {origin}");
    }
}

#[track_caller]
fn assert_pages(pages: &Value, origin: &str) {
    let mut names = ACME_ACCOUNTS.map(String::from).to_vec();
    names.sort();
    assert_eq!(pages["first"]["size"], 1, "{pages}");
    assert_eq!(pages["first"]["done"], false, "{pages}");
    assert_eq!(pages["first"]["total"], 3, "{pages}");
    let next = pages["first"]["next"].as_str().expect("nextRecordsUrl");
    // As sent (relative), or as the client made it absolute: at the gateway.
    let next = next.strip_prefix(origin).unwrap_or(next);
    assert!(next.starts_with("/services/data/v"), "{next}");
    assert_eq!(pages["more"]["names"], json!([names[1]]), "{pages}");
    assert_eq!(pages["more"]["done"], false, "{pages}");
    assert_eq!(pages["all"], json!(names), "{pages}");
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_paging_and_their_own_relogin_when_the_token_expires() {
    let (Some(js), Some(py)) = (Peer::jsforce(), Peer::simple_salesforce()) else {
        return;
    };
    // One record a page; tokens that live the shortest life allowed.
    let sim = start_sim_with(|c| c.limits.query_batch_size = 1).await;
    let seconds = twoway::config::front_door::MIN_TOKEN_SECONDS;
    let tenant = format!(
        "[front_door]\ntoken_seconds = {seconds}\n{}",
        tenant_with(ACME, "front_door = true")
    );
    let gw = TestGateway::start_with(&sim, &server_tls("{pki}/root-ca.pem"), &tenant, &[]).await;
    let origin = format!("https://{}", gw.addr());
    let wait = ((seconds + 1) * 1000).to_string();
    let mut env = env(&origin);
    env.push(("SF_TOKEN_WAIT_MS", &wait));
    let (js_out, py_out) = tokio::join!(
        js.run("gateway-session.js", &env),
        py.run("gateway_session.py", &env)
    );

    // jsforce: identity() at the gateway's identity URL.
    assert_eq!(js_out["identity"]["username"], ACME_USER, "{js_out}");
    assert!(
        js_out["identity"]["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{origin}/id/"))
    );
    assert_gateway_only(&js_out["identity"], &origin);
    assert_pages(&js_out["pages"], &origin);
    // The token expired; jsforce re-logged in by itself and the query ran.
    let expired = &js_out["expired"];
    assert_eq!(expired["names"], js_out["pages"]["all"], "{js_out}");
    assert!(expired["refreshes"].as_u64() >= Some(1), "{js_out}");
    assert_eq!(expired["newToken"], true, "{js_out}");

    // simple-salesforce: userinfo through oauth2(), the identity URL with its session.
    assert_eq!(
        py_out["userinfo"]["preferred_username"], ACME_USER,
        "{py_out}"
    );
    assert_gateway_only(&py_out["userinfo"], &origin);
    assert_eq!(py_out["identity"]["status"], 200, "{py_out}");
    assert_eq!(py_out["identity"]["body"]["username"], ACME_USER);
    assert_gateway_only(&py_out["identity"]["body"], &origin);
    assert_pages(&py_out["pages"], &origin);
    let expired = &py_out["expired"];
    assert_eq!(expired["names"], py_out["pages"]["all"], "{py_out}");
    assert_eq!(expired["newToken"], true, "{py_out}");

    // Every token either client held is a gateway token.
    for token in js_out["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .chain(py_out["tokens"].as_array().unwrap())
    {
        assert!(
            token.as_str().unwrap().starts_with("00DGATEWAYTOKEN!"),
            "{token}"
        );
    }
    for out in [&js_out, &py_out] {
        assert!(!out.to_string().contains(&format!("{ACME_ORG}!")), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_salesforce_cli_logs_in_with_a_gateway_token_and_queries() {
    let Some(sf) = Peer::sf_cli() else { return };
    let sim = start_sim().await;
    let (_gw, origin) = gateway(&sim).await;
    // A gateway token from the OAuth password grant, as curl would get it.
    let env = env(&origin);
    let grant = Client::anonymous()
        .form(
            &format!("{origin}/services/oauth2/token"),
            &[
                ("grant_type", "password"),
                ("username", env[1].1),
                ("password", env[2].1),
            ],
        )
        .await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    let token = grant.json()["access_token"].as_str().unwrap().to_string();
    let home = tempfile::tempdir().expect("a home for sf");
    let token_env = [("SF_ACCESS_TOKEN", token.as_str())];
    let run = async |args: &[&str]| {
        let out = sf
            .sf(args, home.path(), &token_env)
            .await
            .unwrap_or_else(|e| panic!("sf {}: {e}", args.join(" ")));
        assert!(!out.to_string().contains(&format!("{ACME_ORG}!")), "{out}");
        out
    };

    // sf's own checks of the token and the org: userinfo, the user, the
    // version list, the organization, all through the gateway.
    let login = run(&[
        "org",
        "login",
        "access-token",
        "--instance-url",
        &origin,
        "--no-prompt",
        "--alias",
        "gateway",
    ])
    .await;
    assert_eq!(login["status"], 0, "{login}");
    assert_eq!(login["result"]["username"], ACME_USER, "{login}");
    let instance = login["result"]["instanceUrl"].as_str().unwrap();
    assert_eq!(instance.trim_end_matches('/'), origin, "{login}");

    let query = run(&[
        "data",
        "query",
        "--query",
        "SELECT Name FROM Account ORDER BY Name",
        "--target-org",
        "gateway",
    ])
    .await;
    let mut names = ACME_ACCOUNTS.map(String::from).to_vec();
    names.sort();
    let got: Vec<&str> = query["result"]["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}"))
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(got, names, "{query}");
    assert_eq!(query["result"]["totalSize"], 3, "{query}");

    // sf checks the stored org through the gateway too.
    let display = run(&["org", "display", "--target-org", "gateway"]).await;
    assert_eq!(
        display["result"]["connectedStatus"], "Connected",
        "{display}"
    );
    let org = display["result"]["id"].as_str().unwrap_or_default();
    assert!(org.starts_with(ACME_ORG), "{display}");
}
