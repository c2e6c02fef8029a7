//! Real clients through the front door, with nothing changed but their URL
//! and credential: jsforce 3 and simple-salesforce 1.12 (the scripts of
//! tests/clients/ that run against the simulator directly) log in to
//! the gateway with the tenant's name and API key, and queries, creates,
//! reads, updates and deletes, describes, and runs Bulk 1.0 and 2.0 jobs
//! through it to `twoway sim` over mutual TLS.

use serde_json::{Value, json};
use twoway_tests::clients::Peer;
use twoway_tests::gateway::{ACME, TestGateway, server_tls, tenant_with};
use twoway_tests::{ACME_ACCOUNTS, start_sim};

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
