//! The simulator's REST API: the version list, query with nextRecordsUrl
//! paging, sObject create/read/update/delete and external-id upsert,
//! composite with references and allOrNone, auth schemes, error arrays,
//! Sforce-Limit-Info and REQUEST_LIMIT_EXCEEDED (REST and SOAP).

use serde_json::{Value, json};
use twoway_sim::Sim;
use twoway_tests::{
    ACME_ACCOUNTS, ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client,
    Response, get_user_info_envelope, partner_fault, pki, soap_login, start_sim, start_sim_with,
};

const NOT_FOUND: &str =
    r#"[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]"#;
const DELETED: &str = r#"[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED"}]"#;
const INVALID_SESSION: &str =
    r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;

/// A logged-in Acme integration user talking REST on the mutual-auth port.
struct Rest {
    client: Client,
    base: String,
    token: String,
}

impl Rest {
    async fn new(sim: &Sim) -> Self {
        Self {
            client: Client::with_identity(&pki().fullcert),
            base: format!("{}/services/data/v62.0", sim.endpoints().mutual_url()),
            token: soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await,
        }
    }

    async fn call(&self, method: &str, resource: &str, body: Option<&Value>) -> Response {
        let url = format!("{}{resource}", self.base);
        self.client.rest(method, &url, &self.token, body).await
    }

    /// Follows a `nextRecordsUrl` (a path on the same host).
    async fn follow(&self, path: &str) -> Response {
        let host = self.base.split("/services/").next().unwrap();
        self.client
            .rest("GET", &format!("{host}{path}"), &self.token, None)
            .await
    }
}

fn assert_json(response: &Response, status: u16, body: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(response.body, body);
}

