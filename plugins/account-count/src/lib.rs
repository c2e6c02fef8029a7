//! Workflow `account-count`: how many Accounts are in a billing city.
//! `GET ...?city=Chicago` → `{"city": "Chicago", "accounts": 1, "user": "..."}`.

use twoway_plugin::prelude::*;

struct AccountCount;

impl Guest for AccountCount {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        // 400 problem for the caller when the input is wrong.
        let city = request
            .query_param("city")
            .ok_or_else(|| bad_request("add ?city=<billing city>"))?;

        // REST: the path is relative to /services/data/v{ver}/.
        let soql = format!(
            "SELECT Id FROM Account WHERE BillingCity = '{}'",
            city.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let page = rest::get(&rest::query_path(&soql))?;

        // SOAP: the body's content; the SDK wraps it in an envelope
        // (prefixes urn = partner, urn1 = sObject) and the host adds the session.
        let xml = soap::call(Api::SoapPartner, "<urn:getUserInfo/>")?;
        let user = soap::result_fields(&xml)?;

        log(Level::Info, &format!("counted accounts in {city}"));
        Ok(json_response(
            200,
            &json!({
                "city": city,
                "accounts": page["totalSize"],
                "user": user.get("userName"),
            }),
        ))
    }
}

twoway_plugin::export!(AccountCount);
