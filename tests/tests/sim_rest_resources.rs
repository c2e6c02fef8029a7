//! The simulator's REST resources beyond query and CRUD, with Salesforce's
//! shapes, status codes and error arrays: Describe Global, sObject
//! Describe and basic info, Limits, the identity URL and userinfo, GET and
//! DELETE by external id, updated/deleted, queryAll with its own locator,
//! `Sforce-Query-Options: batchSize`, and SOSL search.

use serde_json::{Value, json};
use twoway_tests::{
    ACME_ORG, ANALYST_PASSWORD, ANALYST_USER, AcmeRest as Rest, Client, start_sim, start_sim_with,
};

/// Success bodies of the Acme integration user's REST calls.
trait OkBody {
    async fn ok(&self, method: &str, resource: &str, body: Option<&Value>) -> Value;
}

impl OkBody for Rest {
    async fn ok(&self, method: &str, resource: &str, body: Option<&Value>) -> Value {
        let response = self.call(method, resource, body).await;
        assert!(
            response.status < 300,
            "{method} {resource}: {} {}",
            response.status,
            response.body
        );
        response.json()
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_global_lists_standard_and_custom_objects() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let global = rest.ok("GET", "/sobjects", None).await;
    assert_eq!(global["encoding"], "UTF-8");
    assert_eq!(global["maxBatchSize"], 200);
    let objects = global["sobjects"].as_array().unwrap();
    let account = objects
        .iter()
        .find(|o| o["name"] == "Account")
        .expect("Account");
    assert_eq!(account["keyPrefix"], "001");
    assert_eq!(account["label"], "Account");
    assert_eq!(account["labelPlural"], "Accounts");
    assert_eq!(account["custom"], false);
    assert_eq!(account["queryable"], true);
    assert_eq!(
        account["urls"]["describe"],
        "/services/data/v62.0/sobjects/Account/describe"
    );
    assert_eq!(
        account["urls"]["rowTemplate"],
        "/services/data/v62.0/sobjects/Account/{ID}"
    );
    let invoice = objects
        .iter()
        .find(|o| o["name"] == "Invoice__c")
        .expect("Invoice__c");
    assert_eq!(invoice["custom"], true);
    assert_eq!(invoice["keyPrefix"], "a01");
    assert_eq!(invoice["label"], "Invoice");
    for name in ["Contact", "Lead", "Opportunity", "Case", "User"] {
        assert!(objects.iter().any(|o| o["name"] == name), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sobject_describe_has_typed_fields_and_relationships() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let contact = rest.ok("GET", "/sobjects/Contact/describe", None).await;
    assert_eq!(contact["name"], "Contact");
    assert_eq!(contact["keyPrefix"], "003");
    let field = |name: &str| -> Value {
        contact["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    let id = field("Id");
    assert_eq!(
        (id["type"].as_str(), id["soapType"].as_str()),
        (Some("id"), Some("tns:ID"))
    );
    assert_eq!(
        (id["createable"].as_bool(), id["nillable"].as_bool()),
        (Some(false), Some(false))
    );
    let last = field("LastName");
    assert_eq!(last["type"], "string");
    assert_eq!(last["length"], 80);
    assert_eq!(last["nillable"], false);
    assert_eq!(last["createable"], true);
    assert_eq!(last["updateable"], true);
    assert_eq!(last["defaultedOnCreate"], false);
    let email = field("Email");
    assert_eq!(email["type"], "email");
    assert_eq!(
        email["externalId"], true,
        "sim.toml makes Email an external id"
    );
    let account = field("AccountId");
    assert_eq!(account["type"], "reference");
    assert_eq!(account["referenceTo"], json!(["Account"]));
    assert_eq!(account["relationshipName"], "Account");
    let name = field("Name");
    assert_eq!(
        (name["createable"].as_bool(), name["nameField"].as_bool()),
        (Some(false), Some(true))
    );
    let source = field("LeadSource");
    assert_eq!(source["type"], "picklist");
    assert_eq!(
        source["picklistValues"][0],
        json!({ "active": true, "defaultValue": false, "label": "Web", "validFor": null, "value": "Web" })
    );
    assert_eq!(field("Birthdate")["type"], "date");
    assert_eq!(field("CreatedDate")["type"], "datetime");
    assert_eq!(field("IsDeleted")["type"], "boolean");
    // The parent lists the child relationship.
    let account = rest.ok("GET", "/sobjects/Account/describe", None).await;
    let contacts = account["childRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["relationshipName"] == "Contacts")
        .cloned()
        .expect("Contacts");
    assert_eq!(contacts["childSObject"], "Contact");
    assert_eq!(contacts["field"], "AccountId");
    // A custom object's declared fields, typed.
    let invoice = rest.ok("GET", "/sobjects/Invoice__c/describe", None).await;
    let amount = invoice["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Amount__c")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            amount["type"].as_str(),
            amount["custom"].as_bool(),
            amount["nillable"].as_bool()
        ),
        (Some("currency"), Some(true), Some(false))
    );
    assert_eq!(
        (amount["precision"].as_u64(), amount["scale"].as_u64()),
        (Some(18), Some(2))
    );
    // An unknown object is not found.
    let unknown = rest.call("GET", "/sobjects/Widget__c/describe", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()[0]["errorCode"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_info_and_limits() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let info = rest.ok("GET", "/sobjects/Account", None).await;
    assert_eq!(info["objectDescribe"]["name"], "Account");
    let recent = info["recentItems"].as_array().unwrap();
    assert_eq!(recent.len(), 3, "{info}");
    assert_eq!(recent[0]["attributes"]["type"], "Account");
    assert!(
        recent
            .iter()
            .all(|r| r["Id"].is_string() && r["Name"].is_string())
    );
    let limits = rest.ok("GET", "/limits", None).await;
    let used = sim.state().api_usage(ACME_ORG).0;
    assert_eq!(
        limits["DailyApiRequests"],
        json!({ "Max": 15000, "Remaining": 15000 - used })
    );
    assert_eq!(limits["DailyBulkApiBatches"]["Max"], 15000);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_identity_url_and_userinfo_name_the_user() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    // The password flow's `id` is the identity URL.
    let token = Client::anonymous()
        .form(
            &format!("{login}/services/oauth2/token"),
            &[
                ("grant_type", "password"),
                ("client_id", "acme-connected-app"),
                ("client_secret", "acme-client-secret"),
                ("username", ANALYST_USER),
                ("password", ANALYST_PASSWORD),
            ],
        )
        .await
        .json();
    let id_url = token["id"].as_str().unwrap().to_string();
    let access = token["access_token"].as_str().unwrap().to_string();
    let identity = Client::anonymous()
        .rest("GET", &id_url, &access, None)
        .await;
    assert_eq!(identity.status, 200, "{}", identity.body);
    let identity = identity.json();
    assert_eq!(identity["id"], id_url);
    assert_eq!(identity["username"], ANALYST_USER);
    assert_eq!(identity["display_name"], "Acme Analyst");
    assert_eq!(
        (
            identity["first_name"].as_str(),
            identity["last_name"].as_str()
        ),
        (Some("Acme"), Some("Analyst"))
    );
    assert_eq!(identity["email"], "analyst@acme.example");
    assert_eq!(identity["active"], true);
    let instance = sim.endpoints().standard_url();
    let org18 = identity["organization_id"].as_str().unwrap().to_string();
    assert_eq!(org18.len(), 18);
    assert_eq!(
        identity["urls"]["rest"],
        format!("{instance}/services/data/v{{version}}/")
    );
    assert_eq!(
        identity["urls"]["partner"],
        format!("{instance}/services/Soap/u/{{version}}/{org18}")
    );
    // The token may also come as ?oauth_token= (jsforce sends both).
    let by_param = Client::anonymous()
        .send(
            "GET",
            &format!("{id_url}?format=json&oauth_token={access}"),
            &[],
            "",
        )
        .await;
    assert_eq!(by_param.status, 200, "{}", by_param.body);
    // userinfo: OpenID Connect claims of the session's user.
    let info = Client::anonymous()
        .rest(
            "GET",
            &format!("{instance}/services/oauth2/userinfo"),
            &access,
            None,
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    let info = info.json();
    assert_eq!(info["sub"], id_url);
    assert_eq!(info["preferred_username"], ANALYST_USER);
    assert_eq!(info["organization_id"], org18);
    assert_eq!(info["user_id"], identity["user_id"]);
    // A bad token, and an id of another org, are refused in plain text.
    let bad = Client::anonymous()
        .rest("GET", &id_url, "00Dbogus!token", None)
        .await;
    assert_eq!((bad.status, bad.body.as_str()), (403, "Bad_OAuth_Token"));
    let other = Client::anonymous()
        .rest(
            "GET",
            &format!(
                "{login}/id/00D5g000004GlbxAAA/{}",
                identity["user_id"].as_str().unwrap()
            ),
            &access,
            None,
        )
        .await;
    assert_eq!((other.status, other.body.as_str()), (403, "Bad_Id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn records_by_external_id() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let account = rest
        .ok("GET", "/sobjects/Account/External_Id__c/acme-2", None)
        .await;
    assert_eq!(account["Name"], "Road Runner Logistics");
    assert_eq!(account["attributes"]["type"], "Account");
    // Case-insensitive, as Salesforce matches external ids.
    let same = rest
        .ok("GET", "/sobjects/Account/external_id__c/ACME-2", None)
        .await;
    assert_eq!(same["Id"], account["Id"]);
    // `?fields=` limits a read by id.
    let id = account["Id"].as_str().unwrap();
    let some = rest
        .ok(
            "GET",
            &format!("/sobjects/Account/{id}?fields=Name,Industry"),
            None,
        )
        .await;
    assert_eq!(
        some,
        json!({ "attributes": { "type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{id}") }, "Name": "Road Runner Logistics", "Industry": "Transportation" })
    );
    let missing = rest
        .call("GET", "/sobjects/Account/External_Id__c/none", None)
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        r#"[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]"#
    );
    let not_external = rest
        .call("GET", "/sobjects/Account/Industry/Energy", None)
        .await;
    assert_eq!(not_external.status, 404);
    assert_eq!(
        not_external.body,
        r#"[{"message":"Provided external ID field does not exist or is not accessible: Industry","errorCode":"NOT_FOUND"}]"#
    );
    let deleted = rest
        .call("DELETE", "/sobjects/Account/External_Id__c/acme-2", None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = rest
        .call("GET", "/sobjects/Account/External_Id__c/acme-2", None)
        .await;
    assert_eq!(gone.status, 404);
    // Two records with one value: 300 and MULTIPLE_CHOICES.
    for name in ["Twin A", "Twin B"] {
        rest.ok(
            "POST",
            "/sobjects/Account",
            Some(&json!({ "Name": name, "AccountNumber": "TWIN" })),
        )
        .await;
    }
    let twins = rest
        .call("GET", "/sobjects/Account/AccountNumber/TWIN", None)
        .await;
    assert_eq!(twins.status, 300, "{}", twins.body);
    assert_eq!(twins.json()[0]["errorCode"], "MULTIPLE_CHOICES");
}

#[tokio::test(flavor = "multi_thread")]
async fn updated_and_deleted_list_what_changed() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let created = rest
        .ok(
            "POST",
            "/sobjects/Lead",
            Some(&json!({ "LastName": "Fudd", "Company": "Hunting Co" })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let range = "?start=2000-01-01T00:00:00Z&end=2999-01-01T00:00:00%2B00:00";
    let updated = rest
        .ok("GET", &format!("/sobjects/Lead/updated/{range}"), None)
        .await;
    assert!(
        updated["ids"].as_array().unwrap().contains(&json!(id)),
        "{updated}"
    );
    assert_eq!(updated["latestDateCovered"], "2999-01-01T00:00:00.000+0000");
    rest.call("DELETE", &format!("/sobjects/Lead/{id}"), None)
        .await;
    let deleted = rest
        .ok("GET", &format!("/sobjects/Lead/deleted/{range}"), None)
        .await;
    let records = deleted["deletedRecords"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{deleted}");
    assert_eq!(records[0]["id"], id);
    assert!(
        records[0]["deletedDate"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    let updated = rest
        .ok("GET", &format!("/sobjects/Lead/updated/{range}"), None)
        .await;
    assert!(!updated["ids"].as_array().unwrap().contains(&json!(id)));
    let missing = rest.call("GET", "/sobjects/Lead/updated/", None).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()[0]["errorCode"], "MISSING_ARGUMENT");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_all_sees_deleted_records_and_pages_on_its_own_url() {
    let sim = start_sim_with(|c| c.limits.query_batch_size = 2).await;
    let rest = Rest::new(&sim).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = rest
            .ok(
                "POST",
                "/sobjects/Contact",
                Some(&json!({ "LastName": format!("Gone{n}") })),
            )
            .await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        rest.call("DELETE", &format!("/sobjects/Contact/{id}"), None)
            .await;
    }
    let q = encode("SELECT Id, IsDeleted FROM Contact WHERE LastName LIKE 'Gone%'");
    let live = rest.ok("GET", &format!("/query?q={q}"), None).await;
    assert_eq!(live["totalSize"], 0);
    let all = rest.ok("GET", &format!("/queryAll?q={q}"), None).await;
    assert_eq!(all["totalSize"], 3);
    assert_eq!(all["done"], false);
    assert_eq!(all["records"][0]["IsDeleted"], true);
    let next = all["nextRecordsUrl"].as_str().unwrap();
    assert!(
        next.starts_with("/services/data/v62.0/queryAll/01g"),
        "{next}"
    );
    let rest_of_it = rest
        .ok("GET", next.trim_start_matches("/services/data/v62.0"), None)
        .await;
    assert_eq!(rest_of_it["done"], true);
    assert_eq!(rest_of_it["records"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_size_sets_the_page_size() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let records: Vec<Value> = (0..250).map(|n| json!({ "attributes": { "type": "Lead" }, "LastName": format!("Bulk{n}"), "Company": "Batch Co" })).collect();
    for chunk in records.chunks(200) {
        let saved = rest
            .ok(
                "POST",
                "/composite/sobjects",
                Some(&json!({ "records": chunk })),
            )
            .await;
        assert!(
            saved
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["success"] == true),
            "{saved}"
        );
    }
    let q = encode("SELECT Id FROM Lead WHERE Company = 'Batch Co'");
    let url = format!("{}/services/data/v62.0/query?q={q}", rest.host);
    let auth = format!("Bearer {}", rest.token);
    let page = |size: &'static str| {
        let (client, url, auth) = (rest.client.clone(), url.clone(), auth.clone());
        async move {
            client
                .send(
                    "GET",
                    &url,
                    &[
                        ("authorization", auth.as_str()),
                        ("sforce-query-options", size),
                    ],
                    "",
                )
                .await
                .json()
        }
    };
    let first = page("batchSize=200").await;
    assert_eq!(first["totalSize"], 250);
    assert_eq!(first["records"].as_array().unwrap().len(), 200);
    // Below Salesforce's minimum of 200, the minimum applies.
    let small = page("batchSize=10").await;
    assert_eq!(small["records"].as_array().unwrap().len(), 200);
    // Without the header, the configured batch (2000) holds everything.
    let whole = page("").await;
    assert_eq!(whole["done"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn sosl_search_finds_words_in_text_fields() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let q = encode(
        "FIND {coyote} IN ALL FIELDS RETURNING Account(Name, Industry WHERE Industry = 'Engineering'), Contact(Email), Lead",
    );
    let found = rest.ok("GET", &format!("/search?q={q}"), None).await;
    let records = found["searchRecords"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{found}");
    assert_eq!(records[0]["attributes"]["type"], "Account");
    assert_eq!(records[0]["Name"], "Coyote Engineering");
    assert_eq!(records[0]["Industry"], "Engineering");
    assert_eq!(records[1]["attributes"]["type"], "Contact");
    assert_eq!(records[1]["Email"], "wile@coyote.example");
    // A trailing * matches any ending; NAME FIELDS looks only at names.
    let q = encode("FIND {Road*} IN NAME FIELDS RETURNING Account(Name)");
    let found = rest.ok("GET", &format!("/search?q={q}"), None).await;
    assert_eq!(found["searchRecords"][0]["Name"], "Road Runner Logistics");
    let q = encode("FIND {phoenix} IN NAME FIELDS RETURNING Account(Name)");
    let found = rest.ok("GET", &format!("/search?q={q}"), None).await;
    assert_eq!(found["searchRecords"], json!([]));
    // Parameterized search.
    let found = rest
        .ok(
            "GET",
            "/parameterizedSearch?q=Martian&sobject=Lead&Lead.fields=Id,Company",
            None,
        )
        .await;
    assert_eq!(found["searchRecords"][0]["Company"], "Mars Inc");
    for (bad, message) in [
        ("FIND coyote", "expecting '{'"),
        ("FIND {a}", "longer than one character"),
        ("FIND {coyote} RETURNING Account(Name", "expecting ')'"),
    ] {
        let response = rest
            .call("GET", &format!("/search?q={}", encode(bad)), None)
            .await;
        assert_eq!(response.status, 400, "{bad}");
        let error = response.json();
        assert_eq!(error[0]["errorCode"], "MALFORMED_SEARCH", "{bad}");
        assert!(
            error[0]["message"].as_str().unwrap().contains(message),
            "{bad}: {error}"
        );
    }
}
