//! The simulator's SOAP API over mutual TLS: getUserInfo, query (partner and
//! enterprise shapes), queryMore, query faults, create/update/upsert/delete
//! save results, LimitInfoHeader on every success, and INVALID_SESSION_ID for
//! unknown, missing and expired sessions.

use twoway_sim::Sim;
use twoway_tests::{
    ACME_ACCOUNTS, ACME_ORG, ACME_PASSWORD, ACME_USER, ANALYST_PASSWORD, ANALYST_USER, Client,
    Response, admin_post, api_envelope, child_names, client_fault, get_user_info_envelope,
    invalid_session_fault, partner_fault, pki, soap_login, start_sim, start_sim_with, xml_text,
    xml_texts,
};

/// A logged-in Acme integration user talking SOAP on the mutual-auth port.
struct Api {
    client: Client,
    url: String,
    enterprise_url: String,
    session: String,
}

impl Api {
    async fn new(sim: &Sim) -> Self {
        let session = soap_login(&sim.endpoints().login_url(), ACME_USER, ACME_PASSWORD).await;
        Self::with_session(sim, session)
    }

    fn with_session(sim: &Sim, session: String) -> Self {
        let mutual = sim.endpoints().mutual_url();
        Self {
            client: Client::with_identity(&pki().fullcert),
            // The serverUrl path, with the port rewritten to the mutual-auth port.
            url: format!("{mutual}/services/Soap/u/62.0/{ACME_ORG}"),
            enterprise_url: format!("{mutual}/services/Soap/c/62.0/{ACME_ORG}/0DF000000000001"),
            session,
        }
    }

    async fn call(&self, operation: &str) -> Response {
        self.client
            .soap(&self.url, &api_envelope(&self.session, operation))
            .await
    }

    async fn enterprise(&self, operation: &str) -> Response {
        self.client
            .soap(
                &self.enterprise_url,
                &enterprise_envelope(&self.session, operation),
            )
            .await
    }

    async fn query(&self, soql: &str) -> Response {
        self.call(&format!(
            "<urn:query><urn:queryString>{soql}</urn:queryString></urn:query>"
        ))
        .await
    }
}

fn enterprise_envelope(session: &str, operation: &str) -> String {
    format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:enterprise.soap.sforce.com" xmlns:urn1="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><urn:SessionHeader><urn:sessionId>{session}</urn:sessionId></urn:SessionHeader></soapenv:Header><soapenv:Body>{operation}</soapenv:Body></soapenv:Envelope>"#
    )
}

fn limit_info(current: u64) -> String {
    format!(
        "<soapenv:Header><LimitInfoHeader><limitInfo><current>{current}</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>"
    )
}

/// A whole successful partner response: envelope, LimitInfoHeader, `body`.
fn partner_ok(current: u64, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#,
        limit_info(current)
    )
}

fn enterprise_ok(current: u64, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:enterprise.soap.sforce.com" xmlns:sf="urn:sobject.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#,
        limit_info(current)
    )
}

fn assert_ok(response: &Response, expected: &str) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(response.body, expected);
}

fn assert_fault(response: &Response, expected: &str) {
    assert_eq!(response.status, 500, "{}", response.body);
    assert_eq!(response.body, expected);
}

/// The first `<id>` of a save result.
fn saved_id(response: &Response) -> String {
    xml_text(&response.body, "id").expect("an id")
}

