//! Workflow `contact-dedupe`: finds the Contact with an email address or
//! creates it, so a caller can send the same person twice without making a
//! duplicate. The guide in plugins/README.md builds it step by step.
//!
//! `POST {"email": "wile@coyote.example", "last_name": "Coyote",
//! "first_name": "Wile"}` (first_name optional, nothing else allowed)
//! answers `200 {"id": "003...", "created": false}` when a Contact has that
//! email (compared case-insensitively, as Salesforce does) and
//! `201 {"id": "003...", "created": true}` after creating one.

use serde::Deserialize;
use twoway_plugin::prelude::*;

/// The caller's JSON; an unknown or missing field is a 400 naming it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    email: String,
    last_name: String,
    first_name: Option<String>,
}

struct ContactDedupe;

impl Guest for ContactDedupe {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        // 1. Validate: every problem at once, each saying how to fix it.
        let input: Input = request.json()?;
        let email = input.email.trim();
        let last_name = input.last_name.trim();
        let mut problems = Vec::new();
        if !is_email(email) {
            problems.push(format!(
                "email `{email}` is not an address like name@example.com"
            ));
        }
        if last_name.is_empty() {
            problems.push("last_name must not be blank".to_string());
        }
        if !problems.is_empty() {
            return Err(bad_request(problems.join("; ")));
        }

        // 2. Look for the Contact: the email goes into the query as a
        //    literal, escaped, never pasted between quotes by hand.
        let soql = format!(
            "SELECT Id FROM Contact WHERE Email = {} LIMIT 1",
            soql::literal(email)
        );
        if let Some(contact) = rest::query_first(&soql)? {
            let id = contact["Id"]
                .as_str()
                .ok_or_else(|| internal("the query answered a Contact without an Id"))?;
            log(Level::Info, &format!("found Contact {id}"));
            return Ok(json_response(200, &json!({ "id": id, "created": false })));
        }

        // 3. Create it when absent; REST answers the new id.
        let mut fields = json!({ "LastName": last_name, "Email": email });
        if let Some(first) = input.first_name.as_deref().map(str::trim)
            && !first.is_empty()
        {
            fields["FirstName"] = json!(first);
        }
        let id = rest::create("Contact", &fields)?;
        log(Level::Info, &format!("created Contact {id}"));
        Ok(json_response(201, &json!({ "id": id, "created": true })))
    }
}

/// A plausible address: one `@`, a local part, a dotted domain, no spaces,
/// at most 80 characters (the length of Salesforce's Email field).
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    text.chars().count() <= 80
        && !local.is_empty()
        && labels_ok
        && !domain.contains('@')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
}

twoway_plugin::export!(ContactDedupe);

#[cfg(test)]
mod tests {
    //! `handle()` run natively against the SDK's fake host:
    //! `cargo test -p contact-dedupe --target x86_64-unknown-linux-gnu`.

    use super::*;
    use twoway_plugin::testing::{FakeHost, fail, json_body, json_request};

    const WILE: &str = "SELECT Id FROM Contact WHERE Email = 'wile@coyote.example' LIMIT 1";

    fn call(body: Value) -> Result<WorkflowResponse, WorkflowError> {
        ContactDedupe::handle(json_request("POST", "/", &body))
    }

    #[test]
    fn answers_the_existing_contact_without_creating_one() {
        let host = FakeHost::install();
        host.on_query(WILE).json(
            200,
            &json!({"totalSize": 1, "done": true, "records": [
                {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA"}
            ]}),
        );
        let response =
            call(json!({"email": " wile@coyote.example ", "last_name": "Coyote"})).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            json_body(&response.body),
            json!({"id": "003000000000001AAA", "created": false})
        );
        assert_eq!(host.requests().len(), 1, "no create after a match");
    }

    #[test]
    fn creates_the_contact_when_absent() {
        let host = FakeHost::install();
        host.on_query(WILE)
            .json(200, &json!({"totalSize": 0, "done": true, "records": []}));
        host.on(Api::Rest, "POST", "sobjects/Contact").json(
            201,
            &json!({"id": "003000000000002AAA", "success": true, "errors": []}),
        );
        let response = call(json!({
            "email": "wile@coyote.example", "last_name": "Coyote", "first_name": "Wile"
        }))
        .unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(
            json_body(&response.body),
            json!({"id": "003000000000002AAA", "created": true})
        );
        let create = &host.requests()[1];
        assert_eq!(
            json_body(&create.body),
            json!({"LastName": "Coyote", "Email": "wile@coyote.example", "FirstName": "Wile"})
        );
        assert_eq!(host.logs()[0].message, "created Contact 003000000000002AAA");
    }

    #[test]
    fn a_quote_in_the_email_stays_inside_the_literal() {
        let host = FakeHost::install();
        host.on_query(r"SELECT Id FROM Contact WHERE Email = 'o\'hara@example.com' LIMIT 1")
            .json(200, &json!({"totalSize": 0, "done": true, "records": []}));
        host.on(Api::Rest, "POST", "sobjects/Contact")
            .json(201, &json!({"id": "003X", "success": true, "errors": []}));
        let response = call(json!({"email": "o'hara@example.com", "last_name": "O'Hara"})).unwrap();
        assert_eq!(response.status, 201);
    }

    #[test]
    fn bad_input_is_a_400_and_sends_nothing() {
        let host = FakeHost::install();
        let cases = [
            (json!({"last_name": "Coyote"}), "missing field `email`"),
            (
                json!({"email": "x@y.example", "last_name": "C", "ceo": "Wile"}),
                "unknown field `ceo`",
            ),
            (
                json!({"email": "not-an-address", "last_name": " "}),
                "email `not-an-address` is not an address like name@example.com; last_name must not be blank",
            ),
        ];
        for (body, expected) in cases {
            match call(body) {
                Err(WorkflowError::BadRequest(message)) => {
                    assert!(message.contains(expected), "{message}")
                }
                other => panic!("expected a bad request, got {other:?}"),
            }
        }
        assert!(host.requests().is_empty());
    }

    #[test]
    fn upstream_errors_and_faults_pass_through() {
        let host = FakeHost::install();
        host.on_query(WILE)
            .once()
            .fail(fail::session_unavailable("login budget spent"));
        host.on_query(WILE)
            .json(200, &json!({"totalSize": 0, "done": true, "records": []}));
        host.on(Api::Rest, "POST", "sobjects/Contact").json(
            400,
            &json!([{"errorCode": "DUPLICATES_DETECTED", "message": "Use one of these records?"}]),
        );
        let body = json!({"email": "wile@coyote.example", "last_name": "Coyote"});
        assert!(matches!(
            call(body.clone()),
            Err(WorkflowError::Upstream(UpstreamError::SessionUnavailable(
                _
            )))
        ));
        assert_eq!(
            call(body).unwrap_err(),
            upstream_fault("DUPLICATES_DETECTED", "Use one of these records?")
        );
    }
}
