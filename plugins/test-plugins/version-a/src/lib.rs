//! Test plugin `version-a` (hot reload): answers 200 with the body `a`.

use twoway_plugin::prelude::*;

struct Version;

impl Guest for Version {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        Ok(text_response(200, "text/plain", "a"))
    }
}

twoway_plugin::export!(Version);
