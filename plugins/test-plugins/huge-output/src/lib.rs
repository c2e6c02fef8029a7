//! Test plugin `huge-output`: answers 200 with a body of config `size_mb`
//! MiB (default 64) of `x`; the host's output cap must refuse it
//! (`plugin_output_too_large`).

use twoway_plugin::prelude::*;

struct HugeOutput;

impl Guest for HugeOutput {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let mib: usize = config_or("size_mb", "64")
            .parse()
            .map_err(|_| internal("plugin config `size_mb` must be a whole number"))?;
        Ok(text_response(200, "text/plain", vec![b'x'; mib << 20]))
    }
}

twoway_plugin::export!(HugeOutput);
