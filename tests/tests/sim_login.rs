//! SOAP login on the simulator: the partner and enterprise loginResponse
//! shapes, INVALID_LOGIN, LOGIN_MUST_USE_SECURITY_TOKEN, lockout and unlock,
//! LOGIN_RATE_EXCEEDED, where login is served (login and standard ports, not
//! the mutual-auth port unless configured), API calls on the login port,
//! and a slow login service (`login_delay_ms`).

use twoway_tests::{
    ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client, Response,
    admin_get, admin_post, certificate_error_page, child_names, client_fault,
    get_user_info_envelope, login_envelope, partner_fault, pki, start_sim, start_sim_with,
    xml_text,
};

const USER_INFO_ORDER: &[&str] = &[
    "accessibilityMode",
    "chatterExternal",
    "currencySymbol",
    "orgAttachmentFileSizeLimit",
    "orgDefaultCurrencyIsoCode",
    "orgDefaultCurrencyLocale",
    "orgDisallowHtmlAttachments",
    "orgHasPersonAccounts",
    "organizationId",
    "organizationMultiCurrency",
    "organizationName",
    "profileId",
    "roleId",
    "sessionSecondsValid",
    "userDefaultCurrencyIsoCode",
    "userEmail",
    "userFullName",
    "userId",
    "userLanguage",
    "userLocale",
    "userName",
    "userTimeZone",
    "userType",
    "userUiSkin",
];

const RESULT_ORDER: &[&str] = &[
    "metadataServerUrl",
    "passwordExpired",
    "sandbox",
    "serverUrl",
    "sessionId",
    "userId",
    "userInfo",
];

fn invalid_login() -> String {
    // Verbatim from a captured answer (the Trino fixture and the Perl mock
    // agree; docs/architecture.md, "Salesforce wire formats").
    r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#.to_string()
}

async fn login_at(url: &str, username: &str, password: &str) -> Response {
    Client::anonymous()
        .soap(
            &format!("{url}/services/Soap/u/62.0"),
            &login_envelope(username, password),
        )
        .await
}

