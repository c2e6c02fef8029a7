//! Workflow `get-user-info`: the partner SOAP `getUserInfo` call, answered
//! as a JSON object of every field of its result (`userName`,
//! `userFullName`, `userEmail`, `organizationId`, `organizationName`,
//! `userId`, ...; nil fields as `null`).

use twoway_plugin::prelude::*;

struct GetUserInfo;

impl Guest for GetUserInfo {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let xml = soap::call(Api::SoapPartner, "<urn:getUserInfo/>")?;
        // The host's reading, the fields left in its one text (no copies).
        let results = soap::read_results(&xml)?;
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
    use twoway_plugin::testing::{FakeHost, json_body, request};

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
