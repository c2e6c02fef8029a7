//! Real Salesforce clients against `twoway sim` directly, with the
//! libraries' own calls: jsforce 3 and simple-salesforce 1.12 (installed by
//! scripts/install-test-clients; see twoway_tests::clients) log in with SOAP
//! at their default API versions, query, create, read, update and delete,
//! on the standard port and, presenting the client certificate, on the
//! mutual-auth port; describe, identity, limits, SOSL, queryAll, external
//! ids and aggregates; Bulk API 1.0 and 2.0 through each library's own
//! bulk client.

use serde_json::{Value, json};
use twoway_sim::Sim;
use twoway_tests::clients::Peer;
use twoway_tests::{
    ACME_ACCOUNTS, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, pki, start_sim,
};

/// The environment of a client script: who logs in, and where API calls go
/// (with the client certificate when that is the mutual-auth port).
fn env(sim: &Sim, mutual: bool) -> Vec<(&'static str, String)> {
    let e = sim.endpoints();
    let mut env = vec![("SF_LOGIN_URL", e.login_url())];
    if mutual {
        env.push(("SF_USERNAME", ACME_USER.into()));
        env.push(("SF_PASSWORD", ACME_PASSWORD.into()));
        env.push(("SF_INSTANCE_URL", e.mutual_url()));
        env.push(("SF_CLIENT_CERT", pki().fullcert.display().to_string()));
    } else {
        env.push(("SF_USERNAME", ANALYST_USER.into()));
        env.push(("SF_PASSWORD", ANALYST_PASSWORD.into()));
    }
    env
}

