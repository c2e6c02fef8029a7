//! Hostile XML end to end (issue 10): the namespace-heavy and
//! attribute-heavy envelopes, sent as a workflow's SOAP body through the
//! passthrough plugin, are refused with `invalid_request` naming the cap
//! before any session is asked for or any byte reaches the API, while
//! another caller's getUserInfo on the same tenant succeeds meanwhile.
//! Hostile upstream answers are covered where they are classified
//! (`salesforce::classify` unit tests): the simulator only writes regular XML.

use tokio::task::JoinSet;
use twoway_testkit::hostile;
use twoway_tests::gateway::{ACME, TestGateway, http};
use twoway_tests::plugins::*;
use twoway_tests::{admin_get, start_sim};

const KEY: &str = "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d";

/// The getUserInfo request a workflow writes: no SessionHeader.
const GET_USER_INFO_REQUEST: &str = r#"<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn tenants() -> String {
    format!(
        "{ACME}[[tenant.workflow]]\nname = \"pass\"\nplugin = \"passthrough.wasm\"\n\
         [[tenant.workflow]]\nname = \"user\"\nplugin = \"get_user_info.wasm\"\n"
    )
}

async fn post(url: String, body: String) -> twoway_tests::gateway::Reply {
    http(
        "POST",
        &url,
        &[
            ("content-type", "text/xml; charset=utf-8"),
            ("authorization", KEY),
        ],
        body,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_envelopes_are_refused_and_other_callers_are_served() {
    let sim = start_sim().await;
    let gw = TestGateway::start(
        &sim,
        &tenants(),
        &[
            ("passthrough.wasm", PASSTHROUGH),
            ("get_user_info.wasm", GET_USER_INFO),
        ],
    )
    .await;
    let pass = format!("{}/tenants/acme/workflows/pass", gw.url);
    let user = format!("{}/tenants/acme/workflows/user", gw.url);

    // The passthrough path works for a regular envelope, so what follows
    // is about the caps and nothing else.
    let regular = post(pass.clone(), GET_USER_INFO_REQUEST.to_string()).await;
    assert_eq!(regular.status, 200, "{}", regular.body);
    assert!(
        regular.body.contains("getUserInfoResponse"),
        "{}",
        regular.body
    );
    let api_requests = admin_get(&sim, "/counters").await["api_requests"].clone();

    let envelopes = [
        (
            hostile::namespace_heavy_envelope(),
            "`soapenv:Envelope` at line 1 declares more than 64 namespaces",
        ),
        (
            hostile::attribute_heavy_envelope(),
            "`getUserInfo` at line 1 has more than 256 attributes",
        ),
    ];
    let mut hostile_calls = JoinSet::new();
    for round in 0..4 {
        for (body, needle) in &envelopes {
            let (url, body, needle) = (pass.clone(), body.clone(), *needle);
            hostile_calls.spawn(async move { (round, needle, post(url, body).await) });
        }
    }
    // While those are sent, another caller's requests are served.
    let mut served = 0;
    while served < 6 {
        let reply = http("GET", &user, &[("authorization", KEY)], "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["userName"], "integration@acme.example");
        served += 1;
    }

    let mut refused = 0;
    while let Some(joined) = hostile_calls.join_next().await {
        let (round, needle, reply) = joined.expect("hostile call");
        let problem = reply.json();
        assert_eq!(
            problem["code"], "invalid_request",
            "round {round}: {}",
            reply.body
        );
        assert_eq!(
            reply.status, 500,
            "invalid_request's status: {}",
            reply.body
        );
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "round {round}: {detail}");
        assert!(
            detail.contains("refused unparsed"),
            "the detail says the body was refused: {detail}"
        );
        refused += 1;
    }
    assert_eq!(refused, 8);
    // Nothing of them reached the API.
    assert_eq!(
        admin_get(&sim, "/counters").await["api_requests"],
        serde_json::json!(api_requests.as_u64().unwrap() + 6),
        "only the getUserInfo calls reached the API"
    );
}
