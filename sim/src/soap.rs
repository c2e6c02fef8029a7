//! SOAP partner and enterprise endpoints: login, getUserInfo, query,
//! queryMore, create, update, upsert, delete, the describes (in
//! [`describe`]); tooling and Apex SOAP's
//! `executeAnonymous` (compiled and run as a success); faults as Salesforce
//! writes them.

mod describe;

use std::collections::BTreeMap;

use super::reply::Reply;
use super::state::{Cell, DataError, LoginError, QueryOptions, QueryPage, Row, Session};
use super::{Call, Denied, Port};
use twoway::xml::{self, XSI, child_text, elements, escape};

/// Which SOAP API a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Partner,
    Enterprise,
    /// `/services/Soap/T/...`.
    Tooling,
    /// `/services/Soap/s/...`.
    Apex,
}

impl Api {
    /// `/services/Soap/u/...` or `/services/Soap/c/...`.
    pub fn from_path(path: &str) -> Option<(Self, &str)> {
        let rest = path.strip_prefix("/services/Soap/")?;
        let (kind, rest) = rest.split_once('/')?;
        let version = rest.split('/').next().filter(|v| !v.is_empty())?;
        match kind {
            "u" => Some((Self::Partner, version)),
            "c" => Some((Self::Enterprise, version)),
            "T" => Some((Self::Tooling, version)),
            "s" => Some((Self::Apex, version)),
            _ => None,
        }
    }

    fn ns(self) -> &'static str {
        match self {
            Self::Partner => "urn:partner.soap.sforce.com",
            Self::Enterprise => "urn:enterprise.soap.sforce.com",
            Self::Tooling => "urn:tooling.soap.sforce.com",
            Self::Apex => APEX_NS,
        }
    }

    fn fault_ns(self) -> &'static str {
        match self {
            Self::Partner => "urn:fault.partner.soap.sforce.com",
            Self::Enterprise => "urn:fault.enterprise.soap.sforce.com",
            Self::Tooling => "urn:fault.tooling.soap.sforce.com",
            Self::Apex => APEX_NS,
        }
    }

    fn sobject_ns(self) -> &'static str {
        match self {
            Self::Partner => "urn:sobject.partner.soap.sforce.com",
            Self::Enterprise => "urn:sobject.enterprise.soap.sforce.com",
            Self::Tooling => "urn:sobject.tooling.soap.sforce.com",
            Self::Apex => APEX_NS,
        }
    }

    fn path_letter(self) -> char {
        match self {
            Self::Partner => 'u',
            Self::Enterprise => 'c',
            Self::Tooling => 'T',
            Self::Apex => 's',
        }
    }
}

const APEX_NS: &str = "http://soap.sforce.com/2006/08/apex";

const ENVELOPE_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/""#;

fn envelope(api: Api, header: &str, body: &str) -> String {
    format!(
        r#"{ENVELOPE_OPEN} xmlns="{}" xmlns:sf="{}" xmlns:xsi="{XSI}">{header}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"#,
        api.ns(),
        api.sobject_ns()
    )
}

/// A fault with an `sf:` faultcode and a typed detail (HTTP 500).
pub fn fault(api: Api, code: &str, detail_type: &str, message: &str) -> Reply {
    let message = escape(message);
    Reply::xml(
        500,
        format!(
            r#"{ENVELOPE_OPEN} xmlns:sf="{ns}" xmlns:xsi="{XSI}"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail><sf:{detail_type} xsi:type="sf:{detail_type}"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:{detail_type}></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
            ns = api.fault_ns()
        ),
    )
}

/// A `soapenv:Client` fault without detail ("Premature end of file.").
pub fn client_fault(message: &str) -> Reply {
    Reply::xml(
        500,
        format!(
            r#"{ENVELOPE_OPEN}><soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
            escape(message)
        ),
    )
}

