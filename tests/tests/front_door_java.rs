//! The Java clients through the front door: a JVM peer
//! (tests/clients/java/Peer.java, the plain JDK) doing on the wire what
//! WSC's PartnerConnection, BulkConnection and SessionRenewer and Data
//! Loader do (their jars come from Maven Central, which the test machines
//! do not reach), through the gateway over HTTPS to `twoway sim` over
//! mutual TLS. The JVM trusts the gateway's CA through a PKCS12 truststore
//! made by keytool, as docs/front-door.md tells users to; without it the
//! handshake fails. Login (gzip request bodies), faults as WSC binds them,
//! query and queryMore, create, update, delete, describe, getUserInfo
//! (partner and enterprise), a
//! Bulk 1.0 load and extract as Data Loader runs them, and the renewal of
//! an expired session; nothing the peer received holds the tenant's real
//! session or a URL other than the gateway's.

use serde_json::{Value, json};
use twoway_tests::clients::Peer;
use twoway_tests::gateway::{ACME, TestGateway, server_tls, tenant_with};
use twoway_tests::{ACME_ACCOUNTS, ACME_ORG, ACME_USER, start_sim_with};

const KEY: &str = "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d";
const TOKEN_PREFIX: &str = "00DGATEWAYTOKEN!";

/// The XML namespaces the answers declare: URLs that are names, not places.
const NAMESPACES: [&str; 4] = [
    "http://schemas.xmlsoap.org/soap/envelope/",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/2001/XMLSchema",
    "http://www.force.com/2009/06/asyncapi/dataload",
];

/// A simulator paging queries one record at a time, and a gateway serving
/// acme at the front door over HTTPS (`extra` before the tenant).
async fn setup(extra: &str) -> (twoway_sim::Sim, TestGateway, String) {
    let sim = start_sim_with(|c| c.limits.query_batch_size = 1).await;
    let tenant = format!("{extra}{}", tenant_with(ACME, "front_door = true"));
    let gw = TestGateway::start_with(&sim, &server_tls("{pki}/root-ca.pem"), &tenant, &[]).await;
    let origin = format!("https://{}", gw.addr());
    (sim, gw, origin)
}

/// Runs `scenario` with the gateway as the login URL and a transcript of
/// every answer the peer received; returns the peer's JSON and the transcript.
async fn run(java: &Peer, scenario: &str, origin: &str, extra: &[(&str, &str)]) -> (Value, String) {
    let dir = tempfile::tempdir().expect("a folder for the transcript");
    let transcript = dir.path().join("received.txt");
    let path = transcript.display().to_string();
    let mut env = vec![
        ("SF_LOGIN_URL", origin),
        ("SF_USERNAME", "acme"),
        ("SF_PASSWORD", KEY),
        ("SF_TRANSCRIPT", path.as_str()),
    ];
    env.extend_from_slice(extra);
    let out = java.run(scenario, &env).await;
    let received = std::fs::read_to_string(&transcript).expect("the peer's transcript");
    (out, received)
}

/// Nothing received holds the real session or the simulator's address, and
/// every URL in it is the gateway's (or an XML namespace's name).
#[track_caller]
fn assert_gateway_only(received: &str, sim: &twoway_sim::Sim, origin: &str) {
    assert!(!received.is_empty(), "the peer received nothing");
    assert!(
        !received.contains(&format!("{ACME_ORG}!")),
        "the real session reached the client:\n{received}"
    );
    let at = sim.endpoints();
    for upstream in [at.login_url(), at.standard_url(), at.mutual_url()] {
        assert!(
            !received.contains(&upstream),
            "{upstream} reached the client"
        );
    }
    let mut urls = 0;
    for (at, _) in received.match_indices("http") {
        let rest = &received[at..];
        if !(rest.starts_with("http://") || rest.starts_with("https://")) {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '"' | '\'' | ','))
            .unwrap_or(rest.len());
        let url = &rest[..end];
        if NAMESPACES.contains(&url) {
            continue;
        }
        urls += 1;
        assert!(
            url == origin || url.starts_with(&format!("{origin}/")),
            "{url} is not at the gateway {origin}"
        );
    }
    assert!(urls > 0, "no URL checked in:\n{received}");
}

