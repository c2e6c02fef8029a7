//! Tests of [`super::classify`] on verbatim captures and simulator output.

use super::*;
use twoway_testkit::samples::*;

/// The variant's name, so that the assertions below read as before.
trait Kind {
    fn code(&self) -> &'static str;
}

impl Kind for Outcome {
    fn code(&self) -> &'static str {
        match self {
            Outcome::Answer(Verdict::Success) => "success",
            Outcome::InvalidSession { .. } => "invalid_session",
            Outcome::MutualAuthFailed { .. } => "mutual_authentication_failed",
            Outcome::CertificateRejected { .. } => "client_certificate_rejected",
            Outcome::RequestLimitExceeded { .. } => "request_limit_exceeded",
            Outcome::Answer(Verdict::Fault(_)) | Outcome::Refused { .. } => "upstream_fault",
            Outcome::Answer(Verdict::RestErrors(_)) => "rest_error",
            Outcome::Answer(Verdict::BulkError { .. }) => "bulk_error",
            Outcome::Answer(Verdict::UnexpectedBody { .. }) => "unexpected_body",
        }
    }
}

fn headers(content_type: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
    h
}

fn soap(status: u16, body: &str) -> Outcome {
    classify(
        Api::SoapPartner,
        status,
        &headers("text/xml; charset=utf-8"),
        body.as_bytes(),
    )
}

/// A Bulk API error document.
fn bulk_error(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>{code}</exceptionCode><exceptionMessage>{message}</exceptionMessage></error>"#
    )
}

fn rest(status: u16, body: &str) -> Outcome {
    classify(
        Api::Rest,
        status,
        &headers("application/json;charset=UTF-8"),
        body.as_bytes(),
    )
}

#[test]
fn soap_success() {
    assert_eq!(
        soap(200, GET_USER_INFO_RESPONSE),
        Outcome::Answer(Verdict::Success)
    );
    assert_eq!(soap(200, LOGIN_RESPONSE).code(), "success");
}

#[test]
fn the_seed_certificate_error_page_with_any_status() {
    for (status, ct) in [(400, "text/html"), (200, "text/xml"), (500, "")] {
        let outcome = classify(
            Api::SoapPartner,
            status,
            &headers(ct),
            CERTIFICATE_ERROR_PAGE.as_bytes(),
        );
        assert_eq!(
            outcome,
            Outcome::CertificateRejected {
                reason: "No client certificate provided.".into()
            }
        );
        assert_eq!(outcome.code(), "client_certificate_rejected");
    }
    let rest = classify(
        Api::Rest,
        400,
        &http::HeaderMap::new(),
        CERTIFICATE_ERROR_PAGE.as_bytes(),
    );
    assert!(matches!(rest, Outcome::CertificateRejected { .. }));
    assert!(rest.hint().unwrap().contains("client_identity"));
}

#[test]
fn the_seed_mutual_authentication_fault() {
    let outcome = soap(500, MUTUAL_AUTH_FAILED);
    assert_eq!(
        outcome,
        Outcome::MutualAuthFailed {
            message: "This session could not be mutually authenticated for use with the API".into()
        }
    );
    assert_eq!(outcome.code(), "mutual_authentication_failed");
    assert!(outcome.hint().unwrap().contains("mutual_auth_port"));
}

#[test]
fn invalid_session_in_every_api() {
    assert!(
        matches!(soap(500, INVALID_SESSION), Outcome::InvalidSession { message } if message == "Invalid Session ID found in SessionHeader: Illegal Session")
    );
    let r = rest(
        401,
        r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
    );
    assert_eq!(
        r,
        Outcome::InvalidSession {
            message: "Session expired or invalid".into()
        }
    );
    let r = rest(
        401,
        r#"[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]"#,
    );
    assert_eq!(r.code(), "invalid_session");
    let b = classify(
        Api::Bulk,
        400,
        &headers("text/xml"),
        BULK_INVALID_SESSION.as_bytes(),
    );
    assert_eq!(
        b,
        Outcome::InvalidSession {
            message: "Invalid session id".into()
        }
    );
    let b = classify(
        Api::Bulk,
        400,
        &headers("application/json"),
        br#"{"exceptionCode":"InvalidSessionId","exceptionMessage":"Invalid session id"}"#,
    );
    assert_eq!(b.code(), "invalid_session");
}

