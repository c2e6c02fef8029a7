//! Verbatim samples for the unit tests and micro benchmarks: captured
//! Salesforce answers (where they come from: docs/architecture.md,
//! "Salesforce wire formats") and the simulator's templates (sim/src).

/// The superpat.com / trino login response (a captured partner login).
pub const LOGIN_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>
<metadataServerUrl>https://na30.salesforce.com/services/Soap/m/41.0/00D36000000bLGT</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>false</sandbox>
<serverUrl>https://na30.salesforce.com/services/Soap/u/41.0/00D36000000bLGT</serverUrl>
<sessionId>00D36000000bLGT!AQQAQMlp30Zpiy6_...</sessionId><userId>00536000006Z51jAAC</userId>
<userInfo><accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal><currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>true</orgHasPersonAccounts><organizationId>00D...18ch</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>example</organizationName><profileId>00e...</profileId><roleId xsi:nil="true"/><sessionSecondsValid>7200</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil="true"/><userEmail>user@salesforce.com</userEmail><userFullName>Vince Chase</userFullName><userId>005...</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>user@x</userName><userTimeZone>America/Chicago</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin></userInfo>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"#;

/// The session id inside [`LOGIN_RESPONSE`].
pub const LOGIN_SESSION_ID: &str = "00D36000000bLGT!AQQAQMlp30Zpiy6_...";

/// INVALID_LOGIN (Trino fixture = Perl mock), HTTP 500.
pub const INVALID_LOGIN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// The older unprefixed form, in an enterprise fault namespace.
pub const INVALID_LOGIN_UNPREFIXED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.enterprise.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// The seed's MUTUAL_AUTHENTICATION_FAILED fault, as the simulator sends it.
pub const MUTUAL_AUTH_FAILED: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:MUTUAL_AUTHENTICATION_FAILED</faultcode><faultstring>MUTUAL_AUTHENTICATION_FAILED: This session could not be mutually authenticated for use with the API</faultstring><detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault"><sf:exceptionCode>MUTUAL_AUTHENTICATION_FAILED</sf:exceptionCode><sf:exceptionMessage>This session could not be mutually authenticated for use with the API</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// The simulator's INVALID_SESSION_ID fault (CumulusCI text).
pub const INVALID_SESSION: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_SESSION_ID</faultcode><faultstring>INVALID_SESSION_ID: Invalid Session ID found in SessionHeader: Illegal Session</faultstring><detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault"><sf:exceptionCode>INVALID_SESSION_ID</sf:exceptionCode><sf:exceptionMessage>Invalid Session ID found in SessionHeader: Illegal Session</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// REQUEST_LIMIT_EXCEEDED in the enterprise fault namespace, as the simulator writes it.
pub const REQUEST_LIMIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.enterprise.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:REQUEST_LIMIT_EXCEEDED</faultcode><faultstring>REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.</faultstring><detail><sf:UnexpectedErrorFault xsi:type="sf:UnexpectedErrorFault"><sf:exceptionCode>REQUEST_LIMIT_EXCEEDED</sf:exceptionCode><sf:exceptionMessage>TotalRequests Limit exceeded.</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// The simulator's MALFORMED_QUERY data fault.
pub const MALFORMED_QUERY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:MALFORMED_QUERY</faultcode><faultstring>MALFORMED_QUERY: unexpected token: FORM</faultstring><detail><sf:MalformedQueryFault xsi:type="sf:MalformedQueryFault"><sf:exceptionCode>MALFORMED_QUERY</sf:exceptionCode><sf:exceptionMessage>unexpected token: FORM</sf:exceptionMessage></sf:MalformedQueryFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// "Premature end of file." (Perl mock; the simulator's client fault).
pub const PREMATURE_EOF: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>Premature end of file.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

/// The seed's mutual-auth port page without a client certificate.
pub const CERTIFICATE_ERROR_PAGE: &str = "<html><head><title>Certificate Error</title></head><body bgcolor=#ffffff text=#3198d8><center><img src=\"http://www.sfdcstatic.com/common/assets/img/logo-company.png\"><p><h3>Client certificate error:<i>No client certificate provided.</i></h3></center></body></html>";

/// A getUserInfo reply as the simulator writes it (with LimitInfoHeader).
pub const GET_USER_INFO_RESPONSE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:sobject.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Header><LimitInfoHeader><limitInfo><current>6</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body><getUserInfoResponse><result><userName>integration@acme.example</userName></result></getUserInfoResponse></soapenv:Body></soapenv:Envelope>"#;

/// The seed's getUserInfo request (tests/src/lib.rs `api_envelope`) without its header.
pub const GET_USER_INFO_NO_HEADER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com">
  <soapenv:Body><urn:getUserInfo /></soapenv:Body>
</soapenv:Envelope>"#;

/// The seed's getUserInfo request with a SessionHeader the plugin wrote.
pub const GET_USER_INFO_WITH_SESSION: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com">
  <soapenv:Header><urn:SessionHeader><urn:sessionId>PLUGIN-WROTE-THIS</urn:sessionId></urn:SessionHeader></soapenv:Header>
  <soapenv:Body><urn:getUserInfo /></soapenv:Body>
</soapenv:Envelope>"#;

/// jsforce's request shape: `se:` prefix and an empty header.
pub const JSFORCE_EMPTY_HEADER: &str = r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header/><se:Body><getUserInfo xmlns="urn:partner.soap.sforce.com"/></se:Body></se:Envelope>"#;

/// Bulk 1.0's expired-session error (Camel PR#826), HTTP 400.
pub const BULK_INVALID_SESSION: &str = r#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"#;

/// The OAuth username-password reply (docs + Dataiku README).
pub const OAUTH_TOKEN: &str = r#"{"access_token":"00Dx0000000BV7z!AR8AQAxo9UfVkh8AlV0Gomt9Czx9LjHnSSpwBMmbRcgKFmxOtvxjTrKW19ye6PE3Ds1eQz3z8jr3W7_VbWmEu4Q8TVGSTHxs","instance_url":"https://na1.salesforce.com","id":"https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P","token_type":"Bearer","issued_at":"1278448832702","signature":"0CmxinZir53Yex7nE0TD+zMpvIWYGb/bdJh6XfOH6EQ="}"#;
