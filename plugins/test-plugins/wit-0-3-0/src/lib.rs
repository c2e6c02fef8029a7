//! Test plugin `wit-0-3-0`: a front-door policy built against the WIT
//! package `twoway:gateway@0.3.0` (a pinned copy in `wit/`, without the
//! SDK), from before the policy world imported `front-door`, so tests can
//! check that the gateway still loads and runs it: it refuses `DELETE` and
//! passes everything else, and answers pass.

// `export!` expands to unsafe glue at the crate root (the SDK exports it
// from its own crate, where wit-bindgen allows it).
#![allow(unsafe_code)]

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "policy" });
}

use bindings::twoway::gateway::context::{Level, log};
use bindings::twoway::gateway::policy_types::{
    FrontRequest, FrontResponse, RequestDecision, ResponseDecision,
};

struct Old;

impl bindings::Guest for Old {
    fn on_request(request: FrontRequest) -> RequestDecision {
        log(Level::Info, "built against twoway:gateway@0.3.0");
        if request.method == "DELETE" {
            return RequestDecision::Refuse("no deletes (a 0.3.0 policy)".into());
        }
        RequestDecision::Pass
    }

    fn on_response(_request: FrontRequest, _response: FrontResponse) -> ResponseDecision {
        ResponseDecision::Pass
    }
}

bindings::export!(Old with_types_in bindings);
