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
