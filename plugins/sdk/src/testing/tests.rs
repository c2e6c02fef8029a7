//! Tests of the fake host itself and of the REST helpers that go through it.

use serde_json::json;

use super::*;
use crate::{WorkflowError, config, log, rest, send, session, soql, upstream_fault};

fn get(path: &str) -> OutboundRequest {
    OutboundRequest {
        api: Api::Rest,
        method: "GET".into(),
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

#[test]
fn answers_by_route_in_order_and_uses_up_once_rules() {
    let host = FakeHost::install();
    host.on(Api::Rest, "get", "limits")
        .once()
        .json(200, &json!({"first": true}));
    host.on(Api::Rest, "GET", "limits")
        .json(200, &json!({"first": false}));
    host.on(Api::Rest, "GET", "sobjects/*").xml(200, "<x/>");

    let first = send(&get("limits")).unwrap();
    assert_eq!(json_body(&first.body), json!({"first": true}));
    for _ in 0..2 {
        let later = send(&get("limits")).unwrap();
        assert_eq!(json_body(&later.body), json!({"first": false}));
    }
    let prefixed = send(&get("sobjects/Account/001")).unwrap();
    assert_eq!(prefixed.body, b"<x/>");
    assert_eq!(prefixed.headers[0].value, "text/xml;charset=UTF-8");

    let paths: Vec<String> = host.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["limits", "limits", "limits", "sobjects/Account/001"]
    );
}

#[test]
fn closures_answer_or_pass_to_the_next_rule() {
    let host = FakeHost::install();
    let mut seen = 0;
    host.on_send(move |request| {
        seen += 1;
        log(Level::Debug, &format!("closure saw {seen}"));
        (request.path == "odd").then(|| Ok(response(200, "text/plain", format!("{seen}"))))
    });
    host.on_any()
        .fail(fail::unavailable("nothing else answers"));

    assert_eq!(send(&get("odd")).unwrap().body, b"1");
    assert_eq!(
        send(&get("even")).unwrap_err(),
        UpstreamError::Unavailable("nothing else answers".into())
    );
    assert_eq!(send(&get("odd")).unwrap().body, b"3");
    assert_eq!(host.logs().len(), 3);
    assert_eq!(host.logs()[2].message, "closure saw 3");
}

#[test]
fn config_session_and_logs() {
    let host = FakeHost::install();
    assert_eq!(config("greeting"), None);
    host.config("greeting", "hello");
    assert_eq!(config("greeting").as_deref(), Some("hello"));
    assert_eq!(crate::config_or("other", "dflt"), "dflt");

    assert_eq!(session().unwrap(), session_info());
    host.session_error(fail::session_unavailable("login budget spent"));
    assert!(
        matches!(session(), Err(UpstreamError::SessionUnavailable(m)) if m.reason.contains("budget"))
    );

    log(Level::Warn, "careful");
    assert_eq!(
        host.logs(),
        [LogLine {
            level: Level::Warn,
            message: "careful".into()
        }]
    );
    host.clear_history();
    assert!(host.logs().is_empty());
}

#[test]
fn an_unscripted_request_panics_saying_how_to_script_it() {
    let host = FakeHost::install();
    host.on(Api::Rest, "GET", "limits")
        .once()
        .json(200, &json!({}));
    send(&get("limits")).unwrap();
    let panic = std::panic::catch_unwind(|| send(&get("limits"))).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(
        text.contains(r#"host.on(Api::Rest, "GET", "limits")"#),
        "{text}"
    );
    assert!(text.contains("(used up)"), "{text}");
}

#[test]
fn without_a_fake_host_imports_panic_with_the_fix() {
    drop(FakeHost::install());
    let panic = std::panic::catch_unwind(|| config("x")).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.contains("twoway_plugin::config()"), "{text}");
    assert!(text.contains("FakeHost::install()"), "{text}");
}

#[test]
fn a_newer_fake_host_survives_dropping_an_older_one() {
    let old = FakeHost::install();
    let new = FakeHost::install();
    new.config("k", "new");
    drop(old);
    assert_eq!(config("k").as_deref(), Some("new"));
}

#[test]
fn builds_inbound_requests() {
    let r = request("post", "/a/b?x=1&y=2", "body");
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.query.as_str()),
        ("POST", "/a/b", "x=1&y=2")
    );
    assert_eq!(request("GET", "?q=1", "").path, "/");
    let r = json_request("POST", "/", &json!({"a": 1}));
    assert_eq!(r.headers[0].name, "content-type");
    assert_eq!(json_body(&r.body), json!({"a": 1}));
}

