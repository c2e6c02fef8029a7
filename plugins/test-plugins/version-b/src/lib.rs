//! Test plugin `version-b` (hot reload): answers 200 with the body `b`.

use twoway_plugin::prelude::*;

struct Version;

impl Guest for Version {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        Ok(text_response(200, "text/plain", "b"))
    }
}

twoway_plugin::export!(Version);