#[test]
fn unprefixed_faultcode_in_the_enterprise_namespace() {
    let outcome = classify(
        Api::SoapEnterprise,
        500,
        &headers("text/xml"),
        INVALID_LOGIN_UNPREFIXED.as_bytes(),
    );
    assert_eq!(
        outcome,
        Outcome::Answer(Verdict::Fault(Fault {
            faultcode: "INVALID_LOGIN".into(),
            exception_code: None,
            message: "Invalid username, password, security token; or user locked out.".into(),
        }))
    );
    let unprefixed_session = INVALID_SESSION.replace(
        "sf:INVALID_SESSION_ID</faultcode>",
        "INVALID_SESSION_ID</faultcode>",
    );
    assert_eq!(soap(500, &unprefixed_session).code(), "invalid_session");
}

#[test]
fn other_faults_keep_code_and_message() {
    assert_eq!(
        soap(500, INVALID_LOGIN),
        Outcome::Answer(Verdict::Fault(Fault {
            faultcode: "INVALID_LOGIN".into(),
            exception_code: Some("INVALID_LOGIN".into()),
            message: "Invalid username, password, security token; or user locked out.".into(),
        }))
    );
    let Outcome::Answer(Verdict::Fault(f)) = soap(500, MALFORMED_QUERY) else {
        panic!()
    };
    assert_eq!(
        (f.exception_code.as_deref(), f.message.as_str()),
        (Some("MALFORMED_QUERY"), "unexpected token: FORM")
    );
    let Outcome::Answer(Verdict::Fault(f)) = soap(500, PREMATURE_EOF) else {
        panic!()
    };
    assert_eq!(
        (f.faultcode.as_str(), f.exception_code, f.message.as_str()),
        ("Client", None, "Premature end of file.")
    );
    assert_eq!(soap(500, PREMATURE_EOF).code(), "upstream_fault");
}

#[test]
fn request_limit_in_every_api() {
    let outcome = classify(
        Api::SoapEnterprise,
        500,
        &headers("text/xml"),
        REQUEST_LIMIT.as_bytes(),
    );
    assert_eq!(
        outcome,
        Outcome::RequestLimitExceeded {
            message: "TotalRequests Limit exceeded.".into()
        }
    );
    let r = rest(
        403,
        r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
    );
    assert_eq!(r.code(), "request_limit_exceeded");
    let bulk = &bulk_error("ExceededQuota", "TotalRequests Limit exceeded.");
    assert_eq!(
        classify(Api::Bulk, 400, &headers("text/xml"), bulk.as_bytes()).code(),
        "request_limit_exceeded"
    );
}

#[test]
fn mutual_auth_in_rest_and_bulk() {
    let r = rest(
        401,
        r#"[{"message":"This session could not be mutually authenticated for the use with REST API","errorCode":"MUTUAL_AUTHENTICATION_FAILED"}]"#,
    );
    assert_eq!(
        r,
        Outcome::MutualAuthFailed {
            message: "This session could not be mutually authenticated for the use with REST API"
                .into()
        }
    );
    let bulk = &bulk_error(
        "MutualAuthenticationFailed",
        "This session could not be mutually authenticated for use with the API",
    );
    assert_eq!(
        classify(Api::Bulk, 400, &headers("text/xml"), bulk.as_bytes()).code(),
        "mutual_authentication_failed"
    );
}

