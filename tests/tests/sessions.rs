//! The host's session and transport against the simulator: every auth
//! strategy, mutual auth on and off, single-flight login under a cold
//! stampede, re-login when sessions expire under load, and what happens
//! when credentials are wrong.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use twoway::config::{self, Config};
use twoway::salesforce::Api;
use twoway::upstream::{Outbound, TenantUpstream, UpstreamError};
use twoway_sim::Sim;
use twoway_tests::{admin_get, admin_post, pki, start_sim, start_sim_with};

/// The secrets the test tenants read through `*_env` keys.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "ACME_PASSWORD" => "acme-password",
        "ACME_TOKEN" => "ACMETOKEN",
        "WRONG_PASSWORD" => "not-the-password",
        "ANALYST_PASSWORD" => "analyst-password",
        "ACME_CLIENT_SECRET" => "acme-client-secret",
        _ => return None,
    };
    Some(value.to_string())
}

/// A gateway config with one tenant `t` pointed at the simulator.
fn config(sim: &Sim, tenant_body: &str) -> Config {
    let text = format!(
        r#"
[[tenant]]
name = "t"
login_url = "{login}"
api_version = "62.0"
extra_roots = ["{root}"]
{tenant_body}
"#,
        login = sim.endpoints().login_url(),
        root = pki().root_ca.display(),
    );
    config::from_toml(&text, std::path::Path::new("/"), &env)
        .unwrap_or_else(|p| panic!("config: {p:?}"))
}

fn upstream(config: &Config) -> Arc<TenantUpstream> {
    Arc::new(
        TenantUpstream::new(twoway::gateway::upstream_settings(
            &config.tenants[0],
            &config.upstream,
        ))
        .expect("tenant upstream"),
    )
}

/// The Acme integration user's SOAP login (its `[tenant.auth]` table).
const ACME_SOAP_AUTH: &str = r#"
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_env = "ACME_PASSWORD"
security_token_env = "ACME_TOKEN"
"#;

/// The analyst's SOAP login with the password from `password_env`.
fn analyst_auth(password_env: &str) -> String {
    format!(
        "\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"analyst@acme.example\"\npassword_env = \"{password_env}\"\n"
    )
}

/// Mutual auth on the simulator's mutual-auth port presenting `fullcert`.
fn mutual_identity(sim: &Sim, fullcert: &Path) -> String {
    format!(
        "mutual_auth = true\nmutual_auth_port = {}\nclient_identity = {{ pem = \"{}\" }}",
        sim.endpoints().mutual.port(),
        fullcert.display()
    )
}

fn acme_soap_login(sim: &Sim) -> Config {
    let identity = mutual_identity(sim, &pki().fullcert);
    config(sim, &format!("{identity}{ACME_SOAP_AUTH}"))
}

fn get_user_info() -> Outbound {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "text/xml; charset=UTF-8".parse().unwrap());
    Outbound {
        api: Api::SoapPartner,
        method: http::Method::POST,
        path: String::new(),
        headers,
        body: Bytes::from_static(
            br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#,
        ),
    }
}

fn rest_query() -> Outbound {
    Outbound {
        api: Api::Rest,
        method: http::Method::GET,
        path: "query?q=SELECT+Id,Name+FROM+Account".into(),
        headers: http::HeaderMap::new(),
        body: Bytes::new(),
    }
}