fn usage(response: &Response) -> Option<&str> {
    response.header("sforce-limit-info")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_version_list_needs_no_session_and_counts_nothing() {
    let sim = start_sim().await;
    let standard = sim.endpoints().standard_url();
    for path in ["/services/data/", "/services/data"] {
        let response = Client::anonymous()
            .send("GET", &format!("{standard}{path}"), &[], "")
            .await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(usage(&response), None);
        let versions = response.json();
        let list = versions.as_array().expect("an array");
        // Every version Salesforce serves, oldest first: 31.0 up to the newest,
        // including simple-salesforce's default (59.0) and jsforce's (50.0).
        assert_eq!(
            list[0],
            json!({ "label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0" })
        );
        for (version, label) in [
            ("50.0", "Winter '21"),
            ("59.0", "Winter '24"),
            ("62.0", "Winter '25"),
        ] {
            assert!(
                list.contains(&json!({ "label": label, "url": format!("/services/data/v{version}"), "version": version })),
                "{version} in {list:?}"
            );
        }
        let numbers: Vec<f64> = list
            .iter()
            .map(|v| v["version"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(
            numbers.windows(2).all(|w| w[1] == w[0] + 1.0),
            "{numbers:?}"
        );
        assert!(
            list.iter()
                .all(|v| v["url"] == format!("/services/data/v{}", v["version"].as_str().unwrap()))
        );
    }
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
    // An unknown version is not found.
    let rest = Rest::new(&sim).await;
    let unknown = rest
        .client
        .rest(
            "GET",
            &format!(
                "{}/services/data/v30.0/sobjects",
                sim.endpoints().mutual_url()
            ),
            &rest.token,
            None,
        )
        .await;
    assert_json(&unknown, 404, NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_pages_with_next_records_url_until_done() {
    let sim = start_sim_with(|c| c.limits.query_batch_size = 1).await;
    let rest = Rest::new(&sim).await;
    let first = rest
        .call("GET", "/query?q=SELECT+Id,+Name+FROM+Account", None)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let mut page = first.json();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        assert_eq!(page["totalSize"], 3);
        let records = page["records"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        let record = &records[0];
        let id = record["Id"].as_str().unwrap();
        assert_eq!(
            record,
            &json!({
                "attributes": { "type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{id}") },
                "Id": id,
                "Name": record["Name"],
            })
        );
        // Keys in Salesforce's order: attributes first, then the selected fields.
        let keys: Vec<_> = record.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["attributes", "Id", "Name"]);
        names.push(record["Name"].as_str().unwrap().to_string());
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none(), "{page}");
            break;
        }
        assert_eq!(page["done"], false);
        let next = page["nextRecordsUrl"].as_str().unwrap().to_string();
        assert!(next.starts_with("/services/data/v62.0/query/01g"), "{next}");
        let response = rest.follow(&next).await;
        assert_eq!(response.status, 200, "{}", response.body);
        page = response.json();
    }
    assert_eq!(pages, 3);
    names.sort();
    let mut expected = ACME_ACCOUNTS;
    expected.sort();
    assert_eq!(names, expected);
    // A locator that does not exist.
    let bad = rest.call("GET", "/query/01gAAAAAAAAAAAAAAA-1", None).await;
    assert_json(
        &bad,
        400,
        r#"[{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}]"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_with_where_and_limit_and_its_errors() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let response = rest
        .call("GET", "/query?q=SELECT+Name,+Phone+FROM+Account+WHERE+BillingCity+%3D+'Tucson'+AND+Industry+%3D+'Engineering'", None)
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body = response.json();
    assert_eq!(body["totalSize"], 1);
    assert_eq!(body["done"], true);
    assert_eq!(body["records"][0]["Name"], "Coyote Engineering");
    assert_eq!(body["records"][0]["Phone"], Value::Null);
    let limited = rest
        .call("GET", "/query?q=SELECT+Id+FROM+Account+LIMIT+2", None)
        .await;
    assert_eq!(limited.json()["totalSize"], 2);

    let malformed = rest.call("GET", "/query?q=SELECT+FROM+Account", None).await;
    assert_json(
        &malformed,
        400,
        r#"[{"message":"\nSELECT FROM Account\n       ^\nERROR at Row:1:Column:8\nunexpected token: 'FROM'","errorCode":"MALFORMED_QUERY"}]"#,
    );
    let no_q = rest.call("GET", "/query", None).await;
    assert_json(
        &no_q,
        400,
        r#"[{"message":"A query string has to be specified","errorCode":"MALFORMED_QUERY"}]"#,
    );
    let bad_type = rest
        .call("GET", "/query?q=SELECT+Id+FROM+Bogus", None)
        .await;
    assert_eq!(bad_type.status, 400);
    assert_eq!(bad_type.json()[0]["errorCode"], "INVALID_TYPE");
    let bad_field = rest
        .call("GET", "/query?q=SELECT+Bogus+FROM+Account", None)
        .await;
    assert_eq!(bad_field.status, 400);
    assert_eq!(bad_field.json()[0]["errorCode"], "INVALID_FIELD");
}

#[tokio::test(flavor = "multi_thread")]
async fn sobject_create_read_update_delete() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let created = rest
        .call(
            "POST",
            "/sobjects/Account",
            Some(&json!({ "Name": "Looney Widgets", "Industry": "Retail", "attributes": { "type": "Account" } })),
        )
        .await;
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("001") && id.len() == 18, "{id}");
    assert_json(
        &created,
        201,
        &format!(r#"{{"id":"{id}","errors":[],"success":true}}"#),
    );

    let read = rest
        .call("GET", &format!("/sobjects/Account/{id}"), None)
        .await;
    // Every field of the object, null when unset, after `attributes`.
    assert_eq!(read.status, 200, "{}", read.body);
    let record = read.json();
    assert_eq!(
        record["attributes"],
        json!({ "type": "Account", "url": format!("/services/data/v62.0/sobjects/Account/{id}") })
    );
    assert_eq!(
        record
            .as_object()
            .unwrap()
            .keys()
            .next()
            .map(String::as_str),
        Some("attributes")
    );
    assert_eq!(record["Id"], id);
    assert_eq!(record["Industry"], "Retail");
    assert_eq!(record["Name"], "Looney Widgets");
    assert_eq!(record["Phone"], Value::Null);
    assert_eq!(record["IsDeleted"], false);
    assert!(
        record["OwnerId"]
            .as_str()
            .is_some_and(|o| o.starts_with("005")),
        "{record}"
    );
    assert!(
        record["CreatedDate"]
            .as_str()
            .is_some_and(|d| d.ends_with("+0000")),
        "{record}"
    );
    // The 15-character form of the id names the same record.
    let short = rest
        .call("GET", &format!("/sobjects/Account/{}", &id[..15]), None)
        .await;
    assert_eq!(short.status, 200, "{}", short.body);

    let patched = rest
        .call(
            "PATCH",
            &format!("/sobjects/Account/{id}"),
            Some(&json!({ "Phone": "555-0199", "Industry": null })),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    assert_eq!(patched.body, "");
    assert!(usage(&patched).is_some());
    let read = rest
        .call("GET", &format!("/sobjects/Account/{id}"), None)
        .await;
    assert_eq!(read.json()["Phone"], "555-0199");

    let deleted = rest
        .call("DELETE", &format!("/sobjects/Account/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(deleted.body, "");
    let gone = rest
        .call("GET", &format!("/sobjects/Account/{id}"), None)
        .await;
    // A deleted record is kept (queryAll sees it) and answers ENTITY_IS_DELETED.
    assert_json(&gone, 404, DELETED);
    let again = rest
        .call("DELETE", &format!("/sobjects/Account/{id}"), None)
        .await;
    assert_json(&again, 404, DELETED);
    // A record of another type under this id is not found either.
    let wrong_type = rest
        .call("GET", &format!("/sobjects/Contact/{id}"), None)
        .await;
    assert_json(&wrong_type, 404, NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn sobject_errors_are_arrays_with_the_right_status() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let missing = rest
        .call(
            "POST",
            "/sobjects/Account",
            Some(&json!({ "Industry": "Retail" })),
        )
        .await;
    assert_json(
        &missing,
        400,
        r#"[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]"#,
    );
    let with_id = rest
        .call(
            "POST",
            "/sobjects/Account",
            Some(&json!({ "Id": "001000000000001", "Name": "x" })),
        )
        .await;
    assert_json(
        &with_id,
        400,
        r#"[{"message":"The Id field should not be specified in the sobject data.","errorCode":"INVALID_FIELD","fields":["Id"]}]"#,
    );
    let unknown_field = rest
        .call(
            "POST",
            "/sobjects/Account",
            Some(&json!({ "Name": "x", "Color": "red" })),
        )
        .await;
    assert_json(
        &unknown_field,
        400,
        r#"[{"message":"No such column 'Color' on sobject of type Account","errorCode":"INVALID_FIELD","fields":["Color"]}]"#,
    );
    // An unknown sObject type in the URL is a resource that does not exist.
    let unknown_type = rest
        .call("POST", "/sobjects/Bogus", Some(&json!({ "Name": "x" })))
        .await;
    assert_json(&unknown_type, 404, NOT_FOUND);
    let unknown_route = rest.call("GET", "/nothing/here", None).await;
    assert_json(&unknown_route, 404, NOT_FOUND);
    // Errors that reached the API carry the usage header too.
    assert_eq!(usage(&unknown_route), Some("api-usage=5/15000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_by_external_id_creates_then_updates() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let path = "/sobjects/Account/External_Id__c/acme-9";
    let created = rest
        .call("PATCH", path, Some(&json!({ "Name": "Nine" })))
        .await;
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert_json(
        &created,
        201,
        &format!(r#"{{"id":"{id}","errors":[],"success":true,"created":true}}"#),
    );
    let updated = rest
        .call("PATCH", path, Some(&json!({ "Name": "Nine again" })))
        .await;
    assert_json(
        &updated,
        200,
        &format!(r#"{{"id":"{id}","errors":[],"success":true,"created":false}}"#),
    );
    let read = rest
        .call("GET", &format!("/sobjects/Account/{id}"), None)
        .await;
    assert_eq!(read.json()["Name"], "Nine again");
    assert_eq!(read.json()["External_Id__c"], "acme-9");

    // A seed record, by its other external id field.
    let seed = rest
        .call(
            "PATCH",
            "/sobjects/Account/AccountNumber/ACME-0002",
            Some(&json!({ "Phone": "555-0102" })),
        )
        .await;
    assert_eq!(seed.status, 200, "{}", seed.body);
    assert_eq!(seed.json()["created"], false);

    let not_external = rest
        .call(
            "PATCH",
            "/sobjects/Account/Industry/Retail",
            Some(&json!({ "Name": "x" })),
        )
        .await;
    assert_json(
        &not_external,
        404,
        r#"[{"message":"Provided external ID field does not exist or is not accessible: Industry","errorCode":"NOT_FOUND"}]"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn composite_resolves_references_in_order() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let request = json!({
        "allOrNone": false,
        "compositeRequest": [
            { "method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "refAccount", "body": { "Name": "Composite Co" } },
            { "method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "refContact", "body": { "LastName": "Duck", "AccountId": "@{refAccount.id}" } },
            { "method": "GET", "url": "/services/data/v62.0/sobjects/Account/@{refAccount.id}", "referenceId": "refRead" },
            { "method": "GET", "url": "/services/data/v62.0/query?q=SELECT+LastName+FROM+Contact+WHERE+LastName+%3D+'Duck'", "referenceId": "refQuery" }
        ]
    });
    let response = rest.call("POST", "/composite", Some(&request)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(usage(&response), Some("api-usage=1/15000"));
    let results = response.json()["compositeResponse"].clone();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 4);
    let account_id = results[0]["body"]["id"].as_str().unwrap();
    assert_eq!(
        results[0],
        json!({
            "body": { "id": account_id, "errors": [], "success": true },
            "httpHeaders": { "Location": format!("/services/data/v62.0/sobjects/Account/{account_id}") },
            "httpStatusCode": 201,
            "referenceId": "refAccount",
        })
    );
    assert_eq!(results[1]["httpStatusCode"], 201);
    assert_eq!(results[1]["referenceId"], "refContact");
    assert_eq!(results[2]["httpStatusCode"], 200);
    assert_eq!(results[2]["body"]["Id"], account_id);
    assert_eq!(results[2]["body"]["Name"], "Composite Co");
    assert_eq!(results[3]["body"]["totalSize"], 1);

    let contact_id = results[1]["body"]["id"].as_str().unwrap();
    let contact = rest
        .call("GET", &format!("/sobjects/Contact/{contact_id}"), None)
        .await;
    assert_eq!(contact.json()["AccountId"], account_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn composite_all_or_none_rolls_back_on_the_first_failure() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let subrequests = json!([
        { "method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "first", "body": { "Name": "Rolled Back Co" } },
        { "method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "second", "body": { "FirstName": "No last name" } },
        { "method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "third", "body": { "Name": "Never Co" } }
    ]);
    let halted = |reference: &str| {
        json!({
            "body": [{ "errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed." }],
            "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference,
        })
    };
    let response = rest
        .call(
            "POST",
            "/composite",
            Some(&json!({ "allOrNone": true, "compositeRequest": subrequests })),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.json(),
        json!({ "compositeResponse": [
            halted("first"),
            { "body": [{ "message": "Required fields are missing: [LastName]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"] }], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "second" },
            halted("third"),
        ]})
    );
    let query = rest
        .call("GET", "/query?q=SELECT+Id+FROM+Account", None)
        .await;
    assert_eq!(
        query.json()["totalSize"],
        3,
        "the first create was rolled back"
    );

    // Without allOrNone every subrequest runs and the successes stay.
    let response = rest
        .call(
            "POST",
            "/composite",
            Some(&json!({ "allOrNone": false, "compositeRequest": subrequests })),
        )
        .await;
    let statuses: Vec<_> = response.json()["compositeResponse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["httpStatusCode"].clone())
        .collect();
    assert_eq!(statuses, [201, 400, 201]);
    let query = rest
        .call("GET", "/query?q=SELECT+Id+FROM+Account", None)
        .await;
    assert_eq!(query.json()["totalSize"], 5);

    let bad = rest
        .call("POST", "/composite", Some(&json!({ "allOrNone": true })))
        .await;
    assert_json(
        &bad,
        400,
        r#"[{"message":"compositeRequest is required","errorCode":"INVALID_INPUT"}]"#,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_and_oauth_schemes_and_invalid_sessions() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let url = format!("{}/sobjects/Account/001x", rest.base);
    let send = |auth: Option<String>| {
        let client = rest.client.clone();
        let url = url.clone();
        async move {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            client.send("GET", &url, &headers, "").await
        }
    };
    // Both schemes reach the API (the record does not exist: 404, not 401).
    for scheme in ["Bearer", "OAuth", "bearer"] {
        let response = send(Some(format!("{scheme} {}", rest.token))).await;
        assert_json(&response, 404, NOT_FOUND);
    }
    for auth in [
        None,
        Some(format!("Basic {}", rest.token)),
        Some("Bearer nonsense".to_string()),
        Some(format!("Bearer {ACME_ORG}!AQforged")),
    ] {
        let response = send(auth.clone()).await;
        assert_json(&response, 401, INVALID_SESSION);
        assert_eq!(usage(&response), None, "{auth:?}");
    }
    // An expired session, too.
    twoway_tests::admin_post(&sim, "/sessions/expire").await;
    assert_json(
        &send(Some(format!("Bearer {}", rest.token))).await,
        401,
        INVALID_SESSION,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_response_reports_usage() {
    let sim = start_sim().await;
    let rest = Rest::new(&sim).await;
    let calls: [(&str, &str, Option<Value>); 4] = [
        ("GET", "/", None),
        ("GET", "/query?q=SELECT+Id+FROM+Lead", None),
        (
            "POST",
            "/sobjects/Lead",
            Some(json!({ "LastName": "Sam", "Company": "Yosemite" })),
        ),
        ("GET", "/sobjects/Lead/00Qnothing", None),
    ];
    for (n, (method, resource, body)) in calls.iter().enumerate() {
        let response = rest.call(method, resource, body.as_ref()).await;
        assert!(response.status < 500, "{}", response.body);
        assert_eq!(
            usage(&response),
            Some(format!("api-usage={}/15000", n + 1).as_str())
        );
    }
    // The resource list of a version.
    let root = rest.call("GET", "/", None).await;
    let root = root.json();
    for name in [
        "sobjects",
        "query",
        "queryAll",
        "search",
        "composite",
        "limits",
    ] {
        assert_eq!(root[name], format!("/services/data/v62.0/{name}"), "{root}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_analyst_uses_rest_on_the_standard_port() {
    let sim = start_sim().await;
    let standard = sim.endpoints().standard_url();
    let token = soap_login(&sim.endpoints().login_url(), ANALYST_USER, ANALYST_PASSWORD).await;
    let response = Client::anonymous()
        .rest(
            "GET",
            &format!("{standard}/services/data/v62.0/query?q=SELECT+LastName,+Phone+FROM+Lead"),
            &token,
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["records"][0]["LastName"], "Martian");
    assert_eq!(response.json()["records"][0]["Phone"], Value::Null);
    assert_eq!(usage(&response), Some("api-usage=1/15000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_request_limit_yields_request_limit_exceeded() {
    let sim = start_sim_with(|c| c.limits.api_requests_per_day = 2).await;
    let rest = Rest::new(&sim).await;
    let ok = rest.call("GET", "/", None).await;
    assert_eq!(usage(&ok), Some("api-usage=1/2"));
    let soap_url = format!(
        "{}/services/Soap/u/62.0/{ACME_ORG}",
        sim.endpoints().mutual_url()
    );
    let soap_ok = rest
        .client
        .soap(&soap_url, &get_user_info_envelope(&rest.token))
        .await;
    assert!(
        soap_ok
            .body
            .contains("<current>2</current><limit>2</limit>")
    );

    let refused = rest.call("GET", "/", None).await;
    assert_json(
        &refused,
        403,
        r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
    );
    let soap_refused = rest
        .client
        .soap(&soap_url, &get_user_info_envelope(&rest.token))
        .await;
    assert_eq!(soap_refused.status, 500);
    assert_eq!(
        soap_refused.body,
        partner_fault(
            "REQUEST_LIMIT_EXCEEDED",
            "UnexpectedErrorFault",
            "TotalRequests Limit exceeded."
        )
    );
    // The limit is per org: Globex is unaffected.
    let globex = soap_login(
        &sim.endpoints().login_url(),
        twoway_tests::GLOBEX_USER,
        twoway_tests::GLOBEX_PASSWORD,
    )
    .await;
    let response = Client::with_identity(&pki().fullcert_b)
        .rest(
            "GET",
            &format!("{}/services/data/v62.0/", sim.endpoints().mutual_url()),
            &globex,
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(sim.state().api_usage(ACME_ORG), (2, 2));
}
