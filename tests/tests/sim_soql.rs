//! The simulator's SOQL compares text as Salesforce does: `=`, `!=` / `<>`
//! and `LIKE` are case-insensitive (`Id` exact), string literals take
//! Salesforce's escapes (`\'`, `\%`, `\_`, ...), and a bad escape is a
//! MALFORMED_QUERY; over REST and over the SOAP partner API.

use serde_json::{Value, json};
use twoway_sim::Sim;
use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, Client, Response, api_envelope, pki, soap_login, start_sim,
    xml_text, xml_texts,
};

/// A logged-in Acme integration user on the mutual-auth port.
struct Api {
    client: Client,
    mutual: String,
    token: String,
}

impl Api {
    async fn new(sim: &Sim) -> Self {
        Self {
            client: Client::with_identity(&pki().fullcert),
            mutual: sim.endpoints().mutual_url(),
            token: soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await,
        }
    }

    async fn rest(&self, method: &str, resource: &str, body: Option<&Value>) -> Response {
        let url = format!("{}/services/data/v62.0{resource}", self.mutual);
        self.client.rest(method, &url, &self.token, body).await
    }

    /// A REST query; the records' values of `field`, in order.
    async fn query(&self, soql: &str, field: &str) -> Vec<String> {
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let response = self.rest("GET", &format!("/query?q={q}"), None).await;
        assert_eq!(response.status, 200, "{soql}: {}", response.body);
        let body = response.json();
        let mut values: Vec<String> = body["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| r[field].as_str().unwrap_or("<null>").to_string())
            .collect();
        values.sort();
        values
    }

    /// A REST query that must fail: its error array's first entry.
    async fn malformed(&self, soql: &str) -> Value {
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let response = self.rest("GET", &format!("/query?q={q}"), None).await;
        assert_eq!(response.status, 400, "{soql}: {}", response.body);
        response.json()[0].clone()
    }

    async fn create_contact(&self, fields: Value) -> String {
        let created = self.rest("POST", "/sobjects/Contact", Some(&fields)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.json()["id"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn equals_and_not_equals_ignore_case_on_text() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    assert_eq!(
        api.query(
            "SELECT Email FROM Contact WHERE Email = 'WILE@Coyote.EXAMPLE'",
            "Email"
        )
        .await,
        ["wile@coyote.example"]
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Account WHERE billingcity = 'tucson' AND Industry = 'ENGINEERING'",
            "Name"
        )
        .await,
        ["Coyote Engineering"]
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Account WHERE BillingCity != 'CHICAGO'",
            "Name"
        )
        .await,
        ["Coyote Engineering", "Road Runner Logistics"]
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Account WHERE BillingCity <> 'chicago' AND Name != 'coyote engineering'",
            "Name"
        )
        .await,
        ["Road Runner Logistics"]
    );
    // A null field is != any value and never = one.
    assert_eq!(
        api.query("SELECT Name FROM Account WHERE Phone != 'x'", "Name")
            .await
            .len(),
        3
    );
    assert!(
        api.query("SELECT Name FROM Account WHERE Phone = ''", "Name")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_compare_exactly() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let id = api
        .create_contact(json!({"LastName": "Runner", "Email": "road@runner.example"}))
        .await;
    assert_eq!(
        api.query(&format!("SELECT Id FROM Contact WHERE Id = '{id}'"), "Id")
            .await,
        [id.as_str()]
    );
    let swapped: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    assert_ne!(swapped, id, "the id has letters");
    assert!(
        api.query(
            &format!("SELECT Id FROM Contact WHERE Id = '{swapped}'"),
            "Id"
        )
        .await
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn like_matches_wildcards_case_insensitively() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    assert_eq!(
        api.query("SELECT Name FROM Account WHERE Name LIKE 'ROAD%'", "Name")
            .await,
        ["Road Runner Logistics"]
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Account WHERE Name LIKE '%co%' AND Name LIKE '_c%'",
            "Name"
        )
        .await,
        ["Acme Corporation"]
    );
    assert!(
        api.query("SELECT Name FROM Account WHERE Name LIKE 'Road'", "Name")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn escaped_literals_match_quotes_and_literal_wildcards() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    api.create_contact(json!({"LastName": "O'Hara", "Email": "50%_off@deals.example"}))
        .await;
    api.create_contact(json!({"LastName": "Plain", "Email": "50xyoff@deals.example"}))
        .await;
    assert_eq!(
        api.query(
            r"SELECT LastName FROM Contact WHERE LastName = 'o\'hara'",
            "LastName"
        )
        .await,
        ["O'Hara"]
    );
    // Unescaped, % and _ are wildcards and match both; escaped, only one.
    assert_eq!(
        api.query(
            "SELECT LastName FROM Contact WHERE Email LIKE '50%_off@%'",
            "LastName"
        )
        .await,
        ["O'Hara", "Plain"]
    );
    assert_eq!(
        api.query(
            r"SELECT LastName FROM Contact WHERE Email LIKE '50\%\_OFF@%'",
            "LastName"
        )
        .await,
        ["O'Hara"]
    );
    let bad = api
        .malformed(r"SELECT Id FROM Contact WHERE LastName = 'O\Hara'")
        .await;
    assert_eq!(bad["errorCode"], "MALFORMED_QUERY");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains(r"Illegal character sequence '\H'"),
        "{bad}"
    );
    let bad = api
        .malformed("SELECT Id FROM Contact WHERE LastName >> 'O'")
        .await;
    assert_eq!(bad["errorCode"], "MALFORMED_QUERY");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_soap_query_compares_the_same_way() {
    let sim = start_sim().await;
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let url = format!(
        "{}/services/Soap/u/62.0/{ACME_ORG}",
        sim.endpoints().mutual_url()
    );
    let response = Client::with_identity(&pki().fullcert)
        .soap(
            &url,
            &api_envelope(
                &session,
                "<urn:query><urn:queryString>SELECT Email FROM Contact WHERE Email = 'Wile@COYOTE.example'</urn:queryString></urn:query>",
            ),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(xml_text(&response.body, "size").as_deref(), Some("1"));
    assert_eq!(xml_texts(&response.body, "Email"), ["wile@coyote.example"]);
}

impl Api {
    /// A REST query's whole answer.
    async fn answer(&self, soql: &str) -> Value {
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let response = self.rest("GET", &format!("/query?q={q}"), None).await;
        assert_eq!(response.status, 200, "{soql}: {}", response.body);
        response.json()
    }

    /// The values of `field` in the order the query returns them.
    async fn ordered(&self, soql: &str, field: &str) -> Vec<Value> {
        self.answer(soql).await["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[field].clone())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parent_paths_and_child_subqueries_nest_as_salesforce_nests_them() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let contact = api
        .answer("SELECT LastName, Account.Name, Account.Owner.Email FROM Contact WHERE Account.Industry = 'Engineering'")
        .await;
    let record = &contact["records"][0];
    assert_eq!(record["LastName"], "Coyote");
    let account = &record["Account"];
    assert_eq!(account["attributes"]["type"], "Account");
    assert!(
        account["attributes"]["url"]
            .as_str()
            .unwrap()
            .starts_with("/services/data/v62.0/sobjects/Account/001")
    );
    assert_eq!(account["Name"], "Coyote Engineering");
    assert_eq!(account["Owner"]["attributes"]["type"], "User");
    assert_eq!(account["Owner"]["Email"], "integration@acme.example");
    // A missing parent is null.
    let orphan = api.create_contact(json!({ "LastName": "Orphan" })).await;
    let none = api
        .answer(&format!(
            "SELECT Account.Name FROM Contact WHERE Id = '{orphan}'"
        ))
        .await;
    assert_eq!(none["records"][0]["Account"], Value::Null);
    // Child subqueries: a list per parent, null when empty.
    let accounts = api
        .answer("SELECT Name, (SELECT LastName FROM Contacts), (SELECT Subject, Priority FROM Cases WHERE Priority = 'High') FROM Account ORDER BY Name")
        .await;
    let records = accounts["records"].as_array().unwrap();
    assert_eq!(records[0]["Name"], "Acme Corporation");
    assert_eq!(records[0]["Contacts"], Value::Null);
    let coyote = &records[1];
    assert_eq!(coyote["Name"], "Coyote Engineering");
    assert_eq!(coyote["Contacts"]["totalSize"], 1);
    assert_eq!(coyote["Contacts"]["done"], true);
    assert_eq!(coyote["Contacts"]["records"][0]["LastName"], "Coyote");
    assert_eq!(
        coyote["Contacts"]["records"][0]["attributes"]["type"],
        "Contact"
    );
    assert_eq!(
        coyote["Cases"]["records"][0]["Subject"],
        "Anvil delivered late"
    );
    // Custom relationships, both ways.
    let invoice = api
        .answer("SELECT Number__c, Amount__c, Account__r.Name FROM Invoice__c")
        .await;
    assert_eq!(invoice["records"][0]["Amount__c"], 1200.5);
    assert_eq!(
        invoice["records"][0]["Account__r"]["Name"],
        "Coyote Engineering"
    );
    let with_invoices = api.answer("SELECT Name, (SELECT Number__c FROM Invoices__r) FROM Account WHERE Name LIKE 'Coyote%'").await;
    assert_eq!(
        with_invoices["records"][0]["Invoices__r"]["records"][0]["Number__c"],
        "INV-0001"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn where_takes_or_not_parentheses_in_and_typed_comparisons() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let names = |soql: &'static str| {
        let api = &api;
        async move { api.query(soql, "Name").await }
    };
    assert_eq!(
        names("SELECT Name FROM Account WHERE (Industry = 'Energy' OR BillingCity = 'Tucson') OR NOT Name LIKE '%o%'").await,
        ["Coyote Engineering"]
    );
    assert_eq!(
        names("select name from account where industry in ('manufacturing', 'Transportation') and not (billingcity = 'Chicago')").await,
        ["Road Runner Logistics"]
    );
    assert_eq!(
        names("SELECT Name FROM Account WHERE Industry NOT IN ('Manufacturing', 'Transportation')")
            .await,
        ["Coyote Engineering"]
    );
    // Numbers compare as numbers, dates as dates.
    assert_eq!(
        api.query(
            "SELECT Name FROM Opportunity WHERE Amount >= 25000 AND Amount < 25000.01",
            "Name"
        )
        .await,
        ["Rocket Skates"]
    );
    assert!(
        api.query("SELECT Name FROM Opportunity WHERE Amount > 25000", "Name")
            .await
            .is_empty()
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Opportunity WHERE CloseDate > 2030-01-01 AND CloseDate <= 2030-06-30",
            "Name"
        )
        .await,
        ["Rocket Skates"]
    );
    assert_eq!(
        api.query(
            "SELECT Name FROM Opportunity WHERE IsClosed = false",
            "Name"
        )
        .await,
        ["Rocket Skates"]
    );
    // Date literals, relative to today.
    assert_eq!(
        names("SELECT Name FROM Account WHERE CreatedDate = TODAY AND CreatedDate = LAST_N_DAYS:3")
            .await
            .len(),
        3
    );
    assert!(
        names("SELECT Name FROM Account WHERE CreatedDate < YESTERDAY")
            .await
            .is_empty()
    );
    assert_eq!(
        names("SELECT Name FROM Account WHERE CreatedDate > 2000-01-01T00:00:00Z")
            .await
            .len(),
        3
    );
    // Semi-joins.
    assert_eq!(
        names("SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact)").await,
        ["Coyote Engineering"]
    );
    assert_eq!(
        names("SELECT Name FROM Account WHERE Id NOT IN (SELECT AccountId FROM Opportunity)").await,
        ["Acme Corporation", "Road Runner Logistics"]
    );
    // = null and != null.
    assert_eq!(
        api.query(
            "SELECT LastName FROM Contact WHERE AccountId != null",
            "LastName"
        )
        .await,
        ["Coyote"]
    );
    assert!(
        api.query(
            "SELECT LastName FROM Contact WHERE AccountId = null",
            "LastName"
        )
        .await
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn order_by_limit_offset_and_aggregates() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    api.rest(
        "POST",
        "/sobjects/Account",
        Some(&json!({ "Name": "Zeta Nulls" })),
    )
    .await;
    assert_eq!(
        api.ordered(
            "SELECT Name FROM Account ORDER BY Industry DESC NULLS LAST, Name LIMIT 3 OFFSET 1",
            "Name"
        )
        .await,
        [
            json!("Acme Corporation"),
            json!("Coyote Engineering"),
            json!("Zeta Nulls")
        ]
    );
    assert_eq!(
        api.ordered("SELECT Name FROM Account ORDER BY Industry", "Name")
            .await[0],
        json!("Zeta Nulls"),
        "nulls sort first by default"
    );
    let count = api
        .answer("SELECT COUNT() FROM Account WHERE Name != 'Zeta Nulls'")
        .await;
    assert_eq!(
        count,
        json!({ "totalSize": 3, "done": true, "records": [] })
    );
    let grouped = api
        .answer("SELECT Industry, COUNT(Id) total, MAX(Name) FROM Account WHERE Industry != null GROUP BY Industry HAVING COUNT(Id) >= 1 ORDER BY Industry LIMIT 2")
        .await;
    assert_eq!(
        grouped["records"],
        json!([
            { "attributes": { "type": "AggregateResult" }, "Industry": "Engineering", "total": 1, "expr0": "Coyote Engineering" },
            { "attributes": { "type": "AggregateResult" }, "Industry": "Manufacturing", "total": 1, "expr0": "Acme Corporation" },
        ])
    );
    let sum = api
        .answer("SELECT SUM(Amount) s, AVG(Amount) a FROM Opportunity")
        .await;
    assert_eq!(sum["records"][0]["s"], 25000.0);
    assert_eq!(sum["records"][0]["a"], 25000.0);
    // FIELDS(STANDARD) selects every standard field.
    let standard = api
        .answer("SELECT FIELDS(STANDARD) FROM Account LIMIT 1")
        .await;
    let record = standard["records"][0].as_object().unwrap();
    assert!(
        record.contains_key("BillingCity")
            && record.contains_key("OwnerId")
            && !record.contains_key("External_Id__c")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_get_salesforce_errors_with_row_and_column() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let cases = [
        (
            "SELECT Name FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
            "MALFORMED_QUERY",
            "ERROR at Row:1:Column:58\nunexpected token: 'OR'",
        ),
        (
            "SELECT Name FROM Account\nWHERE Nmae = 'x'",
            "INVALID_FIELD",
            "\nWHERE Nmae = 'x'\n      ^\nERROR at Row:2:Column:7\nNo such column 'Nmae' on entity 'Account'.",
        ),
        (
            "SELECT Acount.Name FROM Contact",
            "INVALID_FIELD",
            "Didn't understand relationship 'Acount' in field path.",
        ),
        (
            "SELECT Id, (SELECT Id FROM Contactz) FROM Account",
            "INVALID_TYPE",
            "Didn't understand relationship 'Contactz' in FROM part of query call.",
        ),
        (
            "SELECT Name FROM Opportunity WHERE Amount = '5'",
            "INVALID_FIELD",
            "value of filter criterion for field 'Amount' must be of type double and should not be enclosed in quotes",
        ),
        (
            "SELECT Name FROM Account WHERE Name = 5",
            "INVALID_FIELD",
            "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Name, COUNT(Id) FROM Account",
            "MALFORMED_QUERY",
            "Field must be grouped or aggregated: Name",
        ),
        (
            "SELECT Name, Name FROM Account",
            "MALFORMED_QUERY",
            "duplicate field selected: Name",
        ),
        (
            "SELECT FIELDS(ALL) FROM Account",
            "MALFORMED_QUERY",
            "The SOQL FIELDS function must have a LIMIT of at most 200",
        ),
        (
            "SELECT Id FROM Account OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000",
        ),
    ];
    for (soql, code, message) in cases {
        let error = api.malformed(soql).await;
        assert_eq!(error["errorCode"], code, "{soql}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{soql}: {error}"
        );
    }
    // A query nested past the parser's bound is refused, not a stack overflow.
    let deep = format!(
        "SELECT Id FROM Account WHERE {}Name = 'x'{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let error = api.malformed(&deep).await;
    assert_eq!(error["errorCode"], "MALFORMED_QUERY");
}
