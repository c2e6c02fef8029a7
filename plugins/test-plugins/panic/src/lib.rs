//! Test plugin `panic`: panics, which traps (`plugin_trap`).

use twoway_plugin::prelude::*;

struct Panic;

impl Guest for Panic {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        panic!("the panic test plugin panics on purpose");
    }
}

twoway_plugin::export!(Panic);
