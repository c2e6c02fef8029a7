//! A tenant's front-door policy end to end: the built `read-only` and
//! `mask-fields` components as `[tenant.policy]`, a client through the
//! gateway to the simulator over mutual TLS. A refused write is Salesforce's
//! INSUFFICIENT_ACCESS in the client's format and never reaches the API;
//! reads pass; masked fields never reach the client.

use twoway_tests::front_door::{self, token};
use twoway_tests::gateway::TestGateway;
use twoway_tests::{Client, admin_get, api_envelope, plugins, start_sim, xml_text};

async fn api_requests(sim: &twoway_sim::Sim) -> u64 {
    admin_get(sim, "/counters").await["api_requests"]
        .as_u64()
        .unwrap()
}

/// A gateway whose tenant acme has the front door and `policy` (with `config`).
async fn gateway(
    sim: &twoway_sim::Sim,
    file: &str,
    built: &str,
    config: &str,
) -> (TestGateway, String) {
    let policy = format!("[tenant.policy]\nplugin = \"{file}\"\nconfig = {{ {config} }}\n");
    front_door::start(sim, "", &policy, &[(file, built)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_tenant_reads_and_every_write_is_refused_before_the_api() {
    let sim = start_sim().await;
    let (gw, origin) = gateway(&sim, "read_only.wasm", plugins::READ_ONLY, "").await;
    let client = Client::anonymous();
    let token = token(&client, &origin).await;

    let query = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account"),
            &token,
            None,
        )
        .await;
    assert_eq!(query.status, 200, "reads pass: {}", query.body);

    let before = api_requests(&sim).await;
    let create = client
        .rest(
            "POST",
            &format!("{origin}/services/data/v62.0/sobjects/Account"),
            &token,
            Some(&serde_json::json!({"Name": "Should not exist"})),
        )
        .await;
    assert_eq!(create.status, 403, "{}", create.body);
    let errors = create.json();
    assert_eq!(
        errors[0]["errorCode"], "INSUFFICIENT_ACCESS",
        "{}",
        create.body
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("read-only"),
        "{}",
        create.body
    );
    assert_eq!(api_requests(&sim).await, before, "nothing reached the API");

    // The refusal is among the dashboard's recent problems, by tenant and
    // API, as is a refused token (no tenant named); never a token.
    let refused = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/limits"),
            "00DGATEWAYTOKEN!not-a-token",
            None,
        )
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    let overview = gw.admin_get("/admin/overview").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(!overview.body.contains(&token), "{}", overview.body);
    assert!(!overview.body.contains("not-a-token"), "{}", overview.body);
    let problems = overview.json()["problems"].clone();
    let listed = |answer: &twoway_tests::Response| {
        let id = answer.header("x-request-id").expect("x-request-id");
        problems
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["request_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {problems}"))
            .clone()
    };
    let policy = listed(&create);
    assert_eq!(policy["tenant"], "acme", "{policy}");
    assert_eq!(policy["api"], "rest", "{policy}");
    assert_eq!(policy["code"], "policy_refused", "{policy}");
    assert_eq!(policy["status"], 403, "{policy}");
    assert_eq!(policy["workflow"], serde_json::Value::Null, "{policy}");
    let unknown = listed(&refused);
    assert_eq!(unknown["tenant"], serde_json::Value::Null, "{unknown}");
    assert_eq!(unknown["code"], "unauthorized", "{unknown}");

    // Apex SOAP is an API the policy world cannot name: refused, not let by.
    let apex = client
        .soap(
            &format!("{origin}/services/Soap/s/62.0"),
            &api_envelope(
                &token,
                r#"<executeAnonymous xmlns="http://soap.sforce.com/2006/08/apex"><String>delete [SELECT Id FROM Account];</String></executeAnonymous>"#,
            ),
        )
        .await;
    assert_eq!(apex.status, 500, "{}", apex.body);
    assert_eq!(
        xml_text(&apex.body, "faultcode").as_deref(),
        Some("sf:INSUFFICIENT_ACCESS"),
        "{}",
        apex.body
    );
    assert_eq!(api_requests(&sim).await, before, "nothing reached the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_fields_never_reach_the_client() {
    let sim = start_sim().await;
    let (_gw, origin) = gateway(
        &sim,
        "mask_fields.wasm",
        plugins::MASK_FIELDS,
        "fields = \"Name\"",
    )
    .await;
    let client = Client::anonymous();
    let token = token(&client, &origin).await;
    let query = client
        .rest(
            "GET",
            &format!("{origin}/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account"),
            &token,
            None,
        )
        .await;
    assert_eq!(query.status, 200, "{}", query.body);
    let records = query.json()["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!records.is_empty(), "{}", query.body);
    for record in records {
        assert_eq!(record["Name"], "****", "{record}");
        assert!(
            record["Id"].as_str().is_some_and(|id| id != "****"),
            "{record}"
        );
    }
}