#[test]
fn rest_error_arrays() {
    let r = rest(
        400,
        r#"[{"message":"The Id field should not be specified in the sobject data.","errorCode":"INVALID_FIELD"}]"#,
    );
    assert_eq!(
        r,
        Outcome::Answer(Verdict::RestErrors(vec![RestError {
            error_code: "INVALID_FIELD".into(),
            message: "The Id field should not be specified in the sobject data.".into(),
            fields: vec![],
        }]))
    );
    let r = rest(
        400,
        r#"[{"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Name"]}]"#,
    );
    let Outcome::Answer(Verdict::RestErrors(errors)) = r else {
        panic!()
    };
    assert_eq!(errors[0].fields, ["Name"]);
    let expired = rest(
        403,
        r#"[{"message":"The users password has expired, you must call SetPassword before attempting any other API operations","errorCode":"INVALID_OPERATION_WITH_EXPIRED_PASSWORD"}]"#,
    );
    assert_eq!(expired.code(), "rest_error");
    assert_eq!(
        classify(
            Api::ApexRest,
            404,
            &headers("application/json"),
            br#"[{"errorCode":"NOT_FOUND","message":"Could not find a match for URL"}]"#
        )
        .code(),
        "rest_error"
    );
    assert_eq!(rest(204, ""), Outcome::Answer(Verdict::Success));
    assert_eq!(
        rest(
            201,
            r#"{"id":"001D000000IqhSLIAZ","errors":[],"success":true}"#
        ),
        Outcome::Answer(Verdict::Success)
    );
}

#[test]
fn other_bulk_errors() {
    let body = &bulk_error("InvalidJob", "Unable to find the job");
    assert_eq!(
        classify(Api::Bulk, 400, &headers("text/xml"), body.as_bytes()),
        Outcome::Answer(Verdict::BulkError {
            code: "InvalidJob".into(),
            message: "Unable to find the job".into()
        })
    );
}

#[test]
fn unexpected_bodies() {
    let html = "<html><body><h1>Service Unavailable</h1></body></html>";
    let outcome = classify(
        Api::SoapPartner,
        503,
        &headers("text/html"),
        html.as_bytes(),
    );
    assert_eq!(
        outcome,
        Outcome::Answer(Verdict::UnexpectedBody {
            status: 503,
            content_type: "text/html".into(),
            snippet: html.into()
        })
    );
    assert_eq!(
        soap(200, "<html><body>proxy login</body></html>").code(),
        "unexpected_body"
    );
    assert_eq!(soap(500, "Internal error").code(), "unexpected_body");
    assert_eq!(soap(200, "").code(), "unexpected_body");
    assert_eq!(rest(500, "<html>oops</html>").code(), "unexpected_body");
    assert_eq!(
        rest(401, r#"{"unknown":"shape"}"#).code(),
        "unexpected_body"
    );
    let doctype = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&a;</soapenv:Body></soapenv:Envelope>"#;
    assert_eq!(soap(200, doctype).code(), "unexpected_body");
    assert_eq!(soap(500, doctype).code(), "unexpected_body");
}

#[test]
fn snippets_never_show_a_session_id() {
    let body = format!("<html>Your session {LOGIN_SESSION_ID}x was rejected</html>");
    let Outcome::Answer(Verdict::UnexpectedBody { snippet, .. }) = soap(502, &body) else {
        panic!()
    };
    assert!(!snippet.contains("AQQAQ"), "{snippet}");
    let long = "z".repeat(10_000);
    let Outcome::Answer(Verdict::UnexpectedBody { snippet, .. }) = rest(500, &long) else {
        panic!()
    };
    assert!(snippet.chars().count() <= 201);
    let leaky = r#"[{"message":"bad token 00Dx0000000BV7z!AR8AQAxo9UfVkh8","errorCode":"INVALID_AUTH_HEADER"}]"#;
    let Outcome::Answer(Verdict::RestErrors(errors)) = rest(401, leaky) else {
        panic!()
    };
    assert_eq!(errors[0].message, "bad token [redacted]");
}

#[test]
fn hostile_bodies_are_cheap_and_never_panic() {
    let deep = "[".repeat(100_000);
    assert_eq!(rest(400, &deep).code(), "unexpected_body");
    let many = format!("<a>{}</a>", "<b/>".repeat(300_000));
    assert_eq!(soap(500, &many).code(), "unexpected_body");
    let big_ok = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><queryResponse>{}</queryResponse></soapenv:Body></soapenv:Envelope>"#,
        "<r/>".repeat(300_000)
    );
    assert_eq!(soap(200, &big_ok), Outcome::Answer(Verdict::Success));
    for body in [
        &b"\xff\xfe<"[..],
        b"<",
        b"</",
        b"<!--",
        b"<html><title>Certificate Error</title>Client certificate error:<i>",
        b"{",
        b"[{\"errorCode\":1}]",
    ] {
        for api in Api::ALL {
            let _ = classify(api, 500, &http::HeaderMap::new(), body);
        }
    }
}

