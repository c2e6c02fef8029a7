//! Test plugin `wit-0-3-2`: a workflow built against the WIT package
//! `twoway:gateway@0.3.2` (a pinned copy in `wit/`, without the SDK), whose
//! `soap` interface has `results` and `save-results` but not 0.3.3's
//! `send-for-results`, so tests can check that the gateway still links
//! it: it sends getUserInfo through `upstream.send`, hands the answer back
//! to `soap.results`, and answers the first `<result>`'s `userName` as
//! text, with `x-wit: 0.3.2` and the number of results and fields in
//! `x-results` and `x-fields`.

// `export!` expands to unsafe glue at the crate root (the SDK exports it
// from its own crate, where wit-bindgen allows it).
#![allow(unsafe_code)]

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "workflow" });
}

use bindings::twoway::gateway::soap::results;
use bindings::twoway::gateway::types::{
    Api, Fault, Header, InboundRequest, OutboundRequest, UpstreamError, Verdict, WorkflowError,
    WorkflowResponse,
};
use bindings::twoway::gateway::upstream::send;

const GET_USER_INFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

struct Pinned;

impl bindings::Guest for Pinned {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let answer = send(&OutboundRequest {
            api: Api::SoapPartner,
            method: "POST".into(),
            path: String::new(),
            headers: vec![
                header("content-type", "text/xml; charset=utf-8"),
                header("soapaction", r#""""#),
            ],
            body: GET_USER_INFO.as_bytes().to_vec(),
        })
        .map_err(WorkflowError::Upstream)?;
        if let Verdict::Fault(fault) = answer.verdict {
            return Err(WorkflowError::Upstream(UpstreamError::UpstreamFault(fault)));
        }
        if answer.status != 200 {
            return Err(WorkflowError::Upstream(UpstreamError::UpstreamFault(
                Fault {
                    code: format!("HTTP_{}", answer.status),
                    message: String::new(),
                },
            )));
        }
        let read = results(&answer.body).map_err(WorkflowError::Upstream)?;
        let first = &read.fields[..read.ends.first().map_or(0, |&end| end as usize)];
        let at = |start: u32, end: u32| read.text.get(start as usize..end as usize).unwrap_or("");
        let user_name = first
            .iter()
            .find(|f| at(f.name.start, f.name.end) == "userName")
            .and_then(|f| f.value.as_ref())
            .map_or("", |v| at(v.start, v.end));
        Ok(WorkflowResponse {
            status: 200,
            headers: vec![
                header("content-type", "text/plain"),
                header("x-wit", "0.3.2"),
                header("x-results", &read.ends.len().to_string()),
                header("x-fields", &first.len().to_string()),
            ],
            body: user_name.as_bytes().to_vec(),
        })
    }
}

bindings::export!(Pinned with_types_in bindings);