/// The fault for a request refused before it reached the API.
pub fn denied(api: Api, denied: Denied) -> Reply {
    match denied {
        Denied::InvalidSession => fault(
            api,
            "INVALID_SESSION_ID",
            "UnexpectedErrorFault",
            "Invalid Session ID found in SessionHeader: Illegal Session",
        ),
        Denied::MutualAuthRequired => fault(
            api,
            "MUTUAL_AUTHENTICATION_FAILED",
            "UnexpectedErrorFault",
            "This session could not be mutually authenticated for use with the API",
        ),
        Denied::LimitExceeded => fault(
            api,
            "REQUEST_LIMIT_EXCEEDED",
            "UnexpectedErrorFault",
            "TotalRequests Limit exceeded.",
        ),
        Denied::Page(reply) => reply,
    }
}

fn data_fault(api: Api, e: &DataError) -> Reply {
    let detail = match e.code {
        "MALFORMED_QUERY" => "MalformedQueryFault",
        "INVALID_TYPE" => "InvalidSObjectFault",
        "INVALID_FIELD" => "InvalidFieldFault",
        "INVALID_QUERY_LOCATOR" => "InvalidQueryLocatorFault",
        _ => "UnexpectedErrorFault",
    };
    fault(api, e.code, detail, &e.message)
}

/// `executeAnonymous`'s answer: compiled and run.
const EXECUTED: &str = r#"<executeAnonymousResponse><result><column>-1</column><compileProblem xsi:nil="true"/><compiled>true</compiled><exceptionMessage xsi:nil="true"/><exceptionStackTrace xsi:nil="true"/><line>-1</line><success>true</success></result></executeAnonymousResponse>"#;

/// Handles a POST to a SOAP endpoint.
pub fn handle(call: &Call<'_>, api: Api, version: &str) -> Reply {
    let doc = match xml::parse(&call.body) {
        Ok(doc) => doc,
        Err(e) => return client_fault(&e.to_string()),
    };
    let Some(op) = xml::soap_body_element(&doc) else {
        return client_fault("Unable to find the SOAP envelope or its Body");
    };
    let name = op.tag_name().name();
    if op.tag_name().namespace() != Some(api.ns()) {
        return no_operation(op);
    }
    if super::versions::served(version).is_none() {
        return fault(
            api,
            "UNSUPPORTED_API_VERSION",
            "UnexpectedErrorFault",
            "Invalid Api version specified on URL",
        );
    }
    if name == "login" {
        if matches!(api, Api::Tooling | Api::Apex) {
            return no_operation(op);
        }
        let allowed = match call.port {
            Port::Login | Port::Standard => true,
            Port::Mutual => call.ctx.state.config.limits.allow_login_on_mutual_port,
        };
        if !allowed {
            return no_operation(op);
        }
        return login(call, api, version, op);
    }
    if call.port == Port::Login {
        return fault(
            api,
            "UNKNOWN_EXCEPTION",
            "UnexpectedErrorFault",
            "Destination URL not reset. The URL returned from login must be set in the SforceService",
        );
    }
    let session_id = xml::soap_header(&doc)
        .and_then(|h| xml::child(h, "SessionHeader"))
        .and_then(|s| child_text(s, "sessionId"));
    let (session, usage) = match call.authorize(session_id) {
        Ok(ok) => ok,
        Err(d) => return denied(api, d),
    };
    let body = match (api, name) {
        (Api::Tooling | Api::Apex, "executeAnonymous") => Ok(EXECUTED.to_string()),
        (Api::Apex, _) => return no_operation(op),
        (_, "getUserInfo") => Ok(format!(
            "<getUserInfoResponse><result>{}</result></getUserInfoResponse>",
            user_info(call, &session)
        )),
        (_, "query") => query(call, api, &session, op, false),
        (_, "queryAll") => query(call, api, &session, op, true),
        (_, "queryMore") => query_more(call, api, &session, op),
        (_, "create") => Ok(save(call, &session, op, "create")),
        (_, "update") => Ok(save(call, &session, op, "update")),
        (_, "upsert") => Ok(save(call, &session, op, "upsert")),
        (_, "delete") => Ok(delete(call, &session, op)),
        (
            Api::Partner | Api::Enterprise,
            "describeSObject" | "describeSObjects" | "describeGlobal",
        ) => describe::answer(&call.ctx.state, version, name, op),
        _ => return no_operation(op),
    };
    match body {
        Ok(body) => {
            let header = format!(
                "<soapenv:Header><LimitInfoHeader><limitInfo><current>{}</current><limit>{}</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header>",
                usage.0, usage.1
            );
            Reply::xml(200, envelope(api, &header, &body))
        }
        Err(e) => data_fault(api, &e),
    }
}

