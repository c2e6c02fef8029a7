//! Test plugin `wit-0-3-1`: a workflow built against the WIT package
//! `twoway:gateway@0.3.1` (a pinned copy in `wit/`, without the SDK), from
//! before the workflow world imported `soap`, so tests can check that the
//! gateway still loads and runs it: it sends getUserInfo through
//! `upstream.send` and answers the API's status and body as they came,
//! with `x-wit: 0.3.1` and the verdict in `x-verdict`.

// `export!` expands to unsafe glue at the crate root (the SDK exports it
// from its own crate, where wit-bindgen allows it).
#![allow(unsafe_code)]

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "workflow" });
}

use bindings::twoway::gateway::context::{Level, log};
use bindings::twoway::gateway::types::{
    Api, Header, InboundRequest, OutboundRequest, Verdict, WorkflowError, WorkflowResponse,
};
use bindings::twoway::gateway::upstream::send;

const GET_USER_INFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#;

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.into(),
    }
}

struct Old;

impl bindings::Guest for Old {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        log(Level::Info, "built against twoway:gateway@0.3.1");
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
        let verdict = match answer.verdict {
            Verdict::Success => "success",
            Verdict::Fault(_) => "fault",
            Verdict::Unexpected(_) => "unexpected",
        };
        Ok(WorkflowResponse {
            status: answer.status,
            headers: vec![
                header("content-type", "text/xml"),
                header("x-wit", "0.3.1"),
                header("x-verdict", verdict),
            ],
            body: answer.body,
        })
    }
}

bindings::export!(Old with_types_in bindings);