fn sorted_accounts() -> Vec<String> {
    let mut names = ACME_ACCOUNTS.map(String::from).to_vec();
    names.sort();
    names
}

#[track_caller]
fn assert_token(token: &Value) {
    let token = token
        .as_str()
        .unwrap_or_else(|| panic!("no token: {token}"));
    assert!(
        token.starts_with(TOKEN_PREFIX),
        "not a gateway token: {token}"
    );
}

/// The peer's `crud`: an Account named `name` created, read, updated
/// (Industry Testing, then Updated), read again and deleted.
#[track_caller]
fn assert_crud(out: &Value, name: &str) {
    let id = out["created"]["id"].as_str().expect("created id");
    assert!(id.starts_with("001"), "{out}");
    assert_eq!(out["created"]["success"], true, "{out}");
    assert_eq!(out["read"], json!({ "Name": name, "Industry": "Testing" }));
    assert_eq!(out["updated"]["success"], true, "{out}");
    assert_eq!(out["reread"]["Industry"], "Updated", "{out}");
    assert_eq!(
        out["deleted"],
        json!({ "id": id, "success": true }),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wsc_partner_connection_through_the_gateway() {
    let Some(java) = Peer::java() else { return };
    let (sim, _gw, origin) = setup("").await;
    let (out, received) = run(&java, "wsc", &origin, &[]).await;

    // A wrong password: Salesforce's INVALID_LOGIN fault, bound as WSC does.
    let wrong = &out["wrongPassword"];
    assert_eq!(wrong["status"], 500, "{out}");
    assert_eq!(wrong["faultcode"], "sf:INVALID_LOGIN", "{out}");
    assert_eq!(wrong["detailType"], "sf:LoginFault", "{out}");
    assert_eq!(wrong["exceptionCode"], "INVALID_LOGIN", "{out}");
    assert_eq!(wrong["renewable"], false, "{out}");

    // The login answer points at the gateway and carries a gateway token.
    let login = &out["login"];
    let server = login["serverUrl"].as_str().unwrap();
    assert!(
        server.starts_with(&format!("{origin}/services/Soap/u/62.0/")),
        "{out}"
    );
    let metadata = login["metadataServerUrl"].as_str().unwrap();
    assert!(
        metadata.starts_with(&format!("{origin}/services/Soap/m/62.0/")),
        "{out}"
    );
    assert_token(&login["sessionId"]);
    // The login answer is the gateway's own; its user is the Salesforce
    // user the tenant logs in as, as getUserInfo (through to the API) says.
    assert_eq!(login["userName"], ACME_USER, "{out}");
    assert_eq!(out["userInfo"]["userName"], ACME_USER, "{out}");
    let org = out["userInfo"]["organizationId"].as_str().unwrap();
    assert!(org.starts_with(ACME_ORG), "{out}");

    // query, then queryMore on each locator: one record a page, all of them.
    let names = sorted_accounts();
    let query = &out["query"];
    assert_eq!(query["size"], "3", "{out}");
    assert_eq!(
        query["pages"],
        json!([[names[0]], [names[1]], [names[2]]]),
        "{out}"
    );
    assert_eq!(query["names"], json!(names), "{out}");

    // create, update, delete as SaveResults.
    assert_crud(&out, "WSC Test Account");
    assert_eq!(out["deletedAgain"]["success"], false, "{out}");
    assert_eq!(
        out["deletedAgain"]["statusCode"], "ENTITY_IS_DELETED",
        "{out}"
    );
    assert_eq!(out["afterDelete"], "0", "{out}");

    // describeSObject.
    let describe = &out["describe"];
    assert_eq!(describe["name"], "Account", "{out}");
    assert_eq!(describe["keyPrefix"], "001", "{out}");
    let fields = describe["fields"].as_array().unwrap();
    for field in ["Id", "Name", "Industry"] {
        assert!(fields.contains(&json!(field)), "{field}: {out}");
    }
    let unknown = &out["describeUnknown"];
    assert_eq!(unknown["faultcode"], "sf:INVALID_TYPE", "{out}");
    assert_eq!(unknown["detailType"], "sf:InvalidSObjectFault", "{out}");

    // A session the gateway never issued: INVALID_SESSION_ID, which WSC renews.
    let unknown = &out["unknownSession"];
    assert_eq!(unknown["faultcode"], "sf:INVALID_SESSION_ID", "{out}");
    assert_eq!(unknown["exceptionCode"], "INVALID_SESSION_ID", "{out}");
    assert_eq!(unknown["renewable"], true, "{out}");
    // The API key itself as the session id.
    assert_eq!(out["keyAsSession"], ACME_USER, "{out}");

    assert_gateway_only(&received, &sim, &origin);
}

#[tokio::test(flavor = "multi_thread")]
async fn wsc_enterprise_connection_through_the_gateway() {
    let Some(java) = Peer::java() else { return };
    let (sim, _gw, origin) = setup("").await;
    let (out, received) = run(&java, "enterprise", &origin, &[]).await;
    const FAULTS: &str = "urn:fault.enterprise.soap.sforce.com";

    // The gateway's own faults speak the enterprise API's fault namespace.
    let wrong = &out["wrongPassword"];
    assert_eq!(wrong["faultcode"], "sf:INVALID_LOGIN", "{out}");
    assert_eq!(wrong["detailType"], "sf:LoginFault", "{out}");
    assert_eq!(wrong["detailNs"], FAULTS, "{out}");

    let login = &out["login"];
    let server = login["serverUrl"].as_str().unwrap();
    assert!(
        server.starts_with(&format!("{origin}/services/Soap/c/62.0/")),
        "{out}"
    );
    assert_token(&login["sessionId"]);
    assert_eq!(login["userName"], ACME_USER, "{out}");
    assert_eq!(out["userName"], ACME_USER, "{out}");

    // Typed records, paged one a page.
    let names = sorted_accounts();
    assert_eq!(out["query"]["names"], json!(names), "{out}");
    assert_eq!(out["query"]["pages"].as_array().unwrap().len(), 3, "{out}");
    let record_type = out["recordType"].as_str().unwrap();
    assert!(record_type.ends_with(":Account"), "{out}");

    // Typed sObjects in, SaveResults out.
    assert_crud(&out, "Enterprise Account");
    assert_eq!(out["describe"]["name"], "Account", "{out}");

    let unknown = &out["unknownSession"];
    assert_eq!(unknown["faultcode"], "sf:INVALID_SESSION_ID", "{out}");
    assert_eq!(unknown["renewable"], true, "{out}");
    assert_eq!(unknown["detailNs"], FAULTS, "{out}");

    assert_gateway_only(&received, &sim, &origin);
}

#[tokio::test(flavor = "multi_thread")]
async fn data_loader_login_describe_and_bulk_through_the_gateway() {
    let Some(java) = Peer::java() else { return };
    let (sim, _gw, origin) = setup("").await;
    let (out, received) = run(&java, "dataloader", &origin, &[]).await;

    // Data Loader logs in at //services/Soap/u/64.0/ and keeps serverUrl's origin.
    let server = out["login"]["serverUrl"].as_str().unwrap();
    assert!(
        server.starts_with(&format!("{origin}/services/Soap/u/64.0/")),
        "{out}"
    );
    assert_token(&out["login"]["sessionId"]);
    // Data Loader times its session by sessionSecondsValid: the token's life.
    assert_eq!(out["login"]["sessionSecondsValid"], "7200", "{out}");
    assert_eq!(out["server"], origin.as_str(), "{out}");
    let objects = out["objects"].as_array().expect("describeGlobal");
    for object in ["Account", "Contact", "Invoice__c"] {
        assert!(objects.contains(&json!(object)), "{object}: {out}");
    }
    assert_eq!(out["describe"]["name"], "Account", "{out}");

    // The load: a job, a CSV batch, its results, the job closed.
    assert_eq!(
        out["job"],
        json!({ "state": "Open", "contentType": "CSV" }),
        "{out}"
    );
    assert_eq!(out["batchList"], json!(["Completed"]), "{out}");
    assert_eq!(
        out["batchInfo"],
        json!({ "state": "Completed", "processed": "3", "failed": "1" }),
        "{out}"
    );
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "{out}");
    for row in &results[..2] {
        assert_eq!(row["Success"], "true", "{out}");
        assert_eq!(row["Created"], "true", "{out}");
        assert!(row["Id"].as_str().unwrap().starts_with("001"), "{out}");
    }
    assert_eq!(results[2]["Success"], "false", "{out}");
    assert!(
        results[2]["Error"]
            .as_str()
            .unwrap()
            .starts_with("REQUIRED_FIELD_MISSING"),
        "{out}"
    );
    assert_eq!(out["closed"], "Closed", "{out}");

    // The extract: what the load wrote, read back as CSV.
    assert_eq!(
        out["extracted"],
        json!([
            { "Name": "Data Loader One", "Industry": "Energy" },
            { "Name": "Data Loader, Two", "Industry": "Energy" },
        ]),
        "{out}"
    );
    assert_eq!(out["extractClosed"], "Closed", "{out}");
    // Bulk's own error shape for a job that does not exist.
    assert_eq!(out["unknownJob"]["exceptionCode"], "InvalidJob", "{out}");

    assert_gateway_only(&received, &sim, &origin);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_renewed_as_wsc_renews_a_session() {
    let Some(java) = Peer::java() else { return };
    let seconds = twoway::config::front_door::MIN_TOKEN_SECONDS;
    let (sim, _gw, origin) = setup(&format!("[front_door]\ntoken_seconds = {seconds}\n")).await;
    let wait = ((seconds + 1) * 1000).to_string();
    let (out, received) = run(&java, "renew", &origin, &[("SF_TOKEN_WAIT_MS", &wait)]).await;

    let names = json!(sorted_accounts());
    assert_eq!(out["before"], names, "{out}");
    // The call after expiry met INVALID_SESSION_ID as WSC renews it...
    let fault = &out["fault"];
    assert_eq!(fault["faultcode"], "sf:INVALID_SESSION_ID", "{out}");
    assert_eq!(fault["detailType"], "sf:UnexpectedErrorFault", "{out}");
    assert_eq!(fault["renewable"], true, "{out}");
    // ...the renewer logged in (once, unless a slow machine let the token
    // expire before the wait too), and the retry and its paging succeeded.
    let renewals = out["renewals"].as_u64().unwrap();
    assert!(renewals >= 1, "{out}");
    assert_eq!(out["after"], names, "{out}");
    let tokens = out["tokens"].as_array().unwrap();
    assert_eq!(tokens.len() as u64, renewals + 1, "{out}");
    tokens.iter().for_each(assert_token);
    let distinct: std::collections::HashSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), tokens.len(), "{out}");
    // Bulk has no renewer: InvalidSessionId, then the new session works.
    assert_eq!(out["bulkExpired"]["status"], 400, "{out}");
    assert_eq!(
        out["bulkExpired"]["exceptionCode"], "InvalidSessionId",
        "{out}"
    );
    assert_eq!(
        out["bulkRenewed"],
        json!({ "state": "Open", "closed": "Closed" }),
        "{out}"
    );

    assert_gateway_only(&received, &sim, &origin);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jvm_verifies_the_gateways_certificate() {
    let Some(java) = Peer::java() else { return };
    let (_sim, _gw, origin) = setup("").await;
    // Without the truststore the JVM's own CAs do not know the gateway's.
    let refused = java
        .clone()
        .without_truststore()
        .try_run(
            "login",
            &[
                ("SF_LOGIN_URL", origin.as_str()),
                ("SF_USERNAME", "acme"),
                ("SF_PASSWORD", KEY),
            ],
        )
        .await
        .expect_err("a login without trusting the gateway's CA");
    assert!(refused.contains("PKIX path building failed"), "{refused}");
    // With it, the same login succeeds.
    let (out, _) = run(&java, "login", &origin, &[]).await;
    assert!(
        out["serverUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{origin}/")),
        "{out}"
    );
}
