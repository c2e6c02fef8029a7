//! Workflow `get-user-info`: the partner SOAP `getUserInfo` call, answered
//! as a JSON object of every field of its result (`userName`,
//! `userFullName`, `userEmail`, `organizationId`, `organizationName`,
//! `userId`, ...; nil fields as `null`).

use twoway_plugin::prelude::*;

struct GetUserInfo;

impl Guest for GetUserInfo {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        // Sent and read by the host in one call: the answer stays in the
        // host, the fields come back in its one text (no copies).
        let results = soap::call_for_results(Api::SoapPartner, "<urn:getUserInfo/>")?;
        let info = results.first()?;
        log(
            Level::Debug,
            &format!("getUserInfo for {}", info.get("userName").unwrap_or("?")),
        );
        Ok(json_response(200, &info))
    }
}

twoway_plugin::export!(GetUserInfo);

#[cfg(test)]
mod tests {
    //! `handle()` run natively against the SDK's fake host.

    use super::*;
    use twoway_plugin::testing::{FakeHost, json_body, request, response};

    const ANSWER: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><getUserInfoResponse><result><organizationId>00D5g000004AcmeAAA</organizationId><roleId xsi:nil="true"/><userName>integration@acme.example</userName></result></getUserInfoResponse></soapenv:Body></soapenv:Envelope>"#;

    #[test]
    fn answers_every_field_of_get_user_info() {
        let host = FakeHost::install();
        host.on(Api::SoapPartner, "POST", "").xml(200, ANSWER);
        let response = GetUserInfo::handle(request("GET", "/", "")).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            json_body(&response.body),
            json!({"organizationId": "00D5g000004AcmeAAA", "roleId": null, "userName": "integration@acme.example"})
        );
        let sent = &host.requests()[0];
        let envelope = String::from_utf8_lossy(&sent.body);
        assert!(envelope.contains("<urn:getUserInfo/>"), "{envelope}");
        assert!(
            !envelope.contains("SessionHeader"),
            "the host adds the session"
        );
        assert_eq!(host.logs()[0].level, Level::Debug);
    }

    #[test]
    fn a_soap_fault_is_an_upstream_fault() {
        let host = FakeHost::install();
        host.on(Api::SoapPartner, "POST", "").xml(
            500,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_TYPE</faultcode><faultstring>INVALID_TYPE: sObject type 'Foo' is not supported.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        );
        let e = GetUserInfo::handle(request("GET", "/", "")).unwrap_err();
        assert!(
            matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "INVALID_TYPE" && f.message == "sObject type 'Foo' is not supported."),
            "{e:?}"
        );
    }

    #[test]
    fn an_html_error_page_is_an_upstream_fault_with_its_status() {
        let host = FakeHost::install();
        host.on(Api::SoapPartner, "POST", "").reply(response(
            503,
            "text/html",
            "<html><body><h1>Service Unavailable</h1></body></html>",
        ));
        let e = GetUserInfo::handle(request("GET", "/", "")).unwrap_err();
        assert!(
            matches!(&e, WorkflowError::Upstream(UpstreamError::UpstreamFault(f)) if f.code == "HTTP_503" && f.message.contains("Service Unavailable")),
            "{e:?}"
        );
    }

    #[test]
    fn the_api_limit_is_the_gateways_api_limit_exceeded_as_in_production() {
        let host = FakeHost::install();
        host.on(Api::SoapPartner, "POST", "").xml(
            500,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:REQUEST_LIMIT_EXCEEDED</faultcode><faultstring>REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#,
        );
        let e = GetUserInfo::handle(request("GET", "/", "")).unwrap_err();
        assert!(
            matches!(&e, WorkflowError::Upstream(UpstreamError::ApiLimitExceeded(r)) if r.retry_after == 60),
            "429 api_limit_exceeded, as the gateway answers it: {e:?}"
        );
    }
}