#[test]
fn query_first_finds_the_first_record_or_none() {
    let host = FakeHost::install();
    let soql = format!(
        "SELECT Id FROM Contact WHERE Email = {}",
        soql::literal("o'hara@example.com")
    );
    host.on_query(&soql).once().json(
        200,
        &json!({"totalSize": 2, "done": true, "records": [{"Id": "003A"}, {"Id": "003B"}]}),
    );
    host.on_query(&soql)
        .json(200, &json!({"totalSize": 0, "done": true, "records": []}));
    assert_eq!(
        rest::query_first(&soql).unwrap(),
        Some(json!({"Id": "003A"}))
    );
    assert_eq!(rest::query_first(&soql).unwrap(), None);
    let sent = host.requests();
    assert_eq!(
        sent[0].path,
        "query?q=SELECT+Id+FROM+Contact+WHERE+Email+%3D+%27o%5C%27hara%40example.com%27"
    );

    host.on_query("SELECT Bogus FROM Contact").json(
        400,
        &json!([{"errorCode": "INVALID_FIELD", "message": "No such column 'Bogus'"}]),
    );
    assert_eq!(
        rest::query_first("SELECT Bogus FROM Contact").unwrap_err(),
        upstream_fault("INVALID_FIELD", "No such column 'Bogus'")
    );
}

#[test]
fn create_returns_the_id_and_update_patches() {
    let host = FakeHost::install();
    host.on(Api::Rest, "POST", "sobjects/Contact")
        .once()
        .json(201, &json!({"id": "003NEW", "success": true, "errors": []}));
    host.on(Api::Rest, "POST", "sobjects/Contact").json(
        400,
        &json!([{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]", "fields": ["LastName"]}]),
    );
    host.on(Api::Rest, "PATCH", "sobjects/Contact/003NEW")
        .reply(response(204, "application/json", ""));

    let id = rest::create("Contact", &json!({"LastName": "Coyote"})).unwrap();
    assert_eq!(id, "003NEW");
    let sent = &host.requests()[0];
    assert_eq!(json_body(&sent.body), json!({"LastName": "Coyote"}));
    assert!(
        sent.headers
            .iter()
            .any(|h| h.name == "content-type" && h.value == "application/json")
    );

    let e = rest::create("Contact", &json!({})).unwrap_err();
    assert!(
        matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "REQUIRED_FIELD_MISSING"),
        "{e:?}"
    );

    rest::update("Contact", "003NEW", &json!({"Title": "Genius"})).unwrap();
    assert_eq!(host.requests()[2].method, "PATCH");
}

#[test]
fn create_without_an_id_is_an_upstream_fault() {
    let host = FakeHost::install();
    host.on(Api::Rest, "POST", "sobjects/Lead").json(
        201,
        &json!({"success": false, "errors": [{"statusCode": "X"}]}),
    );
    let e = rest::create("Lead", &json!({})).unwrap_err();
    assert!(
        matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "UNKNOWN_EXCEPTION"),
        "{e:?}"
    );
    host.on(Api::Rest, "POST", "sobjects/Account")
        .fail(fail::too_large(10));
    let e = rest::create("Account", &json!({})).unwrap_err();
    assert!(
        matches!(&e, WorkflowError::Upstream(UpstreamError::TooLarge(s)) if s.contains("10-byte")),
        "{e:?}"
    );
}