fn no_operation(op: roxmltree::Node<'_, '_>) -> Reply {
    client_fault(&format!(
        "No operation available for request {{{}}}{}",
        op.tag_name().namespace().unwrap_or(""),
        op.tag_name().name()
    ))
}

fn login(call: &Call<'_>, api: Api, version: &str, op: roxmltree::Node<'_, '_>) -> Reply {
    let username = child_text(op, "username").unwrap_or("");
    let password = child_text(op, "password").unwrap_or("");
    let (session_id, session) = match call.ctx.state.password_login(username, password) {
        Ok(ok) => ok,
        Err(e) => return login_fault(api, e),
    };
    let base = call.ctx.endpoints.standard_url();
    let org = &session.org_id;
    let letter = api.path_letter();
    let server_url = match api {
        Api::Partner | Api::Tooling | Api::Apex => {
            format!("{base}/services/Soap/{letter}/{version}/{org}")
        }
        // Enterprise URLs add the id of the org's WSDL download (`0DF...`).
        Api::Enterprise => format!("{base}/services/Soap/{letter}/{version}/{org}/0DF000000000001"),
    };
    let body = format!(
        "<loginResponse><result><metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>{server_url}</serverUrl><sessionId>{session_id}</sessionId><userId>{}</userId><userInfo>{}</userInfo></result></loginResponse>",
        session.user.id,
        user_info(call, &session)
    );
    Reply::xml(200, envelope(api, "", &body))
}

/// The fault for a refused login.
pub fn login_fault(api: Api, e: LoginError) -> Reply {
    match e {
        LoginError::InvalidLogin => fault(
            api,
            "INVALID_LOGIN",
            "LoginFault",
            "Invalid username, password, security token; or user locked out.",
        ),
        LoginError::MustUseSecurityToken => fault(
            api,
            "LOGIN_MUST_USE_SECURITY_TOKEN",
            "LoginFault",
            "Invalid username, password, security token; or user locked out. Are you at a new location? When accessing Salesforce--either via a desktop client or the API--from outside of your company\u{2019}s trusted networks, you must add a security token to your password to log in. To get your new security token, log in to Salesforce. From your personal settings, enter Reset My Security Token in the Quick Find box, then select Reset My Security Token.",
        ),
        LoginError::RateExceeded => fault(
            api,
            "LOGIN_RATE_EXCEEDED",
            "LoginFault",
            "Login Rate Exceeded.",
        ),
    }
}

/// The userInfo / getUserInfo result children, in WSDL order.
fn user_info(call: &Call<'_>, session: &Session) -> String {
    let state = &call.ctx.state;
    let org = state.org(&session.org_id);
    let org_name = org.map(|o| o.name.as_str()).unwrap_or("");
    let user = &session.user;
    format!(
        "<accessibilityMode>false</accessibilityMode><chatterExternal>false</chatterExternal><currencySymbol>$</currencySymbol><orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit><orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode><orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale><orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments><orgHasPersonAccounts>false</orgHasPersonAccounts><organizationId>{}</organizationId><organizationMultiCurrency>false</organizationMultiCurrency><organizationName>{}</organizationName><profileId>{}</profileId><roleId xsi:nil=\"true\"/><sessionSecondsValid>{}</sessionSecondsValid><userDefaultCurrencyIsoCode xsi:nil=\"true\"/><userEmail>{}</userEmail><userFullName>{}</userFullName><userId>{}</userId><userLanguage>en_US</userLanguage><userLocale>en_US</userLocale><userName>{}</userName><userTimeZone>America/Chicago</userTimeZone><userType>Standard</userType><userUiSkin>Theme3</userUiSkin>",
        super::ids::to_18(&session.org_id),
        escape(org_name),
        super::ids::profile_id(&session.org_id),
        state.config.limits.session_seconds,
        escape(&user.email),
        escape(&user.full_name),
        user.id,
        escape(&user.username),
    )
}