/// Where API calls go: the mutual-auth port or the standard one.
fn instance(sim: &Sim, mutual: bool) -> String {
    if mutual {
        sim.endpoints().mutual_url()
    } else {
        sim.endpoints().standard_url()
    }
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// What both clients report of the same CRUD round, checked alike.
fn assert_crud(out: &Value, name: &str) {
    assert_eq!(out["accounts"]["totalSize"], 3, "{out}");
    assert_eq!(out["accounts"]["done"], true);
    assert_eq!(out["accounts"]["names"], json!(ACME_ACCOUNTS));
    let id = out["created"]["id"].as_str().expect("created id");
    assert!(id.starts_with("001") && id.len() == 18, "{id}");
    assert_eq!(out["created"]["success"], true);
    assert_eq!(out["read"]["Id"], id);
    assert_eq!(out["read"]["Name"], name);
    assert_eq!(out["read"]["Industry"], "Testing");
    assert_eq!(out["reread"]["Industry"], "Updated");
}

#[tokio::test(flavor = "multi_thread")]
async fn jsforce_logs_in_queries_and_saves() {
    let Some(js) = Peer::jsforce() else { return };
    let sim = start_sim().await;
    for mutual in [false, true] {
        let env = env(&sim, mutual);
        let out = js.run("sim-crud.js", &borrowed(&env)).await;
        // jsforce's default version, served as Salesforce serves it.
        assert_eq!(out["version"], "50.0");
        let instance = instance(&sim, mutual);
        assert_eq!(out["instanceUrl"], instance);
        let user = if mutual { ACME_USER } else { ANALYST_USER };
        let (org, user_id) = (&out["userInfo"]["organizationId"], &out["userInfo"]["id"]);
        assert_eq!(org.as_str().map(str::len), Some(18), "{out}");
        assert!(
            user_id.as_str().is_some_and(|id| id.starts_with("005")),
            "{out}"
        );
        assert!(out["userInfo"]["url"].as_str().unwrap().ends_with(&format!(
            "/id/{}/{}",
            org.as_str().unwrap(),
            user_id.as_str().unwrap()
        )));
        assert_crud(&out, "jsforce Test Account");
        assert_eq!(out["updated"]["success"], true);
        assert_eq!(out["deleted"]["success"], true);
        // A deleted record is ENTITY_IS_DELETED, as jsforce names Salesforce's errorCode.
        assert_eq!(
            out["gone"]["errorCode"], "ENTITY_IS_DELETED",
            "{out} ({user})"
        );
        assert_eq!(out["gone"]["name"], "ENTITY_IS_DELETED");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn simple_salesforce_logs_in_queries_and_saves() {
    let Some(py) = Peer::simple_salesforce() else {
        return;
    };
    let sim = start_sim().await;
    for mutual in [false, true] {
        let env = env(&sim, mutual);
        let out = py.run("sim_crud.py", &borrowed(&env)).await;
        // simple-salesforce's default version, served as Salesforce serves it.
        assert_eq!(out["version"], "59.0");
        let instance = instance(&sim, mutual);
        assert_eq!(
            out["instance"].as_str(),
            instance.strip_prefix("https://"),
            "{out}"
        );
        assert_crud(&out, "simple-salesforce Test Account");
        // update and delete return the HTTP status (204).
        assert_eq!(out["updated"], 204);
        assert_eq!(out["deleted"], 204);
        // A deleted record raises SalesforceResourceNotFound with the error array.
        assert_eq!(out["gone"]["type"], "SalesforceResourceNotFound", "{out}");
        assert_eq!(out["gone"]["status"], 404);
        assert_eq!(
            out["gone"]["content"],
            json!([{ "errorCode": "ENTITY_IS_DELETED", "message": "entity is deleted" }])
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jsforce_describes_identifies_searches_and_queries() {
    let Some(js) = Peer::jsforce() else { return };
    let sim = start_sim().await;
    let env = env(&sim, true);
    let out = js.run("sim-describe.js", &borrowed(&env)).await;
    let names = out["global"]["names"].as_array().expect("names");
    for name in [
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "Case",
        "User",
        "Invoice__c",
    ] {
        assert!(names.contains(&json!(name)), "{name} in {names:?}");
    }
    assert_eq!(out["global"]["maxBatchSize"], 200);
    assert_eq!(out["account"]["name"], "Account");
    assert_eq!(out["account"]["keyPrefix"], "001");
    let fields = out["account"]["fields"].as_array().unwrap();
    assert!(fields.contains(&json!({ "name": "Name", "type": "string", "externalId": false })));
    assert!(
        fields.contains(&json!({ "name": "External_Id__c", "type": "string", "externalId": true }))
    );
    assert!(
        fields.contains(&json!({ "name": "ParentId", "type": "reference", "externalId": false }))
    );
    let children = out["account"]["children"].as_array().unwrap();
    for child in ["Contacts", "Opportunities", "Cases", "Invoices__r"] {
        assert!(children.contains(&json!(child)), "{child} in {children:?}");
    }
    // identity() follows the identity URL the SOAP login implies.
    assert_eq!(out["identity"]["username"], ACME_USER);
    assert_eq!(out["identity"]["display_name"], "Acme Integration");
    assert!(
        out["identity"]["user_id"]
            .as_str()
            .unwrap()
            .starts_with("005")
    );
    assert_eq!(
        out["identity"]["organization_id"].as_str().map(str::len),
        Some(18)
    );
    let requests = &out["dailyApiRequests"];
    assert_eq!(requests["Max"], 15000);
    assert!(
        requests["Remaining"].as_u64().unwrap() < 15000,
        "{requests}"
    );
    // SOSL finds the word in any text field, per RETURNING object.
    assert_eq!(
        out["search"],
        json!([
            { "type": "Account", "Name": "Coyote Engineering" },
            { "type": "Contact", "LastName": "Coyote" },
        ])
    );
    // Parent paths, IN and ORDER BY DESC; a missing parent is null.
    assert_eq!(
        out["contacts"],
        json!([{ "LastName": "Coyote", "Account": "Coyote Engineering", "Owner": "Acme Integration" }])
    );
    // queryAll (scanAll) sees the deleted record; query does not.
    assert_eq!(
        out["queryAll"],
        json!([{ "Id": out["deletedId"], "IsDeleted": true }])
    );
    assert_eq!(out["live"], 0);
    assert_eq!(out["malformed"]["errorCode"], "MALFORMED_QUERY");
    assert!(
        out["malformed"]["message"]
            .as_str()
            .unwrap()
            .contains("ERROR at Row:1:Column:29\nunexpected token: <EOF>"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn simple_salesforce_describes_searches_and_upserts() {
    let Some(py) = Peer::simple_salesforce() else {
        return;
    };
    let sim = start_sim().await;
    let env = env(&sim, false);
    let out = py.run("sim_describe.py", &borrowed(&env)).await;
    let names = out["names"].as_array().expect("names");
    assert!(names.contains(&json!("Invoice__c")) && names.contains(&json!("Opportunity")));
    assert_eq!(out["account"]["keyPrefix"], "001");
    assert_eq!(
        out["account"]["fields"]["Name"],
        json!({ "type": "string", "externalId": false, "nillable": false })
    );
    assert_eq!(
        out["account"]["fields"]["AnnualRevenue"],
        json!({ "type": "currency", "externalId": false, "nillable": true })
    );
    assert!(
        out["account"]["children"]
            .as_array()
            .unwrap()
            .contains(&json!("Contacts"))
    );
    assert_eq!(out["dailyApiRequests"]["Max"], 15000);
    assert_eq!(
        out["search"],
        json!([
            { "type": "Account", "Name": "Coyote Engineering", "LastName": null },
            { "type": "Contact", "Name": null, "LastName": "Coyote" },
        ])
    );
    assert_eq!(out["quick"], json!(["Account"]));
    assert_eq!(
        out["byExternal"],
        json!({ "Name": "Coyote Engineering", "External_Id__c": "acme-3" })
    );
    // upsert returns the HTTP status: created, then updated.
    assert_eq!(out["upserted"], json!([201, 200]));
    assert_eq!(out["nine"], "Acme Nine, renamed");
    assert_eq!(
        out["queryAll"],
        json!([{ "Id": out["deletedId"], "IsDeleted": true }])
    );
    assert_eq!(out["live"], 0);
    assert_eq!(
        out["grouped"],
        // ORDER BY puts nulls first unless told otherwise.
        json!([
            { "Industry": null, "n": 1 },
            { "Industry": "Engineering", "n": 1 },
            { "Industry": "Manufacturing", "n": 1 },
            { "Industry": "Transportation", "n": 1 },
        ])
    );
    assert_eq!(out["missing"]["type"], "SalesforceResourceNotFound");
    assert_eq!(out["malformed"]["type"], "SalesforceMalformedRequest");
    assert_eq!(
        out["malformed"]["content"][0]["errorCode"],
        "MALFORMED_QUERY"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn simple_salesforce_bulk_and_bulk2() {
    let Some(py) = Peer::simple_salesforce() else {
        return;
    };
    let sim = start_sim().await;
    let env = env(&sim, true);
    let out = py.run("sim_bulk.py", &borrowed(&env)).await;
    assert_eq!(out["inserted"][0]["success"], true);
    assert_eq!(out["inserted"][0]["created"], true);
    assert_eq!(out["inserted"][1]["success"], false);
    assert_eq!(
        out["inserted"][1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(
        out["queried"],
        json!([{ "Name": "Bulk One", "Industry": "Energy", "type": "Account" }])
    );
    assert_eq!(out["upserted"][0]["created"], true);
    assert_eq!(out["deleted"][0]["success"], true);
    assert_eq!(
        out["after"],
        json!([{ "Name": "Bulk One", "IsDeleted": true }])
    );
    assert_eq!(
        out["v2"],
        json!([{ "numberRecordsFailed": 1, "numberRecordsProcessed": 3, "numberRecordsTotal": 3 }])
    );
    assert_eq!(out["failed"][0]["Company"], "Bulk2 Co");
    assert!(
        out["failed"][0]["sf__Error"]
            .as_str()
            .unwrap()
            .starts_with("REQUIRED_FIELD_MISSING")
    );
    // max_records=1: one record per page, by Sforce-Locator.
    assert_eq!(
        out["pages"],
        json!([
            [{ "LastName": "Three", "Company": "Bulk2 Co" }],
            [{ "LastName": "Two", "Company": "Bulk2 Co" }],
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jsforce_bulk_and_bulk2() {
    let Some(js) = Peer::jsforce() else { return };
    let sim = start_sim().await;
    let env = env(&sim, true);
    let out = js.run("sim-bulk.js", &borrowed(&env)).await;
    assert_eq!(
        out["v1"][0],
        json!({ "success": true, "hasId": true, "errors": [] })
    );
    assert_eq!(out["v1"][1]["success"], true);
    assert_eq!(out["v1"][2]["success"], false);
    assert!(
        out["v1"][2]["errors"][0]
            .as_str()
            .unwrap()
            .contains("REQUIRED_FIELD_MISSING"),
        "{out}"
    );
    assert_eq!(
        out["v2"]["successful"],
        json!([
            { "created": "true", "LastName": "Porky", "hasId": true },
            { "created": "true", "LastName": "Pig, Petunia", "hasId": true },
        ])
    );
    assert_eq!(out["v2"]["failed"][0]["Email"], "nobody@pig.example");
    assert_eq!(out["v2"]["unprocessed"], 0);
    assert_eq!(
        out["query"],
        json!([
            { "LastName": "Pig, Petunia", "Email": "petunia@pig.example" },
            { "LastName": "Porky", "Email": "porky@pig.example" },
        ])
    );
}