fn assert_fault(response: &Response, expected: &str) {
    assert_eq!(response.status, 500, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(response.body, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn partner_login_returns_the_documented_login_response() {
    let sim = start_sim().await;
    let (login, standard) = (sim.endpoints().login_url(), sim.endpoints().standard_url());
    let response = login_at(&login, ACME_USER, ACME_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    let body = &response.body;
    assert!(body.starts_with(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>"#
    ), "{body}");
    assert!(
        body.ends_with("</userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>")
    );
    // LoginResult carries no LimitInfoHeader (nor any header at all).
    assert!(!body.contains("Header"), "{body}");
    assert_eq!(child_names(body, "result"), RESULT_ORDER);
    assert_eq!(child_names(body, "userInfo"), USER_INFO_ORDER);

    assert_eq!(
        xml_text(body, "serverUrl").unwrap(),
        format!("{standard}/services/Soap/u/62.0/{ACME_ORG}")
    );
    assert_eq!(
        xml_text(body, "metadataServerUrl").unwrap(),
        format!("{standard}/services/Soap/m/62.0/{ACME_ORG}")
    );
    let session = xml_text(body, "sessionId").unwrap();
    let (org, opaque) = session.split_once('!').expect("<orgId>!<opaque>");
    assert_eq!(org, ACME_ORG);
    assert!(opaque.len() >= 16 && opaque.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(body.contains("<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"));

    let user_id = xml_text(body, "userId").unwrap();
    assert_eq!(user_id.len(), 18);
    assert!(user_id.starts_with("005"));
    let org18 = xml_text(body, "organizationId").unwrap();
    assert_eq!(org18.len(), 18);
    assert!(org18.starts_with(ACME_ORG));
    for fragment in [
        "<organizationName>Acme</organizationName>",
        "<roleId xsi:nil=\"true\"/>",
        "<sessionSecondsValid>7200</sessionSecondsValid>",
        "<userDefaultCurrencyIsoCode xsi:nil=\"true\"/>",
        "<userEmail>integration@acme.example</userEmail>",
        "<userFullName>Acme Integration</userFullName>",
        "<userName>integration@acme.example</userName>",
        "<userType>Standard</userType>",
    ] {
        assert!(body.contains(fragment), "missing {fragment} in {body}");
    }
    // userInfo's userId is the result's userId.
    assert!(body.contains(&format!(
        "<userFullName>Acme Integration</userFullName><userId>{user_id}</userId>"
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn enterprise_login_answers_in_the_enterprise_namespace() {
    let sim = start_sim().await;
    let (login, standard) = (sim.endpoints().login_url(), sim.endpoints().standard_url());
    let envelope = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:enterprise.soap.sforce.com"><soapenv:Header/><soapenv:Body><urn:login><urn:username>{ACME_USER}</urn:username><urn:password>{ACME_PASSWORD}</urn:password></urn:login></soapenv:Body></soapenv:Envelope>"#
    );
    let response = Client::anonymous()
        .soap(&format!("{login}/services/Soap/c/62.0"), &envelope)
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.starts_with(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:enterprise.soap.sforce.com" xmlns:sf="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>"#
    ), "{}", response.body);
    assert_eq!(child_names(&response.body, "result"), RESULT_ORDER);
    // Enterprise serverUrl adds a segment after the org id.
    let server_url = xml_text(&response.body, "serverUrl").unwrap();
    let tail = server_url
        .strip_prefix(&format!("{standard}/services/Soap/c/62.0/{ACME_ORG}/"))
        .unwrap_or_else(|| panic!("serverUrl {server_url}"));
    assert!(tail.starts_with("0DF") && tail.len() == 15, "{tail}");
    let session = xml_text(&response.body, "sessionId").unwrap();
    assert!(session.starts_with(&format!("{ACME_ORG}!")));

    // A partner login posted to the enterprise endpoint names the operation it cannot find.
    let wrong = Client::anonymous()
        .soap(
            &format!("{login}/services/Soap/c/62.0"),
            &login_envelope(ACME_USER, ACME_PASSWORD),
        )
        .await;
    assert_fault(
        &wrong,
        &client_fault("No operation available for request {urn:partner.soap.sforce.com}login"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_parses_by_namespace_whatever_the_prefixes() {
    let sim = start_sim().await;
    // jsforce's envelope: `se:` prefix, empty Header, default namespace on login.
    let jsforce = format!(
        r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><login xmlns="urn:partner.soap.sforce.com"><username>{ACME_USER}</username><password>{ACME_PASSWORD}</password></login></se:Body></se:Envelope>"#
    );
    let response = Client::anonymous()
        .soap(
            &format!("{}/services/Soap/u/62.0", sim.endpoints().login_url()),
            &jsforce,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        xml_text(&response.body, "sessionId")
            .unwrap()
            .starts_with(ACME_ORG)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_login_service_answers_after_its_delay() {
    let sim = start_sim_with(|c| c.limits.login_delay_ms = 400).await;
    let started = std::time::Instant::now();
    let response = login_at(&sim.endpoints().login_url(), ANALYST_USER, ANALYST_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_also_works_on_the_standard_port() {
    let sim = start_sim().await;
    let standard = sim.endpoints().standard_url();
    let response = login_at(&standard, ANALYST_USER, ANALYST_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        xml_text(&response.body, "serverUrl").unwrap(),
        format!("{standard}/services/Soap/u/62.0/{ACME_ORG}")
    );
    assert!(
        response
            .body
            .contains("<userName>analyst@acme.example</userName>")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_get_the_exact_invalid_login_fault() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    assert_fault(
        &login_at(&login, ACME_USER, "wrong-passwordACMETOKEN").await,
        &invalid_login(),
    );
    assert_fault(
        &login_at(&login, "nobody@acme.example", "x").await,
        &invalid_login(),
    );
    assert_fault(&login_at(&login, ACME_USER, "").await, &invalid_login());
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["logins"], 0);
    assert_eq!(counters["login_failures"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_without_the_security_token_must_use_it() {
    let sim = start_sim().await;
    let response = login_at(&sim.endpoints().login_url(), ACME_USER, "acme-password").await;
    assert_fault(
        &response,
        &partner_fault(
            "LOGIN_MUST_USE_SECURITY_TOKEN",
            "LoginFault",
            "Invalid username, password, security token; or user locked out. Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company\u{2019}s trusted networks, you must add a security token to your password to log in. To get your new security token, log in to Salesforce. From your personal settings, enter Reset My Security Token in the Quick Find box, then select Reset My Security Token.",
        ),
    );
    // A user without a security token logs in with the bare password.
    let analyst = login_at(&sim.endpoints().login_url(), ANALYST_USER, ANALYST_PASSWORD).await;
    assert_eq!(analyst.status, 200, "{}", analyst.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_lock_the_user_out_until_unlocked() {
    let sim = start_sim_with(|c| c.limits.lockout_after_failures = 3).await;
    let login = sim.endpoints().login_url();
    for _ in 0..3 {
        assert_fault(
            &login_at(&login, ACME_USER, "guess").await,
            &invalid_login(),
        );
    }
    // Locked out: even the right password fails, with the same fault.
    assert_fault(
        &login_at(&login, ACME_USER, ACME_PASSWORD).await,
        &invalid_login(),
    );
    // Other users are not affected.
    assert_eq!(
        login_at(&login, ANALYST_USER, ANALYST_PASSWORD)
            .await
            .status,
        200
    );

    assert_eq!(admin_post(&sim, "/users/unlock").await["unlocked"], true);
    let response = login_at(&login, ACME_USER, ACME_PASSWORD).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        admin_get(&sim, "/counters").await["logins_by_user"][ACME_USER],
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_success_resets_the_failure_count() {
    let sim = start_sim_with(|c| c.limits.lockout_after_failures = 2).await;
    let login = sim.endpoints().login_url();
    assert_fault(
        &login_at(&login, ACME_USER, "guess").await,
        &invalid_login(),
    );
    assert_eq!(login_at(&login, ACME_USER, ACME_PASSWORD).await.status, 200);
    assert_fault(
        &login_at(&login, ACME_USER, "guess").await,
        &invalid_login(),
    );
    assert_eq!(login_at(&login, ACME_USER, ACME_PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_logins_in_an_hour_are_refused_per_user() {
    let sim = start_sim_with(|c| c.limits.logins_per_hour = 2).await;
    let login = sim.endpoints().login_url();
    for _ in 0..2 {
        assert_eq!(login_at(&login, ACME_USER, ACME_PASSWORD).await.status, 200);
    }
    let refused = login_at(&login, ACME_USER, ACME_PASSWORD).await;
    assert_fault(
        &refused,
        &partner_fault("LOGIN_RATE_EXCEEDED", "LoginFault", "Login Rate Exceeded."),
    );
    // The budget is per user.
    assert_eq!(
        login_at(&login, ANALYST_USER, ANALYST_PASSWORD)
            .await
            .status,
        200
    );
    let counters = admin_get(&sim, "/counters").await;
    assert_eq!(counters["logins_by_user"][ACME_USER], 2);
    assert_eq!(counters["logins"], 3);

    admin_post(&sim, "/users/unlock").await;
    assert_eq!(login_at(&login, ACME_USER, ACME_PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_is_refused_on_the_mutual_auth_port() {
    let sim = start_sim().await;
    let mutual = sim.endpoints().mutual_url();
    let url = format!("{mutual}/services/Soap/u/62.0");
    let envelope = login_envelope(ACME_USER, ACME_PASSWORD);

    let with_cert = Client::with_identity(&pki().fullcert)
        .soap(&url, &envelope)
        .await;
    assert_fault(
        &with_cert,
        &client_fault("No operation available for request {urn:partner.soap.sforce.com}login"),
    );
    let without = Client::anonymous().soap(&url, &envelope).await;
    assert_eq!(without.status, 400);
    assert_eq!(
        without.body,
        certificate_error_page("No client certificate provided.")
    );
    assert_eq!(admin_get(&sim, "/counters").await["logins"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_on_the_mutual_auth_port_when_configured() {
    let sim = start_sim_with(|c| c.limits.allow_login_on_mutual_port = true).await;
    let (mutual, standard) = (sim.endpoints().mutual_url(), sim.endpoints().standard_url());
    let client = Client::with_identity(&pki().fullcert);
    let response = client
        .soap(
            &format!("{mutual}/services/Soap/u/62.0"),
            &login_envelope(ACME_USER, ACME_PASSWORD),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    // The serverUrl is still the standard port's; clients rewrite the port.
    assert_eq!(
        xml_text(&response.body, "serverUrl").unwrap(),
        format!("{standard}/services/Soap/u/62.0/{ACME_ORG}")
    );
    let session = xml_text(&response.body, "sessionId").unwrap();
    let info = client
        .soap(
            &format!("{mutual}/services/Soap/u/62.0"),
            &get_user_info_envelope(&session),
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_calls_on_the_login_port_say_the_destination_was_not_reset() {
    let sim = start_sim().await;
    let login = sim.endpoints().login_url();
    let session = twoway_tests::soap_login(&login, ANALYST_USER, ANALYST_PASSWORD).await;
    let response = Client::anonymous()
        .soap(
            &format!("{login}/services/Soap/u/62.0"),
            &get_user_info_envelope(&session),
        )
        .await;
    assert_fault(
        &response,
        &partner_fault(
            "UNKNOWN_EXCEPTION",
            "UnexpectedErrorFault",
            "Destination URL not reset. The URL returned from login must be set in the SforceService",
        ),
    );
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
}