fn query(
    call: &Call<'_>,
    api: Api,
    session: &Session,
    op: roxmltree::Node<'_, '_>,
    all_rows: bool,
) -> Result<String, DataError> {
    let text = child_text(op, "queryString").unwrap_or("");
    let options = QueryOptions {
        all_rows,
        batch_size: None,
        ..Default::default()
    };
    let page = call.ctx.state.query(&session.org_id, text, options)?;
    let name = if all_rows { "queryAll" } else { "query" };
    Ok(format!(
        "<{name}Response>{}</{name}Response>",
        query_result(api, &page)
    ))
}

fn query_more(
    call: &Call<'_>,
    api: Api,
    session: &Session,
    op: roxmltree::Node<'_, '_>,
) -> Result<String, DataError> {
    let locator = child_text(op, "queryLocator").unwrap_or("");
    let bad = || DataError::new("INVALID_QUERY_LOCATOR", 400, "invalid query locator");
    let (cursor, offset) = locator.rsplit_once('-').ok_or_else(bad)?;
    let offset = offset.parse().map_err(|_| bad())?;
    let page = call.ctx.state.page(&session.org_id, cursor, offset)?;
    Ok(format!(
        "<queryMoreResponse>{}</queryMoreResponse>",
        query_result(api, &page)
    ))
}