async fn logins(sim: &Sim) -> u64 {
    admin_get(sim, "/counters").await["logins"]
        .as_u64()
        .expect("logins counter")
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_login_then_get_user_info_over_mutual_tls() {
    let sim = start_sim().await;
    let upstream = upstream(&acme_soap_login(&sim));
    let answer = upstream.send(get_user_info()).await.expect("getUserInfo");
    assert_eq!(answer.status, 200);
    let body = String::from_utf8_lossy(&answer.body);
    assert!(
        body.contains("<userName>integration@acme.example</userName>"),
        "{body}"
    );
    // The session went in, and never comes back out.
    let status = upstream.status();
    assert_eq!(status.state, "active");
    assert_eq!(status.org_id.as_deref(), Some("00D5g000004Acme"));
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["logins"], 1);
    assert!(
        counters["handshakes"]["mutual"].as_u64().unwrap() >= 1,
        "the API call went to the mutual-auth port"
    );
    let usage = upstream.usage();
    assert_eq!(
        (usage.used, usage.limit),
        (1, 15000),
        "API usage read from LimitInfoHeader"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforced_user_without_mutual_auth_gets_a_clear_error() {
    let sim = start_sim().await;
    let config = config(&sim, ACME_SOAP_AUTH);
    let error = upstream(&config)
        .send(get_user_info())
        .await
        .expect_err("must fail");
    assert_eq!(error.problem_code().code(), "mutual_authentication_failed");
    assert!(
        error.to_string().contains("set mutual_auth = true"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_enforcement_works_on_the_standard_port() {
    let sim = start_sim().await;
    let config = config(&sim, &analyst_auth("ANALYST_PASSWORD"));
    let upstream = upstream(&config);
    let answer = upstream.send(rest_query()).await.expect("query");
    assert_eq!(answer.status, 200);
    assert!(String::from_utf8_lossy(&answer.body).contains("Acme Corporation"));
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(
        counters["handshakes"]["mutual"], 0,
        "no mutual-auth port without mutual_auth"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_strategies_get_sessions_that_work_over_mutual_tls() {
    let sim = start_sim().await;
    let identity = mutual_identity(&sim, &pki().fullcert);
    let strategies = [
        r#"kind = "oauth-client-credentials"
client_id = "acme-connected-app"
client_secret_env = "ACME_CLIENT_SECRET""#
            .to_string(),
        r#"kind = "oauth-password"
client_id = "acme-connected-app"
client_secret_env = "ACME_CLIENT_SECRET"
username = "integration@acme.example"
password_env = "ACME_PASSWORD"
security_token_env = "ACME_TOKEN""#
            .to_string(),
        format!(
            r#"kind = "oauth-jwt-bearer"
client_id = "acme-connected-app"
username = "integration@acme.example"
private_key_file = "{}""#,
            pki().client_key.display()
        ),
    ];
    for auth in strategies {
        let config = config(&sim, &format!("{identity}\n[tenant.auth]\n{auth}\n"));
        let upstream = upstream(&config);
        let answer = upstream
            .send(rest_query())
            .await
            .unwrap_or_else(|e| panic!("{auth}: {e}"));
        assert_eq!(answer.status, 200, "{auth}");
        assert!(
            String::from_utf8_lossy(&answer.body).contains("\"totalSize\":3"),
            "{auth}"
        );
        let info = upstream
            .send(get_user_info())
            .await
            .expect("the token is a SOAP session too");
        assert_eq!(info.status, 200);
    }
    assert_eq!(logins(&sim).await, 3, "one login per strategy");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_stop_logins_instead_of_locking_the_user_out() {
    let sim = start_sim().await;
    let config = config(&sim, &analyst_auth("WRONG_PASSWORD"));
    let upstream = upstream(&config);
    for _ in 0..5 {
        let error = upstream.send(rest_query()).await.expect_err("bad password");
        assert_eq!(error.problem_code().code(), "invalid_login", "{error}");
        assert!(error.to_string().contains("INVALID_LOGIN"), "{error}");
    }
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(
        counters["login_failures"], 1,
        "one attempt, then no more until the config changes"
    );
    assert_eq!(upstream.status().state, "stopped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cold_stampede_makes_exactly_one_login() {
    let sim = start_sim().await;
    let upstream = upstream(&acme_soap_login(&sim));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let upstream = upstream.clone();
            tokio::spawn(async move { upstream.send(get_user_info()).await.map(|a| a.status) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().expect("every request succeeds"), 200);
    }
    assert_eq!(logins(&sim).await, 1);
    assert_eq!(upstream.sessions().logins(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expiring_under_load_cause_one_relogin_and_no_failures() {
    let sim = start_sim().await;
    let upstream = upstream(&acme_soap_login(&sim));
    upstream.send(get_user_info()).await.expect("warm up");
    let (go_on, stop) = tokio::sync::watch::channel(true);
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let upstream = upstream.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut sent = 0u32;
                while *stop.borrow() || sent < 5 {
                    let answer = upstream
                        .send(get_user_info())
                        .await
                        .expect("no request fails");
                    assert_eq!(answer.status, 200);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    // Let the load run, expire every session in the simulator, let it run on.
    while admin_get(&sim, "/counters").await["api_requests"]
        .as_u64()
        .unwrap()
        < 200
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let expired = admin_post(&sim, "/sessions/expire").await;
    assert_eq!(expired["expired"], 1);
    let before = admin_get(&sim, "/counters").await["api_requests"]
        .as_u64()
        .unwrap();
    while admin_get(&sim, "/counters").await["api_requests"]
        .as_u64()
        .unwrap()
        < before + 200
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    go_on.send(false).unwrap();
    for worker in workers {
        assert!(worker.await.expect("worker") >= 5);
    }
    assert_eq!(logins(&sim).await, 2, "one login, one re-login");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_reuses_connections() {
    let sim = start_sim().await;
    let upstream = upstream(&acme_soap_login(&sim));
    for _ in 0..50 {
        upstream.send(get_user_info()).await.expect("getUserInfo");
    }
    let mutual = admin_get(&sim, "/counters").await["handshakes"]["mutual"]
        .as_u64()
        .unwrap();
    assert_eq!(
        mutual, 1,
        "50 sequential requests on one kept-alive connection"
    );
    assert_eq!(
        upstream.handshakes(),
        2,
        "one to the login service, one to the instance"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_certificate_is_reported_with_its_reason() {
    let sim = start_sim_with(|_| {}).await;
    let identity = mutual_identity(&sim, &pki().fullcert_b);
    let config = config(&sim, &format!("{identity}{ACME_SOAP_AUTH}"));
    let error = upstream(&config)
        .send(get_user_info())
        .await
        .expect_err("Globex's certificate for Acme");
    assert_eq!(error.problem_code().code(), "client_certificate_rejected");
    assert!(
        matches!(&error, UpstreamError::ClientCertificateRejected { reason } if reason.contains("not registered")),
        "{error}"
    );
}
