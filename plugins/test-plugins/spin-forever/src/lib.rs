//! Test plugin `spin-forever`: never returns; the host's CPU deadline must
//! stop it (`plugin_timeout`).

use std::hint::black_box;

use twoway_plugin::prelude::*;

struct SpinForever;

impl Guest for SpinForever {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let mut counter: u64 = 0;
        loop {
            counter = black_box(counter.wrapping_add(1));
        }
    }
}

twoway_plugin::export!(SpinForever);
