//! The guide's workflow (plugins/contact-dedupe, walked through in
//! plugins/README.md) in the real gateway against the simulator: it finds
//! a Contact by email whatever the case, creates one when absent (quotes in
//! the address escaped by `soql::literal`), and answers bad input with a
//! 400 problem that tells a syntax error from a wrong shape.

use twoway_tests::gateway::{ACME, TestGateway};
use twoway_tests::plugins::CONTACT_DEDUPE;
use twoway_tests::{ACME_ORG, start_sim};

const KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
const PATH: &str = "/tenants/acme/workflows/contact-dedupe";

fn tenants() -> String {
    format!(
        "{ACME}[[tenant.workflow]]\nname = \"contact-dedupe\"\nplugin = \"contact_dedupe.wasm\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn finds_by_email_whatever_the_case_or_creates_once() {
    let sim = start_sim().await;
    let gw = TestGateway::start(&sim, &tenants(), &[("contact_dedupe.wasm", CONTACT_DEDUPE)]).await;

    // The seeded Contact, asked for in another case.
    let found = gw
        .call(
            "POST",
            PATH,
            KEY,
            r#"{"email": "WILE@Coyote.example", "last_name": "Coyote"}"#,
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["created"], false);
    let wile = found.json()["id"].as_str().unwrap().to_string();
    let record = sim.state().get(ACME_ORG, "Contact", &wile).unwrap();
    assert_eq!(record.get("Email"), Some("wile@coyote.example"));

    // A new address with a quote in it: created once, then found.
    let body =
        r#"{"email": "o'hara@tara.example", "last_name": "O'Hara", "first_name": "Scarlett"}"#;
    let created = gw.call("POST", PATH, KEY, body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["created"], true);
    let id = created.json()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("003"), "{id}");
    let record = sim.state().get(ACME_ORG, "Contact", &id).unwrap();
    assert_eq!(record.get("LastName"), Some("O'Hara"));
    assert_eq!(record.get("FirstName"), Some("Scarlett"));

    let again = gw
        .call(
            "POST",
            PATH,
            KEY,
            r#"{"email": "O'HARA@tara.example", "last_name": "O'Hara"}"#,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(again.json()["created"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_problem_that_says_which_kind() {
    let sim = start_sim().await;
    let gw = TestGateway::start(&sim, &tenants(), &[("contact_dedupe.wasm", CONTACT_DEDUPE)]).await;
    let cases = [
        (
            r#"{"email": "x@y.example" "last_name": "Y"}"#,
            "the request body is not valid JSON: expected `,` or `}` at line 1 column 25",
        ),
        (
            r#"{"last_name": "Y"}"#,
            "the request body is valid JSON but not the expected shape: missing field `email`",
        ),
        (
            r#"{"email": "nobody", "last_name": "Y"}"#,
            "email `nobody` is not an address like name@example.com",
        ),
    ];
    for (body, detail) in cases {
        let reply = gw.call("POST", PATH, KEY, body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        let problem = reply.json();
        assert_eq!(problem["code"], "bad_request", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(detail),
            "{problem}"
        );
    }
}
