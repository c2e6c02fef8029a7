//! The simulator's composite family beyond `/composite` (in sim_rest.rs):
//! `/composite/batch` with haltOnError, `/composite/tree` with nested
//! children (all or none), and the `/composite/sobjects` collections
//! (create, update, upsert, delete, retrieve; allOrNone), with Salesforce's
//! result shapes.

use serde_json::{Value, json};
use twoway_tests::{AcmeRest as Rest, start_sim};

/// Account names, as the tests check what was saved.
trait Names {
    async fn names(&self, prefix: &str) -> Vec<String>;
}

impl Names for Rest {
    /// The names of the Accounts whose Name starts with `prefix`, sorted.
    async fn names(&self, prefix: &str) -> Vec<String> {
        let q: String = form_urlencoded::byte_serialize(
            format!("SELECT Name FROM Account WHERE Name LIKE '{prefix}%' ORDER BY Name")
                .as_bytes(),
        )
        .collect();
        let body = self
            .call("GET", &format!("/query?q={q}"), None)
            .await
            .json();
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_runs_independent_subrequests() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let request = json!({
        "batchRequests": [
            { "method": "POST", "url": "v62.0/sobjects/Account", "richInput": { "Name": "Batch One" } },
            { "method": "GET", "url": "v62.0/sobjects/Account/001000000000000AAA" },
            { "method": "GET", "url": "v62.0/query?q=SELECT+Name+FROM+Account+WHERE+Name+%3D+'Batch+One'" },
        ]
    });
    let response = rest.call("POST", "/composite/batch", Some(&request)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["hasErrors"], true);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["statusCode"], 201);
    assert_eq!(results[0]["result"]["success"], true);
    assert_eq!(results[1]["statusCode"], 404);
    assert_eq!(results[1]["result"][0]["errorCode"], "NOT_FOUND");
    assert_eq!(results[2]["statusCode"], 200);
    assert_eq!(results[2]["result"]["records"][0]["Name"], "Batch One");
    // haltOnError: what follows a failure is not run.
    let request = json!({
        "haltOnError": true,
        "batchRequests": [
            { "method": "POST", "url": "v62.0/sobjects/Account", "richInput": {} },
            { "method": "POST", "url": "v62.0/sobjects/Account", "richInput": { "Name": "Batch Never" } },
        ]
    });
    let body = rest
        .call("POST", "/composite/batch", Some(&request))
        .await
        .json();
    assert_eq!(
        body["results"][0]["result"][0]["errorCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(body["results"][1]["statusCode"], 412);
    assert_eq!(
        body["results"][1]["result"][0]["errorCode"],
        "BATCH_PROCESSING_HALTED"
    );
    assert!(rest.names("Batch Never").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tree_creates_parents_with_children_or_nothing() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let request = json!({
        "records": [{
            "attributes": { "type": "Account", "referenceId": "ref1" },
            "Name": "Tree Co",
            "Contacts": { "records": [
                { "attributes": { "type": "Contact", "referenceId": "ref2" }, "LastName": "Leaf" },
                { "attributes": { "type": "Contact", "referenceId": "ref3" }, "LastName": "Branch" },
            ]},
        }]
    });
    let response = rest
        .call("POST", "/composite/tree/Account", Some(&request))
        .await;
    assert_eq!(response.status, 201, "{}", response.body);
    let body = response.json();
    assert_eq!(body["hasErrors"], false);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["referenceId"], "ref1");
    let account_id = results[0]["id"].as_str().unwrap();
    assert!(account_id.starts_with("001"));
    // The children point at their parent.
    let q: String = form_urlencoded::byte_serialize(
        format!("SELECT LastName FROM Contact WHERE AccountId = '{account_id}' ORDER BY LastName")
            .as_bytes(),
    )
    .collect();
    let children = rest
        .call("GET", &format!("/query?q={q}"), None)
        .await
        .json();
    assert_eq!(children["records"][0]["LastName"], "Branch");
    assert_eq!(children["records"][1]["LastName"], "Leaf");
    // One bad child: 400, its error, and nothing created.
    let request = json!({
        "records": [{
            "attributes": { "type": "Account", "referenceId": "ok" },
            "Name": "Tree Broken",
            "Contacts": { "records": [{ "attributes": { "type": "Contact", "referenceId": "bad" }, "FirstName": "No last name" }] },
        }]
    });
    let response = rest
        .call("POST", "/composite/tree/Account", Some(&request))
        .await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(
        response.json(),
        json!({ "hasErrors": true, "results": [{ "referenceId": "bad", "errors": [{ "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]", "fields": ["LastName"] }] }] })
    );
    assert!(rest.names("Tree Broken").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_create_update_upsert_retrieve_and_delete() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let created = rest
        .call(
            "POST",
            "/composite/sobjects",
            Some(&json!({ "allOrNone": false, "records": [
                { "attributes": { "type": "Account" }, "Name": "Coll A" },
                { "attributes": { "type": "Account" } },
                { "attributes": { "type": "Contact" }, "LastName": "Coll C" },
            ]})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let created = created.json();
    assert_eq!(created[0]["success"], true);
    assert_eq!(created[0]["errors"], json!([]));
    assert_eq!(
        created[1],
        json!({ "id": null, "success": false, "errors": [{ "statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Name]", "fields": ["Name"] }] })
    );
    assert!(created[2]["id"].as_str().unwrap().starts_with("003"));
    let a = created[0]["id"].as_str().unwrap().to_string();
    // allOrNone: one failure rolls every record back.
    let rolled = rest
        .call(
            "POST",
            "/composite/sobjects",
            Some(&json!({ "allOrNone": true, "records": [
                { "attributes": { "type": "Account" }, "Name": "Coll Rolled" },
                { "attributes": { "type": "Account" } },
            ]})),
        )
        .await
        .json();
    assert_eq!(
        rolled[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        rolled[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert!(rest.names("Coll Rolled").await.is_empty());
    // Update by Id.
    let updated = rest
        .call(
            "PATCH",
            "/composite/sobjects",
            Some(&json!({ "records": [
                { "attributes": { "type": "Account" }, "Id": a, "Industry": "Energy" },
            ]})),
        )
        .await
        .json();
    assert_eq!(updated, json!([{ "id": a, "errors": [], "success": true }]));
    // Upsert on an external id.
    let upserted = rest
        .call("PATCH", "/composite/sobjects/Account/External_Id__c", Some(&json!({ "records": [
            { "attributes": { "type": "Account" }, "External_Id__c": "acme-1", "Phone": "555-0100" },
            { "attributes": { "type": "Account" }, "External_Id__c": "coll-new", "Name": "Coll New" },
        ]})))
        .await
        .json();
    assert_eq!(upserted[0]["created"], false);
    assert_eq!(upserted[1]["created"], true);
    // Retrieve in order, null for a missing id.
    let retrieved = rest
        .call(
            "GET",
            &format!("/composite/sobjects/Account?ids={a},001000000000000AAA&fields=Name,Industry"),
            None,
        )
        .await
        .json();
    assert_eq!(retrieved[0]["Name"], "Coll A");
    assert_eq!(retrieved[0]["Industry"], "Energy");
    assert_eq!(retrieved[1], Value::Null);
    // Delete: per id; an unknown id fails alone.
    let deleted = rest
        .call(
            "DELETE",
            &format!("/composite/sobjects?ids={a},001000000000000AAA&allOrNone=false"),
            None,
        )
        .await
        .json();
    assert_eq!(
        deleted[0],
        json!({ "id": a, "errors": [], "success": true })
    );
    assert_eq!(deleted[1]["success"], false);
    assert_eq!(deleted[1]["errors"][0]["statusCode"], "NOT_FOUND");
    // More than 200 records is refused whole.
    let many: Vec<Value> = (0..201)
        .map(|n| json!({ "attributes": { "type": "Account" }, "Name": format!("N{n}") }))
        .collect();
    let refused = rest
        .call(
            "POST",
            "/composite/sobjects",
            Some(&json!({ "records": many })),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()[0]["errorCode"], "EXCEEDED_ID_LIMIT");
}