#[tokio::test(flavor = "multi_thread")]
async fn get_user_info_answers_with_the_user_info_and_limit_info() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let response = api.call("<urn:getUserInfo/>").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(response.body.contains(&format!(
        "{}<soapenv:Body><getUserInfoResponse><result><accessibilityMode>false</accessibilityMode>",
        limit_info(1)
    )));
    assert_eq!(child_names(&response.body, "result").len(), 24);
    assert_eq!(xml_text(&response.body, "userName").unwrap(), ACME_USER);
    assert_eq!(
        xml_text(&response.body, "userFullName").unwrap(),
        "Acme Integration"
    );
    assert_eq!(
        xml_text(&response.body, "sessionSecondsValid").unwrap(),
        "7200"
    );
    assert!(
        xml_text(&response.body, "organizationId")
            .unwrap()
            .starts_with(ACME_ORG)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn partner_query_writes_records_with_a_duplicated_id() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let response = api
        .query("SELECT Id, Name, BillingCity FROM Account WHERE Industry = 'Transportation' AND BillingCity = 'Phoenix'")
        .await;
    let id = xml_texts(&response.body, "Id")[0].clone();
    assert!(id.starts_with("001") && id.len() == 18, "{id}");
    assert_ok(
        &response,
        &partner_ok(
            1,
            &format!(
                r#"<queryResponse><result xsi:type="QueryResult"><done>true</done><queryLocator xsi:nil="true"/><records xsi:type="sf:sObject"><sf:type>Account</sf:type><sf:Id>{id}</sf:Id><sf:Id>{id}</sf:Id><sf:Name>Road Runner Logistics</sf:Name><sf:BillingCity>Phoenix</sf:BillingCity></records><size>1</size></result></queryResponse>"#
            ),
        ),
    );

    // Without Id selected the sObject's own Id is nil; a null field is nil too.
    let response = api
        .query("select Name, Phone from Account where AccountNumber = 'ACME-0001'")
        .await;
    assert_ok(
        &response,
        &partner_ok(
            2,
            r#"<queryResponse><result xsi:type="QueryResult"><done>true</done><queryLocator xsi:nil="true"/><records xsi:type="sf:sObject"><sf:type>Account</sf:type><sf:Id xsi:nil="true"/><sf:Name>Acme Corporation</sf:Name><sf:Phone xsi:nil="true"/></records><size>1</size></result></queryResponse>"#,
        ),
    );

    // LIMIT, and no match at all.
    let limited = api.query("SELECT Name FROM Account LIMIT 2").await;
    assert_eq!(xml_text(&limited.body, "size").unwrap(), "2");
    assert_eq!(xml_texts(&limited.body, "Name").len(), 2);
    let none = api
        .query("SELECT Name FROM Account WHERE Name = 'Nobody'")
        .await;
    assert_ok(
        &none,
        &partner_ok(
            4,
            r#"<queryResponse><result xsi:type="QueryResult"><done>true</done><queryLocator xsi:nil="true"/><size>0</size></result></queryResponse>"#,
        ),
    );
    // Another org's records are not visible.
    let globex = api
        .query("SELECT Name FROM Account WHERE Name = 'Globex Corporation'")
        .await;
    assert_eq!(xml_text(&globex.body, "size").unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn enterprise_query_types_records_by_object() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let response = api
        .enterprise("<urn:query><urn:queryString>SELECT Id, LastName, Email FROM Contact</urn:queryString></urn:query>")
        .await;
    let id = xml_texts(&response.body, "Id")[0].clone();
    assert!(id.starts_with("003"), "{id}");
    assert_ok(
        &response,
        &enterprise_ok(
            1,
            &format!(
                r#"<queryResponse><result><done>true</done><queryLocator xsi:nil="true"/><records xsi:type="sf:Contact"><sf:Id>{id}</sf:Id><sf:LastName>Coyote</sf:LastName><sf:Email>wile@coyote.example</sf:Email></records><size>1</size></result></queryResponse>"#
            ),
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_more_pages_through_a_small_batch_size() {
    let sim = start_sim_with(|c| c.limits.query_batch_size = 2).await;
    let api = Api::new(&sim).await;
    let first = api.query("SELECT Id, Name FROM Account").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(xml_text(&first.body, "done").unwrap(), "false");
    assert_eq!(xml_text(&first.body, "size").unwrap(), "3");
    assert_eq!(xml_texts(&first.body, "records").len(), 2);
    let locator = xml_text(&first.body, "queryLocator").unwrap();
    let (cursor, offset) = locator.rsplit_once('-').expect("locator-offset");
    assert!(cursor.len() == 18 && cursor.starts_with("01g"), "{cursor}");
    assert_eq!(offset, "2");

    let more = api
        .call(&format!(
            "<urn:queryMore><urn:queryLocator>{locator}</urn:queryLocator></urn:queryMore>"
        ))
        .await;
    assert_eq!(more.status, 200, "{}", more.body);
    assert!(more.body.contains(&format!(
        r#"{}<soapenv:Body><queryMoreResponse><result xsi:type="QueryResult"><done>true</done><queryLocator xsi:nil="true"/><records xsi:type="sf:sObject"><sf:type>Account</sf:type>"#,
        limit_info(2)
    )));
    assert!(more.body.ends_with(
        "<size>3</size></result></queryMoreResponse></soapenv:Body></soapenv:Envelope>"
    ));
    let mut names = xml_texts(&first.body, "Name");
    names.extend(xml_texts(&more.body, "Name"));
    names.sort();
    let mut expected = ACME_ACCOUNTS;
    expected.sort();
    assert_eq!(names, expected);

    for bad in ["nonsense", "01gAAAAAAAAAAAAAAA-2", &format!("{cursor}-99")] {
        let response = api
            .call(&format!(
                "<urn:queryMore><urn:queryLocator>{bad}</urn:queryLocator></urn:queryMore>"
            ))
            .await;
        assert_fault(
            &response,
            &partner_fault(
                "INVALID_QUERY_LOCATOR",
                "InvalidQueryLocatorFault",
                "invalid query locator",
            ),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_get_typed_faults() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    // Messages are Salesforce's (the query, a caret, row and column),
    // XML-escaped as Salesforce writes them (&apos;).
    let rendered = |query: &str, column: usize, message: &str| {
        format!(
            "\n{query}\n{}^\nERROR at Row:1:Column:{column}\n{message}",
            " ".repeat(column - 1)
        )
        .replace('\'', "&apos;")
    };
    assert_fault(
        &api.query("SELECT FROM Account").await,
        &partner_fault(
            "MALFORMED_QUERY",
            "MalformedQueryFault",
            &rendered("SELECT FROM Account", 8, "unexpected token: 'FROM'"),
        ),
    );
    assert_fault(
        &api.query("SELECT Id FROM Account ORDER Name").await,
        &partner_fault(
            "MALFORMED_QUERY",
            "MalformedQueryFault",
            &rendered(
                "SELECT Id FROM Account ORDER Name",
                30,
                "unexpected token: 'Name'",
            ),
        ),
    );
    assert_fault(
        &api.query("SELECT Bogus FROM Account").await,
        &partner_fault(
            "INVALID_FIELD",
            "InvalidFieldFault",
            &rendered(
                "SELECT Bogus FROM Account",
                8,
                "No such column 'Bogus' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
            ),
        ),
    );
    assert_fault(
        &api.query("SELECT Id FROM Bogus").await,
        &partner_fault(
            "INVALID_TYPE",
            "InvalidSObjectFault",
            &rendered(
                "SELECT Id FROM Bogus",
                16,
                "sObject type 'Bogus' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
            ),
        ),
    );
    // An operation the API does not have.
    assert_fault(
        &api.call("<urn:describeEverything/>").await,
        &client_fault(
            "No operation available for request {urn:partner.soap.sforce.com}describeEverything",
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_returns_save_results_per_object() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let response = api
        .call("<urn:create><urn:sObjects><urn1:type>Account</urn1:type><urn1:Name>Acme Rockets</urn1:Name><urn1:Industry>Aerospace</urn1:Industry></urn:sObjects><urn:sObjects><urn1:type>Account</urn1:type><urn1:Industry>Nameless</urn1:Industry></urn:sObjects><urn:sObjects><urn1:type>Account</urn1:type><urn1:Name>X</urn1:Name><urn1:Color>red</urn1:Color></urn:sObjects></urn:create>")
        .await;
    let id = saved_id(&response);
    assert!(id.starts_with("001") && id.len() == 18, "{id}");
    assert_ok(
        &response,
        &partner_ok(
            1,
            &format!(
                r#"<createResponse><result><id>{id}</id><success>true</success></result><result><errors><fields>Name</fields><message>Required fields are missing: [Name]</message><statusCode>REQUIRED_FIELD_MISSING</statusCode></errors><id xsi:nil="true"/><success>false</success></result><result><errors><fields>Color</fields><message>No such column &apos;Color&apos; on sobject of type Account</message><statusCode>INVALID_FIELD</statusCode></errors><id xsi:nil="true"/><success>false</success></result></createResponse>"#
            ),
        ),
    );
    let back = api
        .query(&format!(
            "SELECT Name, Industry FROM Account WHERE Id = '{id}'"
        ))
        .await;
    assert!(
        back.body
            .contains("<sf:Name>Acme Rockets</sf:Name><sf:Industry>Aerospace</sf:Industry>")
    );
    // Only the valid object was created.
    let all = api.query("SELECT Id FROM Account").await;
    assert_eq!(xml_text(&all.body, "size").unwrap(), "4");

    // An enterprise create names its type with xsi:type.
    let lead = api
        .enterprise(r#"<urn:create><urn:sObjects xsi:type="urn1:Lead"><urn1:LastName>Fudd</urn1:LastName><urn1:Company>Hunting Co</urn1:Company></urn:sObjects></urn:create>"#)
        .await;
    let lead_id = saved_id(&lead);
    assert!(lead_id.starts_with("00Q"), "{lead_id}");
    assert_ok(
        &lead,
        &enterprise_ok(
            4,
            &format!(
                "<createResponse><result><id>{lead_id}</id><success>true</success></result></createResponse>"
            ),
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_upsert_and_delete() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let created = api
        .call("<urn:create><urn:sObjects><urn1:type>Account</urn1:type><urn1:Name>Before</urn1:Name></urn:sObjects></urn:create>")
        .await;
    let id = saved_id(&created);

    let updated = api
        .call(&format!("<urn:update><urn:sObjects><urn1:type>Account</urn1:type><urn1:Id>{id}</urn1:Id><urn1:Name>After</urn1:Name><urn1:Phone>555-0100</urn1:Phone></urn:sObjects></urn:update>"))
        .await;
    assert_ok(
        &updated,
        &partner_ok(
            2,
            &format!(
                "<updateResponse><result><id>{id}</id><success>true</success></result></updateResponse>"
            ),
        ),
    );
    let back = api
        .query(&format!(
            "SELECT Name, Phone FROM Account WHERE Id = '{id}'"
        ))
        .await;
    assert!(
        back.body
            .contains("<sf:Name>After</sf:Name><sf:Phone>555-0100</sf:Phone>")
    );
    let no_id = api
        .call("<urn:update><urn:sObjects><urn1:type>Account</urn1:type><urn1:Name>X</urn1:Name></urn:sObjects></urn:update>")
        .await;
    assert!(no_id.body.contains(r#"<updateResponse><result><errors><message>Id not specified in an update call</message><statusCode>MISSING_ARGUMENT</statusCode></errors><id xsi:nil="true"/><success>false</success></result></updateResponse>"#), "{}", no_id.body);

    let upsert = "<urn:upsert><urn:externalIDFieldName>External_Id__c</urn:externalIDFieldName><urn:sObjects><urn1:type>Account</urn1:type><urn1:Name>Upserted</urn1:Name><urn1:External_Id__c>ext-9</urn1:External_Id__c></urn:sObjects></urn:upsert>";
    let first = api.call(upsert).await;
    let upserted = saved_id(&first);
    assert_ok(
        &first,
        &partner_ok(
            5,
            &format!(
                "<upsertResponse><result><created>true</created><id>{upserted}</id><success>true</success></result></upsertResponse>"
            ),
        ),
    );
    let second = api
        .call(&upsert.replace("Upserted", "Upserted again"))
        .await;
    assert_ok(
        &second,
        &partner_ok(
            6,
            &format!(
                "<upsertResponse><result><created>false</created><id>{upserted}</id><success>true</success></result></upsertResponse>"
            ),
        ),
    );
    let back = api
        .query("SELECT Name FROM Account WHERE External_Id__c = 'ext-9'")
        .await;
    assert_eq!(xml_texts(&back.body, "Name"), ["Upserted again"]);

    let delete = format!("<urn:delete><urn:ids>{id}</urn:ids></urn:delete>");
    assert_ok(
        &api.call(&delete).await,
        &partner_ok(
            8,
            &format!(
                "<deleteResponse><result><id>{id}</id><success>true</success></result></deleteResponse>"
            ),
        ),
    );
    assert_ok(
        &api.call(&delete).await,
        &partner_ok(
            9,
            r#"<deleteResponse><result><errors><message>entity is deleted</message><statusCode>ENTITY_IS_DELETED</statusCode></errors><id xsi:nil="true"/><success>false</success></result></deleteResponse>"#,
        ),
    );
    let gone = api
        .query(&format!("SELECT Name FROM Account WHERE Id = '{id}'"))
        .await;
    assert_eq!(xml_text(&gone.body, "size").unwrap(), "0");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_success_carries_a_counting_limit_info_header() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let calls = [
        "<urn:getUserInfo/>",
        "<urn:query><urn:queryString>SELECT Id FROM Lead</urn:queryString></urn:query>",
        "<urn:create><urn:sObjects><urn1:type>Contact</urn1:type><urn1:LastName>Bunny</urn1:LastName></urn:sObjects></urn:create>",
        "<urn:getUserInfo/>",
    ];
    for (n, call) in calls.iter().enumerate() {
        let response = api.call(call).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(
            response.body.contains(&limit_info(n as u64 + 1)),
            "call {n}: {}",
            response.body
        );
    }
    assert_eq!(sim.state().api_usage(ACME_ORG), (4, 15000));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_missing_sessions_are_invalid() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let forged = format!("{ACME_ORG}!AQforged");
    let response = api
        .client
        .soap(&api.url, &get_user_info_envelope(&forged))
        .await;
    assert_fault(&response, &invalid_session_fault());
    let no_header = api
        .client
        .soap(
            &api.url,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#,
        )
        .await;
    assert_fault(&no_header, &invalid_session_fault());
    // jsforce's session-expiry check: HTTP 500 and a prefixed faultcode.
    assert!(
        no_header
            .body
            .contains("<faultcode>sf:INVALID_SESSION_ID</faultcode>")
    );
    assert_eq!(sim.state().api_usage(ACME_ORG).0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expired_through_the_admin_port_are_invalid() {
    let sim = start_sim().await;
    let api = Api::new(&sim).await;
    let standard = sim.endpoints().standard_url();
    let analyst = soap_login(&sim.endpoints().login_url(), ANALYST_USER, ANALYST_PASSWORD).await;
    let analyst_call = || async {
        Client::anonymous()
            .soap(
                &format!("{standard}/services/Soap/u/62.0"),
                &get_user_info_envelope(&analyst),
            )
            .await
    };
    assert_eq!(api.call("<urn:getUserInfo/>").await.status, 200);
    assert_eq!(analyst_call().await.status, 200);

    // Only the named user's sessions.
    let expired = admin_post(&sim, &format!("/sessions/expire?username={ANALYST_USER}")).await;
    assert_eq!(expired["expired"], 1);
    assert_fault(&analyst_call().await, &invalid_session_fault());
    assert_eq!(api.call("<urn:getUserInfo/>").await.status, 200);

    // Then everyone's.
    assert_eq!(admin_post(&sim, "/sessions/expire").await["expired"], 1);
    assert_fault(
        &api.call("<urn:getUserInfo/>").await,
        &invalid_session_fault(),
    );
    // A new login gives a working session again.
    let fresh = Api::new(&sim).await;
    assert_eq!(fresh.call("<urn:getUserInfo/>").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_after_session_seconds() {
    let sim = start_sim_with(|c| c.limits.session_seconds = 0).await;
    let login = Client::anonymous()
        .soap(
            &format!("{}/services/Soap/u/62.0", sim.endpoints().login_url()),
            &twoway_tests::login_envelope(ACME_USER, ACME_PASSWORD),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(xml_text(&login.body, "sessionSecondsValid").unwrap(), "0");
    let api = Api::with_session(&sim, xml_text(&login.body, "sessionId").unwrap());
    assert_fault(
        &api.call("<urn:getUserInfo/>").await,
        &invalid_session_fault(),
    );
}
