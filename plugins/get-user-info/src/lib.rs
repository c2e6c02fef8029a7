//! Workflow `get-user-info`: the partner SOAP `getUserInfo` call, answered
//! as a JSON object of every field of its result (`userName`,
//! `userFullName`, `userEmail`, `organizationId`, `organizationName`,
//! `userId`, ...; nil fields as `null`).

use twoway_plugin::prelude::*;

struct GetUserInfo;

impl Guest for GetUserInfo {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let xml = soap::call(Api::SoapPartner, "<urn:getUserInfo/>")?;
        let info = soap::result_fields(&xml)?;
        log(
            Level::Debug,
            &format!("getUserInfo for {}", info.get("userName").unwrap_or("?")),
        );
        Ok(json_response(200, &info.to_json()))
    }
}

twoway_plugin::export!(GetUserInfo);
