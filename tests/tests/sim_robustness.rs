//! Malformed input to the simulator: empty, DTD-bearing, malformed, non-UTF-8
//! and oversized bodies, bad JSON, a non-TLS client. Each gets a
//! Salesforce-style answer (never a dropped connection or a panic), and the
//! simulator keeps serving afterwards.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use twoway_sim::Sim;
use twoway_tests::{
    ACME_PASSWORD, ACME_USER, Client, Response, client_fault, get_user_info_envelope,
    login_envelope, pki, soap_login, start_sim, start_sim_with,
};

const DOCTYPE_REFUSED: &str = "DOCTYPE is disallowed when the feature &quot;http://apache.org/xml/features/disallow-doctype-decl&quot; set to true.";

async fn post_soap(url: &str, body: impl Into<bytes::Bytes>) -> Response {
    Client::anonymous()
        .send(
            "POST",
            &format!("{url}/services/Soap/u/62.0"),
            &[("content-type", "text/xml; charset=UTF-8")],
            body,
        )
        .await
}

fn assert_client_fault(response: &Response, message: &str) {
    assert_eq!(response.status, 500, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(response.body, client_fault(message));
}

/// A good login and a good API call still work.
async fn assert_still_serving(sim: &Sim) {
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let info = Client::with_identity(&pki().fullcert)
        .soap(
            &format!("{}/services/Soap/u/62.0", sim.endpoints().mutual_url()),
            &get_user_info_envelope(&session),
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_body_is_premature_end_of_file() {
    let sim = start_sim().await;
    let e = sim.endpoints();
    for base in [e.login_url(), e.standard_url()] {
        assert_client_fault(&post_soap(&base, "").await, "Premature end of file.");
        assert_client_fault(&post_soap(&base, "  \n ").await, "Premature end of file.");
    }
    let mutual = Client::with_identity(&pki().fullcert)
        .soap(&format!("{}/services/Soap/u/62.0", e.mutual_url()), "")
        .await;
    assert_client_fault(&mutual, "Premature end of file.");
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doctype_is_refused_and_no_entity_is_expanded() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>&xxe;</n1:username><n1:password>x</n1:password></n1:login></env:Body></env:Envelope>"#;
    let response = post_soap(&login, xxe).await;
    assert_client_fault(&response, DOCTYPE_REFUSED);
    assert!(!response.body.contains("root:"));

    let laughs = format!(
        r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]><lolz>&lol9;</lolz>"#,
        (1..10)
            .map(|i| format!(
                r#"<!ENTITY lol{i} "{}">"#,
                format!("&lol{};", i - 1).repeat(10)
            ))
            .collect::<String>()
            .replace("&lol0;", "&lol;")
    );
    assert_client_fault(&post_soap(&login, laughs).await, DOCTYPE_REFUSED);
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_xml_gets_a_client_fault() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    for body in [
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>",
        "this is not XML",
        "<a><b></a>",
        "<undeclared:Envelope/>",
    ] {
        let response = post_soap(&login, body).await;
        assert_eq!(response.status, 500, "{body}: {}", response.body);
        assert!(
            response.body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>"#),
            "{body}: {}",
            response.body
        );
    }
    // Well-formed, but not a SOAP envelope.
    assert_client_fault(
        &post_soap(
            &login,
            login_envelope(ACME_USER, ACME_PASSWORD)
                .replace("http://schemas.xmlsoap.org/soap/envelope/", "urn:not-soap"),
        )
        .await,
        "Unable to find the SOAP envelope or its Body",
    );
    assert_client_fault(
        &post_soap(&login, &b"<x>\xff\xfe</x>"[..]).await,
        "document is not valid UTF-8",
    );
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_nodes_are_refused() {
    let sim = start_sim().await;
    let body = format!("<a>{}</a>", "<b/>".repeat(200_001));
    assert_client_fault(
        &post_soap(&sim.endpoints().login_url(), body).await,
        "document has more than 200000 nodes",
    );
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_get_413() {
    let sim = start_sim_with(|c| c.limits.max_body_kb = 1).await;
    let e = sim.endpoints();
    let big = "x".repeat(4096);

    let soap = post_soap(&e.login_url(), format!("<a>{big}</a>")).await;
    assert_eq!(soap.status, 413, "{}", soap.body);
    assert_eq!(
        soap.body,
        client_fault("Request body exceeds the simulator&apos;s limit of 1 KiB")
    );

    let session = soap_login(&e.login_url(), ACME_USER, ACME_PASSWORD).await;
    let rest = Client::with_identity(&pki().fullcert)
        .rest(
            "POST",
            &format!("{}/services/data/v62.0/sobjects/Account", e.mutual_url()),
            &session,
            Some(&json!({ "Name": big })),
        )
        .await;
    assert_eq!(rest.status, 413, "{}", rest.body);
    assert_eq!(
        rest.body,
        r#"[{"message":"Request body exceeds the simulator's limit of 1 KiB","errorCode":"REQUEST_TOO_LARGE"}]"#
    );
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gzip_bodies_are_accepted_and_bounded_after_decoding() {
    use std::io::Write;
    let gzip = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let sim = start_sim_with(|c| c.limits.max_body_kb = 64).await;
    let e = sim.endpoints();
    let session = soap_login(&e.login_url(), ACME_USER, ACME_PASSWORD).await;
    let auth = format!("Bearer {session}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let url = format!("{}/services/data/v62.0/sobjects/Account", e.mutual_url());
    let client = Client::with_identity(&pki().fullcert);
    let created = client
        .send("POST", &url, &headers, gzip(br#"{"Name":"Zipped"}"#))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // 100 KB of JSON in 1 KB of gzip: over the limit once decoded.
    let bomb = gzip(
        json!({ "Name": "x".repeat(100 * 1024) })
            .to_string()
            .as_bytes(),
    );
    assert!(bomb.len() < 64 * 1024);
    let refused = client.send("POST", &url, &headers, bomb).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    let broken = client.send("POST", &url, &headers, "not gzip").await;
    assert_eq!(broken.status, 400, "{}", broken.body);
    // WSC's GETs say gzip and send no body, as Salesforce takes them.
    let account = created.json()["id"].as_str().unwrap().to_string();
    let read = client
        .send("GET", &format!("{url}/{account}"), &headers, "")
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_json_gets_json_parser_error() {
    let sim = start_sim().await;
    let e = sim.endpoints();
    let session = soap_login(&e.login_url(), ACME_USER, ACME_PASSWORD).await;
    let client = Client::with_identity(&pki().fullcert);
    let auth = format!("Bearer {session}");
    let post = |path: &'static str, body: &'static str| {
        let (client, auth, base) = (client.clone(), auth.clone(), e.mutual_url());
        async move {
            client
                .send(
                    "POST",
                    &format!("{base}/services/data/v62.0/{path}"),
                    &[
                        ("authorization", auth.as_str()),
                        ("content-type", "application/json"),
                    ],
                    body,
                )
                .await
        }
    };
    for body in ["{not json", "", "{\"Name\": \"unterminated"] {
        let response = post("sobjects/Account", body).await;
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        let error = response.json();
        assert_eq!(error[0]["errorCode"], "JSON_PARSER_ERROR", "{body}");
        assert!(
            error[0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unexpected character in the request body")
        );
    }
    let array = post("sobjects/Account", "[1, 2]").await;
    assert_eq!(array.status, 400);
    assert_eq!(
        array.body,
        r#"[{"message":"Cannot deserialize instance of sObject: the body must be a JSON object","errorCode":"JSON_PARSER_ERROR"}]"#
    );
    let composite = post("composite", "{oops").await;
    assert_eq!(composite.status, 400);
    assert_eq!(
        composite.body,
        r#"[{"message":"The composite request body is not valid JSON","errorCode":"JSON_PARSER_ERROR"}]"#
    );
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_requests_get_answers() {
    let sim = start_sim().await;
    let e = sim.endpoints();
    let anonymous = Client::anonymous();
    let unknown = anonymous
        .send(
            "GET",
            &format!("{}/no/such/path", e.standard_url()),
            &[],
            "",
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body,
        r#"[{"message":"The requested resource does not exist","errorCode":"NOT_FOUND"}]"#
    );
    // REST is not served by the login service.
    let on_login = anonymous
        .send("GET", &format!("{}/services/data/", e.login_url()), &[], "")
        .await;
    assert_eq!(on_login.status, 404);
    let get_token = anonymous
        .send(
            "GET",
            &format!("{}/services/oauth2/token", e.login_url()),
            &[],
            "",
        )
        .await;
    assert_eq!(get_token.status, 405, "{}", get_token.body);
    let garbage_form = anonymous
        .send(
            "POST",
            &format!("{}/services/oauth2/token", e.login_url()),
            &[],
            &b"\xff\x00=&&=="[..],
        )
        .await;
    assert_eq!(garbage_form.status, 400);
    assert_eq!(
        garbage_form.body,
        r#"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"#
    );
    assert_still_serving(&sim).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_speak_tls_is_dropped() {
    let sim = start_sim().await;
    for addr in [sim.endpoints().mutual, sim.endpoints().login] {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        // The server closes the connection (possibly after a TLS alert).
        let _ = tcp.read_to_end(&mut buf).await;
        assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1"));
    }
    let counters = twoway_tests::admin_get(&sim, "/counters").await;
    assert_eq!(counters["handshakes"]["mutual"], 0);
    assert_still_serving(&sim).await;
}
