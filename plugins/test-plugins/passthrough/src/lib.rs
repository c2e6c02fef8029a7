//! Test plugin `passthrough` (benchmarks): sends the inbound method, body and
//! `content-type`/`soapaction` headers to the API named by config `api`
//! (`soap-partner`, default; `soap-enterprise`, `soap-metadata`, `rest`,
//! `bulk`, `apex-rest`) at the inbound path (and query) without its leading
//! `/`, and answers the upstream status, content type and body as they are.

use twoway_plugin::prelude::*;

struct Passthrough;

impl Guest for Passthrough {
    fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let api = match config_or("api", "soap-partner").as_str() {
            "soap-partner" => Api::SoapPartner,
            "soap-enterprise" => Api::SoapEnterprise,
            "soap-metadata" => Api::SoapMetadata,
            "rest" => Api::Rest,
            "bulk" => Api::Bulk,
            "apex-rest" => Api::ApexRest,
            other => {
                return Err(internal(format!(
                    "plugin config `api` = `{other}` is not an API"
                )));
            }
        };
        let mut path = request.path.trim_start_matches('/').to_string();
        if !request.query.is_empty() {
            path = format!("{path}?{}", request.query);
        }
        let headers = request
            .headers
            .iter()
            .filter(|h| h.name == "content-type" || h.name == "soapaction")
            .cloned()
            .collect();
        let answer = send(&OutboundRequest {
            api,
            method: request.method,
            path,
            headers,
            body: request.body,
        })?;
        let headers = answer
            .headers
            .into_iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-type"))
            .collect();
        Ok(WorkflowResponse {
            status: answer.status,
            headers,
            body: answer.body,
        })
    }
}

twoway_plugin::export!(Passthrough);
