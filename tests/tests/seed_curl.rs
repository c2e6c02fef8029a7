//! The seed's curl session, replayed with the real curl binary against the
//! simulator: SOAP login, getUserInfo over mutual TLS with `-E fullcert.pem`
//! and `--cacert` (never -k), the no-certificate HTML page, and the
//! MUTUAL_AUTHENTICATION_FAILED fault on the standard port.

use std::process::Command;

use twoway_tests::{
    ACME_PASSWORD, ACME_USER, get_user_info_envelope, login_envelope, pki, start_sim, xml_text,
};

struct Curl {
    status: u16,
    content_type: String,
    body: String,
}

/// Runs curl like the seed does, but verifying the server against the test root.
fn curl(url: &str, body: &str, identity: Option<&std::path::Path>) -> Curl {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("request.xml");
    std::fs::write(&data, body).expect("request file");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--cacert"])
        .arg(&pki().root_ca)
        .arg(url)
        .args([
            "-H",
            "Content-Type: text/xml; charset=UTF-8",
            "-H",
            "SOAPAction: example",
        ])
        .arg("-d")
        .arg(format!("@{}", data.display()))
        .args(["-w", "\n%{http_code} %{content_type}"]);
    if let Some(identity) = identity {
        cmd.arg("-E").arg(identity);
    }
    let out = cmd
        .output()
        .expect("the curl binary is needed for this test (scripts/test installs it)");
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (body, trailer) = text.rsplit_once('\n').expect("status trailer");
    let (status, content_type) = trailer.split_once(' ').unwrap_or((trailer, ""));
    Curl {
        status: status.parse().expect("status"),
        content_type: content_type.to_string(),
        body: body.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_session_with_curl() {
    let sim = start_sim().await;
    let endpoints = sim.endpoints();
    let (login_url, standard, mutual) = (
        endpoints.login_url(),
        endpoints.standard_url(),
        endpoints.mutual_url(),
    );

    let run = |url: String, body: String, identity: Option<std::path::PathBuf>| {
        tokio::task::spawn_blocking(move || curl(&url, &body, identity.as_deref()))
    };

    // 1. SOAP login on the login service: a session, and a serverUrl on the standard port.
    let login = run(
        format!("{login_url}/services/Soap/u/41.0"),
        login_envelope(ACME_USER, ACME_PASSWORD),
        None,
    )
    .await
    .unwrap();
    assert_eq!(login.status, 200, "{}", login.body);
    let session = xml_text(&login.body, "sessionId").expect("sessionId");
    assert!(
        session.starts_with("00D5g000004Acme!"),
        "session id is <orgId>!<opaque>"
    );
    let server_url = xml_text(&login.body, "serverUrl").expect("serverUrl");
    assert_eq!(
        server_url,
        format!("{standard}/services/Soap/u/41.0/00D5g000004Acme")
    );
    assert!(
        login
            .body
            .contains("<sessionSecondsValid>7200</sessionSecondsValid>")
    );

    // 2. getUserInfo on the mutual-auth port with -E fullcert.pem: the API answers, with LimitInfoHeader.
    let info = run(
        format!("{mutual}/services/Soap/u/41.0"),
        get_user_info_envelope(&session),
        Some(pki().fullcert.clone()),
    )
    .await
    .unwrap();
    assert_eq!(info.status, 200, "{}", info.body);
    assert!(info.content_type.starts_with("text/xml"));
    assert!(info.body.contains("<getUserInfoResponse><result>"));
    assert!(
        info.body
            .contains("<userName>integration@acme.example</userName>")
    );
    assert!(info.body.contains(
        "<LimitInfoHeader><limitInfo><current>1</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader>"
    ));

    // 3. The same call without a client certificate: HTML, not XML.
    let page = run(
        format!("{mutual}/services/Soap/u/41.0"),
        get_user_info_envelope(&session),
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.status, 400);
    assert!(page.content_type.starts_with("text/html"));
    assert_eq!(
        page.body,
        "<html><head><title>Certificate Error</title></head><body bgcolor=#ffffff text=#3198d8><center><img src=\"http://www.sfdcstatic.com/common/assets/img/logo-company.png\"><p><h3>Client certificate error:<i>No client certificate provided.</i></h3></center></body></html>"
    );

    // 4. The session on the standard port: the MUTUAL_AUTHENTICATION_FAILED fault, HTTP 500.
    let fault = run(
        format!("{standard}/services/Soap/u/41.0"),
        get_user_info_envelope(&session),
        None,
    )
    .await
    .unwrap();
    assert_eq!(fault.status, 500);
    assert_eq!(
        fault.body,
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:MUTUAL_AUTHENTICATION_FAILED</faultcode><faultstring>MUTUAL_AUTHENTICATION_FAILED: This session could not be mutually authenticated for use with the API</faultstring><detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault"><sf:exceptionCode>MUTUAL_AUTHENTICATION_FAILED</sf:exceptionCode><sf:exceptionMessage>This session could not be mutually authenticated for use with the API</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    );

    // The session only counted API calls that reached the API (1 getUserInfo).
    assert_eq!(sim.state().api_usage("00D5g000004Acme").0, 1);
}