#[test]
fn every_code_is_snake_case() {
    let outcomes = [
        Outcome::Answer(Verdict::Success),
        soap(500, INVALID_SESSION),
        soap(500, MUTUAL_AUTH_FAILED),
        soap(400, CERTIFICATE_ERROR_PAGE),
        soap(500, REQUEST_LIMIT),
        soap(500, INVALID_LOGIN),
        rest(400, r#"[{"message":"m","errorCode":"X"}]"#),
        Outcome::Answer(Verdict::BulkError {
            code: "InvalidJob".into(),
            message: String::new(),
        }),
        soap(502, "bad gateway"),
    ];
    let mut codes: Vec<_> = outcomes.iter().map(Outcome::code).collect();
    assert!(
        codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    );
    codes.dedup();
    assert_eq!(codes.len(), outcomes.len());
    assert_eq!(
        soap(500, INVALID_LOGIN).to_string(),
        "INVALID_LOGIN: Invalid username, password, security token; or user locked out."
    );
}

#[test]
fn answers_over_the_xml_caps_are_refused_as_upstream_faults() {
    use twoway_testkit::hostile;
    for body in [
        hostile::namespace_heavy_envelope(),
        hostile::attribute_heavy_envelope(),
    ] {
        for status in [200, 500] {
            let outcome = soap(status, &body);
            assert!(
                matches!(&outcome, Outcome::Refused { reason } if reason.contains("line 1")),
                "HTTP {status}: {outcome:?}"
            );
            assert_eq!(outcome.code(), "upstream_fault");
            assert!(!outcome.is_success());
            assert!(
                outcome
                    .to_string()
                    .starts_with("the answer was refused unread: ")
            );
        }
    }
    // REST and Bulk error bodies in XML too.
    let bulk = classify(
        Api::Bulk,
        400,
        &headers("application/xml"),
        hostile::attribute_heavy_envelope().as_bytes(),
    );
    assert_eq!(bulk.code(), "upstream_fault");
    // A large regular answer is still a success.
    let big = hostile::query_response(20 * 1024 * 1024);
    assert_eq!(soap(200, &big), Outcome::Answer(Verdict::Success));
}

#[test]
fn codes_and_fields_are_redacted_too() {
    // Found by fuzzing: a session id glued to a code was shown as it was.
    let sid = "00D5g000004AcmeAAA!AQ0secretsecretsecret";
    let fault = INVALID_LOGIN.replace(
        "<sf:exceptionCode>INVALID_LOGIN",
        &format!("<sf:exceptionCode>INVALID_LOGIN{sid}"),
    );
    let fault = fault.replace(
        "<faultcode>sf:INVALID_LOGIN",
        &format!("<faultcode>sf:X{sid}"),
    );
    let rest_body = format!(r#"[{{"errorCode":"E{sid}","message":"m","fields":["f{sid}"]}}]"#);
    let bulk_body = format!(r#"{{"exceptionCode":"B{sid}","exceptionMessage":"m"}}"#);
    for outcome in [
        soap(500, &fault),
        rest(400, &rest_body),
        classify(
            Api::Bulk,
            400,
            &headers("application/json"),
            bulk_body.as_bytes(),
        ),
        classify(
            Api::SoapPartner,
            500,
            &headers(&format!("text/plain; x={sid}")),
            b"x",
        ),
    ] {
        let text = format!("{outcome} {outcome:?}");
        assert!(!text.contains("AQ0secret"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[test]
fn the_outline_says_what_the_tree_says() {
    let mut bodies: Vec<String> = [
        GET_USER_INFO_RESPONSE,
        GET_USER_INFO_NO_HEADER,
        LOGIN_RESPONSE,
        INVALID_LOGIN,
        INVALID_LOGIN_UNPREFIXED,
        MUTUAL_AUTH_FAILED,
        INVALID_SESSION,
        REQUEST_LIMIT,
        MALFORMED_QUERY,
        PREMATURE_EOF,
        JSFORCE_EMPTY_HEADER,
        BULK_INVALID_SESSION,
        CERTIFICATE_ERROR_PAGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let env = r#"xmlns:s="http://schemas.xmlsoap.org/soap/envelope/""#;
    bodies.extend([
        // Namespaces bound where the outline must resolve them.
        format!(r#"<s:Envelope {env}><s:Body/></s:Envelope>"#),
        r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Fault/></Body></Envelope>"#.into(),
        r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><r xmlns=""/></Body></Envelope>"#.into(),
        r#"<s:Envelope xmlns:s="urn:other"><s:Body/></s:Envelope>"#.into(),
        format!(r#"<s:Envelope {env}><s:Body xmlns:s="urn:other"><x/></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Header/><t:Body xmlns:t="http://schemas.xmlsoap.org/soap/envelope/"><t:Fault/></t:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body><f:Fault xmlns:f="http://schemas.xmlsoap.org/soap/envelope/"><faultcode>x</faultcode></f:Fault></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body><ok/><s:Fault/></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Header><s:Fault/></s:Header></s:Envelope>"#),
        // Broken structure the outline must not vouch for.
        format!(r#"<s:Envelope {env}><s:Body><a></b></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body/></s:Envelope><s:Envelope {env}/>"#),
        format!(r#"<s:Envelope {env}><s:Body><p:x/></s:Body></s:Envelope>"#),
        format!(r#"<s:Envelope {env}><s:Body></s:Body>"#),
        format!(r#"<s:Envelope {env}><s:Body></s:Envelope></s:Body>"#),
        format!(r#"<s:Envelope {env}><s:Body/></s:Envelope>trailing"#),
        format!(r#"leading<s:Envelope {env}><s:Body/></s:Envelope>"#),
        format!("<!-- c --> <s:Envelope {env}><s:Body/></s:Envelope>\n <?pi x?> "),
        r#"<s:Envelope><s:Body/></s:Envelope>"#.into(),
        format!("<s:Envelope {env}>{}</s:Envelope>", "<s:Body/>".repeat(100)),
    ]);
    // Every prefix of a success and a fault: truncated answers.
    for sample in [GET_USER_INFO_RESPONSE, INVALID_SESSION] {
        for end in 0..sample.len() {
            if sample.is_char_boundary(end) {
                bodies.push(sample[..end].to_string());
            }
        }
    }
    for body in &bodies {
        for status in [200, 500] {
            assert_eq!(
                super::soap(status, body.as_bytes()),
                soap_by_tree(status, body.as_bytes(), xml::parse(body.as_bytes())),
                "HTTP {status}: {body}"
            );
        }
    }
}

#[test]
fn faults_read_as_a_workflow_sees_them() {
    let errors = rest(
        400,
        r#"[{"errorCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [Name]","fields":["Name"]},{"errorCode":"INVALID_FIELD","message":"bad"}]"#,
    );
    let Outcome::Answer(verdict) = errors else {
        panic!("an answer: {errors:?}")
    };
    assert_eq!(verdict.label(), "fault");
    assert_eq!(
        verdict.fault(),
        Some((
            "REQUIRED_FIELD_MISSING".into(),
            "Required fields are missing: [Name] (fields: Name); bad".into()
        ))
    );
    let Outcome::Answer(fault) = soap(500, PREMATURE_EOF) else {
        panic!("a fault is an answer")
    };
    assert!(
        matches!(fault.fault(), Some((code, _)) if !code.contains(':')),
        "{fault:?}"
    );
    let Outcome::Answer(html) = rest(503, "<html>down</html>") else {
        panic!("an HTML page is an answer")
    };
    assert_eq!((html.label(), html.fault()), ("unexpected_body", None));
}