fn query_result(api: Api, page: &QueryPage) -> String {
    let mut out = String::new();
    match api {
        Api::Partner => out.push_str(r#"<result xsi:type="QueryResult">"#),
        Api::Enterprise | Api::Tooling | Api::Apex => out.push_str("<result>"),
    }
    out.push_str(&format!("<done>{}</done>", page.next.is_none()));
    match &page.next {
        Some(locator) => out.push_str(&format!("<queryLocator>{locator}</queryLocator>")),
        None => out.push_str(r#"<queryLocator xsi:nil="true"/>"#),
    }
    for row in &page.rows {
        out.push_str(&row_xml(api, "records", row));
    }
    out.push_str(&format!("<size>{}</size></result>", page.total));
    out
}

/// A result row as the element `open_tag` (`records`; nested rows, parents
/// and children, are in the sObject namespace: `sf:Account`, `sf:records`).
fn row_xml(api: Api, open_tag: &str, row: &Row) -> String {
    let mut out = match api {
        // The partner sObject always has its own Id element (nil when the query
        // did not select Id); a selected Id then appears again among the fields.
        Api::Partner => {
            let id = match (&row.id, row.has_id()) {
                (Some(id), true) => format!("<sf:Id>{id}</sf:Id>"),
                _ => r#"<sf:Id xsi:nil="true"/>"#.to_string(),
            };
            format!(
                r#"<{open_tag} xsi:type="sf:sObject"><sf:type>{}</sf:type>{id}"#,
                row.object
            )
        }
        Api::Enterprise | Api::Tooling | Api::Apex => {
            format!(r#"<{open_tag} xsi:type="sf:{}">"#, row.object)
        }
    };
    for (name, cell) in &row.cells {
        match cell {
            Cell::Value(Some(v), _) => {
                out.push_str(&format!("<sf:{name}>{}</sf:{name}>", escape(v)))
            }
            Cell::Value(None, _) | Cell::Parent(None) | Cell::Children(None) => {
                out.push_str(&format!(r#"<sf:{name} xsi:nil="true"/>"#))
            }
            Cell::Parent(Some(parent)) => {
                out.push_str(&row_xml(api, &format!("sf:{name}"), parent))
            }
            Cell::Children(Some(children)) => {
                out.push_str(&format!(
                    r#"<sf:{name} xsi:type="QueryResult"><sf:done>true</sf:done><sf:queryLocator xsi:nil="true"/>"#
                ));
                for child in &children.rows {
                    out.push_str(&row_xml(api, "sf:records", child));
                }
                out.push_str(&format!(
                    "<sf:size>{}</sf:size></sf:{name}>",
                    children.total
                ));
            }
        }
    }
    out.push_str(&format!("</{open_tag}>"));
    out
}

/// An sObject element: its type (partner `<type>` child or `xsi:type`) and fields.
fn sobject(node: roxmltree::Node<'_, '_>) -> (String, BTreeMap<String, String>) {
    let xsi_type = node
        .attribute((XSI, "type"))
        .map(|t| t.rsplit(':').next().unwrap_or(t).to_string());
    let object = child_text(node, "type")
        .map(str::to_string)
        .or(xsi_type)
        .unwrap_or_default();
    let fields = elements(node)
        .filter(|c| !matches!(c.tag_name().name(), "type" | "fieldsToNull"))
        .map(|c| {
            (
                c.tag_name().name().to_string(),
                c.text().unwrap_or("").to_string(),
            )
        })
        .collect();
    (object, fields)
}

fn save(call: &Call<'_>, session: &Session, op: roxmltree::Node<'_, '_>, kind: &str) -> String {
    let state = &call.ctx.state;
    let org = &session.org_id;
    let user = &session.user.id;
    let external = child_text(op, "externalIDFieldName").unwrap_or("");
    let mut results = String::new();
    for node in elements(op).filter(|c| c.tag_name().name() == "sObjects") {
        let (object, mut fields) = sobject(node);
        let id = fields.remove("Id");
        let outcome = match kind {
            "create" => state
                .create(org, user, &object, &fields)
                .map(|id| (id, None)),
            "update" => match &id {
                Some(id) => state
                    .update(org, user, id, &fields)
                    .map(|_| (id.clone(), None)),
                None => Err(missing_id()),
            },
            _ => {
                let value = fields.get(external).cloned().unwrap_or_default();
                state
                    .upsert(org, user, &object, external, &value, &fields)
                    .map(|(id, created)| (id, Some(created)))
            }
        };
        results.push_str("<result>");
        match outcome {
            Ok((id, created)) => {
                if let Some(created) = created {
                    results.push_str(&format!("<created>{created}</created>"));
                }
                results.push_str(&format!("<id>{id}</id><success>true</success>"));
            }
            Err(e) => {
                if kind == "upsert" {
                    results.push_str("<created>false</created>");
                }
                results.push_str(&save_error(&e));
                results.push_str(r#"<id xsi:nil="true"/><success>false</success>"#);
            }
        }
        results.push_str("</result>");
    }
    format!("<{kind}Response>{results}</{kind}Response>")
}

fn delete(call: &Call<'_>, session: &Session, op: roxmltree::Node<'_, '_>) -> String {
    let mut results = String::new();
    for id in elements(op).filter(|c| c.tag_name().name() == "ids") {
        let id = id.text().unwrap_or("");
        match call.ctx.state.delete(&session.org_id, &session.user.id, id) {
            Ok(()) => results.push_str(&format!(
                "<result><id>{}</id><success>true</success></result>",
                escape(id)
            )),
            Err(e) => {
                let e = match e.code {
                    "NOT_FOUND" => DataError::new(
                        "INVALID_CROSS_REFERENCE_KEY",
                        400,
                        "invalid cross reference id",
                    ),
                    _ => e,
                };
                results.push_str(&format!(
                    r#"<result>{}<id xsi:nil="true"/><success>false</success></result>"#,
                    save_error(&e)
                ))
            }
        }
    }
    format!("<deleteResponse>{results}</deleteResponse>")
}

fn missing_id() -> DataError {
    DataError {
        code: "MISSING_ARGUMENT",
        message: "Id not specified in an update call".into(),
        fields: Vec::new(),
        http_status: 400,
    }
}

fn save_error(e: &DataError) -> String {
    let fields: String = e
        .fields
        .iter()
        .map(|f| format!("<fields>{}</fields>", escape(f)))
        .collect();
    format!(
        "<errors>{fields}<message>{}</message><statusCode>{}</statusCode></errors>",
        escape(&e.message),
        e.code
    )
}
