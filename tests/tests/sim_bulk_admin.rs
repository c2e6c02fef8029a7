//! Bulk API 1.0 job creation with `X-SFDC-Session` and its InvalidSessionId
//! error, and the simulator's admin port: counters (logins, API requests,
//! TLS handshakes per port), expiring sessions and resetting counters.

use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client, Response,
    admin_get, admin_post, get_user_info_envelope, pki, soap_login, start_sim, xml_text,
};

const INVALID_SESSION: &str = r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"#;

fn job_info(operation: &str, object: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload"><operation>{operation}</operation><object>{object}</object><contentType>CSV</contentType></jobInfo>"#
    )
}

async fn create_job(base: &str, session: Option<&str>, body: String) -> Response {
    let mut headers = vec![("content-type", "application/xml; charset=UTF-8")];
    if let Some(session) = session {
        headers.push(("x-sfdc-session", session));
    }
    Client::with_identity(&pki().fullcert)
        .send(
            "POST",
            &format!("{base}/services/async/62.0/job"),
            &headers,
            body,
        )
        .await
}

fn assert_bulk_error(response: &Response, body: &str) {
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.body, body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_is_created_with_the_session_in_x_sfdc_session() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let response = create_job(&mutual, Some(&session), job_info("insert", "Account")).await;
    assert_eq!(response.status, 201, "{}", response.body);
    let body = &response.body;
    assert!(body.starts_with(
        r#"<?xml version="1.0" encoding="UTF-8"?><jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload"><id>750"#
    ), "{body}");
    let id = xml_text(body, "id").unwrap();
    assert_eq!(id.len(), 18);
    for fragment in [
        "<operation>insert</operation><object>Account</object>",
        "<state>Open</state>",
        "<contentType>CSV</contentType>",
        "<apiVersion>62.0</apiVersion>",
    ] {
        assert!(body.contains(fragment), "missing {fragment}: {body}");
    }
    assert!(xml_text(body, "createdById").unwrap().starts_with("005"));

    // The job can be read back.
    let read = Client::with_identity(&pki().fullcert)
        .send(
            "GET",
            &format!("{mutual}/services/async/62.0/job/{id}"),
            &[("x-sfdc-session", session.as_str())],
            "",
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(xml_text(&read.body, "id").unwrap(), id);
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_invalid_session_is_invalid_session_id() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let body = || job_info("insert", "Account");
    assert_bulk_error(&create_job(&mutual, None, body()).await, INVALID_SESSION);
    assert_bulk_error(
        &create_job(&mutual, Some("00D5g000004Acme!AQforged"), body()).await,
        INVALID_SESSION,
    );
    // An expired session.
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    admin_post(&sim, "/sessions/expire").await;
    let expired = create_job(&mutual, Some(&session), body()).await;
    assert_bulk_error(&expired, INVALID_SESSION);
    assert_eq!(
        expired.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_job_requests_get_bulk_errors() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let error = |code: &str, message: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>{code}</exceptionCode><exceptionMessage>{message}</exceptionMessage></error>"#
        )
    };
    assert_bulk_error(
        &create_job(&mutual, Some(&session), job_info("explode", "Account")).await,
        &error("InvalidJob", "Invalid operation: explode"),
    );
    let unknown = create_job(&mutual, Some(&session), job_info("insert", "Bogus")).await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown
            .body
            .contains("<exceptionCode>InvalidJob</exceptionCode>")
    );
    assert_bulk_error(
        &create_job(&mutual, Some(&session), "<jobInfo/>".into()).await,
        &error(
            "InvalidJob",
            "Expected a jobInfo element in the dataload namespace",
        ),
    );
    let empty = create_job(&mutual, Some(&session), String::new()).await;
    assert_bulk_error(&empty, &error("InvalidXML", "Premature end of file."));
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_on_the_standard_port_refuses_an_enforced_session() {
    let sim = start_sim().await;
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let response = Client::anonymous()
        .send(
            "POST",
            &format!("{}/services/async/62.0/job", sim.endpoints().standard_url()),
            &[("x-sfdc-session", session.as_str())],
            job_info("insert", "Account"),
        )
        .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert!(
        response
            .body
            .contains("<exceptionCode>MutualAuthenticationFailed</exceptionCode>")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_count_logins_requests_and_handshakes_per_port() {
    let sim = start_sim().await;
    let e = sim.endpoints();
    let acme = soap_login(&e.login_url(), ACME_USER, ACME_PASSWORD).await;
    let analyst = soap_login(&e.standard_url(), ANALYST_USER, ANALYST_PASSWORD).await;
    let _again = soap_login(&e.login_url(), ACME_USER, ACME_PASSWORD).await;
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["logins"], 3);
    assert_eq!(counters["logins_by_user"][ACME_USER], 2);
    assert_eq!(counters["logins_by_user"][ANALYST_USER], 1);
    assert_eq!(counters["handshakes"]["login"], 2);
    assert_eq!(counters["handshakes"]["standard"], 1);
    assert_eq!(counters["live_sessions"], 3);

    // A measured phase: N requests on N fresh connections are N handshakes.
    let reset = admin_post(&sim, "/counters/reset").await;
    assert_eq!(reset["logins"], 0);
    assert_eq!(reset["api_requests"], 0);
    assert_eq!(reset["handshakes"]["mutual"], 0);
    assert_eq!(
        reset["live_sessions"], 3,
        "sessions survive a counter reset"
    );
    let mutual = Client::with_identity(&pki().fullcert);
    for _ in 0..3 {
        let r = mutual
            .soap(
                &format!("{}/services/Soap/u/62.0", e.mutual_url()),
                &get_user_info_envelope(&acme),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for _ in 0..2 {
        let r = Client::anonymous()
            .soap(
                &format!("{}/services/Soap/u/62.0", e.standard_url()),
                &get_user_info_envelope(&analyst),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["handshakes"]["mutual"], 3);
    assert_eq!(counters["handshakes"]["standard"], 2);
    assert_eq!(counters["handshakes"]["login"], 0);
    assert_eq!(counters["api_requests"], 5);
    assert_eq!(counters["api_usage_by_org"][ACME_ORG], 5);
    assert_eq!(counters["logins"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_by_user_or_all_at_once() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    soap_login(&login, ACME_USER, ACME_PASSWORD).await;
    soap_login(&login, ACME_USER, ACME_PASSWORD).await;
    soap_login(&login, ANALYST_USER, ANALYST_PASSWORD).await;
    let expired = admin_post(&sim, &format!("/sessions/expire?username={ACME_USER}")).await;
    assert_eq!(expired, serde_json::json!({ "expired": 2 }));
    assert_eq!(admin_get(&sim, "/counters").await["live_sessions"], 1);
    assert_eq!(
        admin_post(&sim, "/sessions/expire?username=nobody").await["expired"],
        0
    );
    assert_eq!(admin_post(&sim, "/sessions/expire").await["expired"], 1);
    assert_eq!(admin_post(&sim, "/sessions/expire").await["expired"], 0);
    assert_eq!(admin_get(&sim, "/counters").await["live_sessions"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_port_describes_itself() {
    let sim = start_sim().await;
    assert_eq!(
        admin_get(&sim, "/healthz").await,
        serde_json::json!({ "status": "ok" })
    );
    let endpoints = admin_get(&sim, "/endpoints").await;
    assert_eq!(endpoints["login_url"], sim.endpoints().login_url());
    assert_eq!(endpoints["instance_url"], sim.endpoints().standard_url());
    assert_eq!(endpoints["mutual_auth_url"], sim.endpoints().mutual_url());
    assert_eq!(endpoints["mutual_auth_port"], sim.endpoints().mutual.port());
    let unknown = admin_get(&sim, "/nope").await;
    assert_eq!(unknown["error"], "unknown admin route");
    assert!(
        unknown["routes"]
            .as_array()
            .unwrap()
            .contains(&"POST /sessions/expire[?username=U]".into())
    );
    // The admin port is plain HTTP on loopback.
    assert!(sim.endpoints().admin.ip().is_loopback());
}
