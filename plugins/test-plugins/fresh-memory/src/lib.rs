//! Test plugin `fresh-memory`: shows whether a call ran in a fresh instance.
//! It counts calls in a static, and counts the non-zero bytes of a static
//! buffer and of a zeroed 2 MiB heap block (taken from memory the allocator
//! trusts to be zero) before it writes over both. A fresh instance answers
//! `{"calls":1,"dirty_static":0,"dirty_heap":0}` every time; an instance or
//! a memory reused without a reset would show the last call's writes.

use std::hint::black_box;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use twoway_plugin::prelude::*;

const STATIC_BYTES: usize = 64 * 1024;
const HEAP_BYTES: usize = 2 * 1024 * 1024;

static CALLS: AtomicU32 = AtomicU32::new(0);
static BUFFER: [AtomicU8; STATIC_BYTES] = [const { AtomicU8::new(0) }; STATIC_BYTES];

struct FreshMemory;

impl Guest for FreshMemory {
    fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let dirty_static = BUFFER
            .iter()
            .filter(|b| b.load(Ordering::Relaxed) != 0)
            .count();
        BUFFER.iter().for_each(|b| b.store(0xAB, Ordering::Relaxed));
        let mut heap = vec![0u8; HEAP_BYTES];
        let dirty_heap = heap.iter().filter(|&&b| b != 0).count();
        heap.fill(0xAB);
        // Kept to the end of the call, so nothing in it is freed and reused.
        std::mem::forget(black_box(heap));
        Ok(WorkflowResponse {
            status: 200,
            headers: vec![Header {
                name: "content-type".into(),
                value: "application/json".into(),
            }],
            body: format!(
                r#"{{"calls":{calls},"dirty_static":{dirty_static},"dirty_heap":{dirty_heap}}}"#
            )
            .into_bytes(),
        })
    }
}

twoway_plugin::export!(FreshMemory);
