//! Test plugin `wit-0-1-0`: a workflow built against the old WIT package
//! `twoway:gateway@0.1.0` (a pinned copy in `wit/`, without the SDK), so
//! tests can check what the gateway does with a component of an older
//! contract: it refuses to load it, naming the version and how to rebuild.

// `export!` expands to unsafe glue at the crate root (the SDK exports it
// from its own crate, where wit-bindgen allows it).
#![allow(unsafe_code)]

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "workflow" });
}

use bindings::twoway::gateway::context::{Level, log};
use bindings::twoway::gateway::types::{InboundRequest, WorkflowError, WorkflowResponse};

struct Old;

impl bindings::Guest for Old {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        log(Level::Info, "built against twoway:gateway@0.1.0");
        Err(WorkflowError::Internal("an old workflow".into()))
    }
}

bindings::export!(Old with_types_in bindings);
