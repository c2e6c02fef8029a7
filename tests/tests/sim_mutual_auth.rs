//! Mutual authentication on the simulator: the Certificate Error page for a
//! missing certificate and for each negative certificate of `twoway pki
//! init`, org registration of certificates, a key that does not match its
//! certificate, and the MUTUAL_AUTHENTICATION_FAILED answers on the standard port.

use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client, GLOBEX_PASSWORD,
    GLOBEX_USER, Response, SendError, admin_get, admin_post, certificate_error_page,
    get_user_info_envelope, partner_fault, pki, soap_login, start_sim, xml_text,
};

const NOT_REGISTERED: &str =
    "certificate is not registered as a mutual authentication certificate for this organization";

fn assert_page(response: &Response, reason: &str) {
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("text/html"));
    assert_eq!(response.body, certificate_error_page(reason));
}

async fn get_user_info(client: &Client, base: &str, session: &str) -> Response {
    client
        .soap(
            &format!("{base}/services/Soap/u/62.0"),
            &get_user_info_envelope(session),
        )
        .await
}

async fn rest_query(client: &Client, base: &str, session: &str) -> Response {
    client
        .rest(
            "GET",
            &format!("{base}/services/data/v62.0/query?q=SELECT+Id+FROM+Account"),
            session,
            None,
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_certificate_every_api_gets_the_html_page() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let anonymous = Client::anonymous();
    let reason = "No client certificate provided.";
    assert_page(&get_user_info(&anonymous, &mutual, &session).await, reason);
    assert_page(&rest_query(&anonymous, &mutual, &session).await, reason);
    let versions = anonymous
        .send("GET", &format!("{mutual}/services/data/"), &[], "")
        .await;
    assert_page(&versions, reason);
    let bulk = anonymous
        .send(
            "POST",
            &format!("{mutual}/services/async/62.0/job"),
            &[("x-sfdc-session", session.as_str())],
            "",
        )
        .await;
    assert_page(&bulk, reason);
    // Nothing reached an API.
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_that_do_not_chain_get_the_page_with_the_reason() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let p = pki();
    let cases: [(&str, Client); 5] = [
        (
            "self-signed certificate",
            Client::with_identity(&p.selfsigned_client_fullcert),
        ),
        (
            "certificate has expired",
            Client::with_identity(&p.expired_client_fullcert),
        ),
        (
            "unable to get local issuer certificate",
            Client::with_identity(&p.untrusted_client_fullcert),
        ),
        (
            "unsupported certificate purpose",
            Client::with_identity(&p.codesign_client_fullcert),
        ),
        // The registered leaf, but without the intermediate that links it to the root.
        (
            "unable to get local issuer certificate",
            Client::with_cert_and_key(&p.client, &p.client_key),
        ),
    ];
    for (reason, client) in &cases {
        assert_page(&get_user_info(client, &mutual, &session).await, reason);
        assert_page(&rest_query(client, &mutual, &session).await, reason);
    }
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leaf_with_its_intermediate_in_separate_files_works() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    // client-chain.pem holds the intermediate; present leaf + chain from one temp file.
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("leaf-and-chain.pem");
    let mut pem = std::fs::read(&pki().client).unwrap();
    pem.extend(std::fs::read(&pki().client_chain).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let client = Client::with_cert_and_key(&bundle, &pki().client_key);
    let response = get_user_info(&client, &mutual, &session).await;
    assert_eq!(response.status, 200, "{}", response.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trusted_certificate_must_be_registered_for_the_sessions_org() {
    let sim = start_sim().await;
    let (login, mutual) = (sim.endpoints().login_url(), sim.endpoints().mutual_url());
    let acme = soap_login(&login, ACME_USER, ACME_PASSWORD).await;
    let globex = soap_login(&login, GLOBEX_USER, GLOBEX_PASSWORD).await;
    let client_a = Client::with_identity(&pki().fullcert);
    let client_b = Client::with_identity(&pki().fullcert_b);
    let client_ec = Client::with_identity(&pki().fullcert_ec);

    // client-b chains, but is Globex's: refused for an Acme session, on SOAP and REST.
    assert_page(
        &get_user_info(&client_b, &mutual, &acme).await,
        NOT_REGISTERED,
    );
    assert_page(&rest_query(&client_b, &mutual, &acme).await, NOT_REGISTERED);
    // Acme's certificate is not Globex's.
    assert_page(
        &get_user_info(&client_a, &mutual, &globex).await,
        NOT_REGISTERED,
    );
    // The EC certificate chains but nobody registered it.
    assert_page(
        &get_user_info(&client_ec, &mutual, &acme).await,
        NOT_REGISTERED,
    );
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);

    // Each org's own certificate works.
    let globex_info = get_user_info(&client_b, &mutual, &globex).await;
    assert_eq!(globex_info.status, 200, "{}", globex_info.body);
    assert_eq!(
        xml_text(&globex_info.body, "userName").unwrap(),
        GLOBEX_USER
    );
    let acme_info = get_user_info(&client_a, &mutual, &acme).await;
    assert_eq!(acme_info.status, 200, "{}", acme_info.body);
    let acme_rest = rest_query(&client_a, &mutual, &acme).await;
    assert_eq!(acme_rest.status, 200, "{}", acme_rest.body);
    assert_eq!(
        acme_rest.header("sforce-limit-info"),
        Some("api-usage=2/15000")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_that_does_not_match_its_certificate_fails_the_handshake() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;

    // rustls refuses to build such a client at all.
    assert!(Client::try_with_identity(&pki().mismatched_fullcert).is_err());

    // Forced through, the handshake signature does not verify: the server
    // aborts the handshake, and no request reaches it.
    admin_post(&sim, "/counters/reset").await;
    let forced = Client::with_unchecked_identity(&pki().mismatched_fullcert);
    let result = forced
        .try_send(
            "POST",
            &format!("{mutual}/services/Soap/u/62.0"),
            &[("content-type", "text/xml")],
            get_user_info_envelope(&session),
        )
        .await;
    match result {
        Err(SendError::Tls(_) | SendError::Http(_)) => {}
        other => panic!("expected a failed handshake, got {other:?}"),
    }
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["handshakes"]["mutual"], 0);
    assert_eq!(counters["api_requests"], 0);

    // The simulator keeps serving.
    let good = get_user_info(&Client::with_identity(&pki().fullcert), &mutual, &session).await;
    assert_eq!(good.status, 200, "{}", good.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforced_session_on_the_standard_port_is_refused() {
    let sim = start_sim().await;
    let standard = sim.endpoints().standard_url();
    let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
    let client = Client::anonymous();

    let soap = get_user_info(&client, &standard, &session).await;
    assert_eq!(soap.status, 500);
    assert_eq!(
        soap.body,
        // Verbatim from a captured answer (docs/architecture.md, "Salesforce
        // wire formats").
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:MUTUAL_AUTHENTICATION_FAILED</faultcode><faultstring>MUTUAL_AUTHENTICATION_FAILED: This session could not be mutually authenticated for use with the API</faultstring><detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault"><sf:exceptionCode>MUTUAL_AUTHENTICATION_FAILED</sf:exceptionCode><sf:exceptionMessage>This session could not be mutually authenticated for use with the API</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    );

    let rest = rest_query(&client, &standard, &session).await;
    assert_eq!(rest.status, 401);
    assert_eq!(
        rest.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(
        rest.body,
        r#"[{"message":"This session could not be mutually authenticated for the use with REST API","errorCode":"MUTUAL_AUTHENTICATION_FAILED"}]"#
    );

    // The enterprise endpoint answers in its own fault namespace.
    let enterprise = client
        .soap(
            &format!("{standard}/services/Soap/c/62.0"),
            &format!(
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:enterprise.soap.sforce.com"><soapenv:Header><urn:SessionHeader><urn:sessionId>{session}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#
            ),
        )
        .await;
    assert_eq!(enterprise.status, 500);
    assert_eq!(
        enterprise.body,
        partner_fault(
            "MUTUAL_AUTHENTICATION_FAILED",
            "UnexpectedErrorFault",
            "This session could not be mutually authenticated for use with the API"
        )
        .replace(
            "urn:fault.partner.soap.sforce.com",
            "urn:fault.enterprise.soap.sforce.com"
        )
    );
    // Refused calls are not counted against the org's API requests.
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_is_not_enforced_works_on_both_ports() {
    let sim = start_sim().await;
    let (standard, mutual) = (sim.endpoints().standard_url(), sim.endpoints().mutual_url());
    let session = soap_login(&sim.endpoints().login_url(), ANALYST_USER, ANALYST_PASSWORD).await;

    let soap = get_user_info(&Client::anonymous(), &standard, &session).await;
    assert_eq!(soap.status, 200, "{}", soap.body);
    assert_eq!(xml_text(&soap.body, "userName").unwrap(), ANALYST_USER);
    assert!(soap.body.contains("<LimitInfoHeader><limitInfo><current>1</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader>"));
    let rest = rest_query(&Client::anonymous(), &standard, &session).await;
    assert_eq!(rest.status, 200, "{}", rest.body);
    assert_eq!(rest.header("sforce-limit-info"), Some("api-usage=2/15000"));
    // On the mutual-auth port with Acme's registered certificate, too.
    let via_mutual =
        get_user_info(&Client::with_identity(&pki().fullcert), &mutual, &session).await;
    assert_eq!(via_mutual.status, 200, "{}", via_mutual.body);
}
