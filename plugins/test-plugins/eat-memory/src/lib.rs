//! Test plugin `eat-memory`: allocates 1 MiB chunks and writes to each
//! until an allocation fails, which aborts (a trap); the host's memory cap
//! must stop it (`plugin_memory_exceeded`).

use std::hint::black_box;

use twoway_plugin::prelude::*;

const CHUNK: usize = 1 << 20;

struct EatMemory;

impl Guest for EatMemory {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            for page in chunk.iter_mut().step_by(4096) {
                *page = 1;
            }
            chunks.push(black_box(chunk));
            black_box(&chunks);
        }
    }
}

twoway_plugin::export!(EatMemory);
