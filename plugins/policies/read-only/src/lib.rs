//! Front-door policy `read-only`: the tenant's existing clients may read
//! (queries, describes, retrieves, identity, Bulk queries) but change
//! nothing. A refused request never reaches Salesforce; the client gets
//! INSUFFICIENT_ACCESS in its API's format, naming what was refused.
//!
//! Config: `allow` (optional), a comma-separated list of SOAP operations
//! allowed besides the read-only ones.
//!
//! Written without `std` (`alloc` only), from the WIT world directly: `std`
//! on wasm32-wasip2 imports 13 of WASI's interfaces (cli, io) that a policy
//! never calls, and the gateway wires each into every fresh instance. Without
//! them a request through this policy costs about 40k fewer instructions (a
//! third of the policy's share) and about a fifth less CPU time
//! (docs/performance.md, "A policy without std").
//! What `std` would bring, the crate brings itself: an allocator, a panic
//! handler that sends the message to the gateway's log, and `cabi_realloc`.

#![cfg_attr(target_family = "wasm", no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

#[allow(missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({ path: "../../sdk/wit", world: "policy" });
}

use bindings::Guest;
use bindings::twoway::gateway::context::{Level, config, log};
use bindings::twoway::gateway::front_door::{operation, skip_response};
use bindings::twoway::gateway::policy_types::{
    FrontRequest, FrontResponse, RequestDecision, ResponseDecision,
};
use bindings::twoway::gateway::types::Api;

struct ReadOnly;

/// SOAP operations that change nothing.
const READS: &[&str] = &[
    "query",
    "queryAll",
    "queryMore",
    "retrieve",
    "search",
    "describeGlobal",
    "describeSObject",
    "describeSObjects",
    "describeLayout",
    "describeTabs",
    "getUserInfo",
    "getServerTimestamp",
    "getUpdated",
    "getDeleted",
    "login",
    "logout",
];

impl Guest for ReadOnly {
    fn on_request(request: FrontRequest) -> RequestDecision {
        // Answers pass as they are: the instance ends with this hook.
        skip_response();
        match refusal(&request) {
            None => RequestDecision::Pass,
            Some(reason) => {
                log(Level::Info, &format!("refused: {reason}"));
                RequestDecision::Refuse(format!(
                    "this tenant is read-only at the gateway: {reason}"
                ))
            }
        }
    }

    fn on_response(_request: FrontRequest, _response: FrontResponse) -> ResponseDecision {
        // Not called: `on_request` skips the answer.
        ResponseDecision::Pass
    }
}

/// Why `request` would change data, if it would.
fn refusal(request: &FrontRequest) -> Option<String> {
    match request.api {
        Api::SoapPartner | Api::SoapEnterprise => {
            // The host read the envelope already.
            let name = operation()?;
            let allowed = config("allow").unwrap_or_default();
            let extra = allowed.split(',').map(str::trim);
            let read = READS.contains(&name.as_str()) || extra.clone().any(|a| a == name);
            (!read).then(|| format!("the SOAP operation {name}"))
        }
        Api::SoapMetadata => Some("the Metadata API".into()),
        Api::Bulk => {
            // A job is created with its operation; batches and closing a
            // job only follow a job that was allowed.
            let body = String::from_utf8_lossy(&request.body);
            let creates_job =
                request.method == "POST" && request.path.trim_end_matches('/').ends_with("/job");
            let reads = ["query", "queryAll"].iter().any(|op| {
                body.contains(&format!("<operation>{op}</operation>"))
                    || body.contains(&format!("\"operation\":\"{op}\""))
                    || body.contains(&format!("\"operation\" : \"{op}\""))
            });
            (creates_job && !reads).then(|| "a Bulk API job that is not a query".into())
        }
        Api::Rest | Api::ApexRest => {
            let reads = matches!(request.method.as_str(), "GET" | "HEAD" | "OPTIONS");
            // Bulk 2.0 query jobs and parameterized search are POSTs that read.
            let path = request.path.trim_end_matches('/');
            let query_job = request.method == "POST"
                && (path.ends_with("/jobs/query") || path.ends_with("/parameterizedSearch"));
            (!reads && !query_job).then(|| format!("{} {}", request.method, request.path))
        }
    }
}

/// The component's exports (wit-bindgen's glue is `unsafe` code).
#[allow(unsafe_code, reason = "wit-bindgen's export glue")]
mod exports {
    use super::{ReadOnly, bindings};
    bindings::export!(ReadOnly with_types_in bindings);
}

/// What `std` would bring on wasm32-wasip2 (only there: natively, for the
/// workspace's tests, `std` is linked as usual).
#[cfg(target_family = "wasm")]
mod runtime {
    use core::sync::atomic::{AtomicBool, Ordering};

    use super::bindings::twoway::gateway::context::{Level, log};

    // wasi-libc: its `malloc` (which starts from the free part of the
    // instance's initial memory, where dlmalloc's crate would grow the memory
    // in every fresh instance, a system call each) and the `memcmp` `core`
    // calls. None of it imports WASI.
    #[allow(unsafe_code, reason = "wasi-libc's allocator")]
    #[link(name = "c")]
    unsafe extern "C" {
        fn malloc(size: usize) -> *mut u8;
        fn aligned_alloc(align: usize, size: usize) -> *mut u8;
        fn realloc(ptr: *mut u8, size: usize) -> *mut u8;
        fn free(ptr: *mut u8);
    }

    /// wasi-libc's `malloc`, as `std` uses it on wasm32-wasip2.
    struct LibcAlloc;

    /// `malloc` aligns to 16 bytes; larger alignments use `aligned_alloc`.
    const MALLOC_ALIGN: usize = 16;

    // SAFETY: the C allocator's contract: `malloc`/`aligned_alloc` return
    // memory of at least `size` bytes aligned as asked (or null), `free` and
    // `realloc` take pointers they returned.
    #[allow(unsafe_code, reason = "the global allocator over wasi-libc")]
    unsafe impl core::alloc::GlobalAlloc for LibcAlloc {
        unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
            // SAFETY: see the impl.
            unsafe {
                if layout.align() <= MALLOC_ALIGN {
                    malloc(layout.size())
                } else {
                    aligned_alloc(layout.align(), layout.size())
                }
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, _layout: core::alloc::Layout) {
            // SAFETY: see the impl.
            unsafe { free(ptr) }
        }

        unsafe fn realloc(
            &self,
            ptr: *mut u8,
            layout: core::alloc::Layout,
            new_size: usize,
        ) -> *mut u8 {
            // SAFETY: see the impl; a larger alignment cannot use `realloc`.
            unsafe {
                if layout.align() <= MALLOC_ALIGN {
                    realloc(ptr, new_size)
                } else {
                    let new = aligned_alloc(layout.align(), new_size);
                    if !new.is_null() {
                        core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        free(ptr);
                    }
                    new
                }
            }
        }
    }

    #[global_allocator]
    static ALLOCATOR: LibcAlloc = LibcAlloc;

    /// Set by the first panic: a panic while reporting one traps at once.
    static PANICKING: AtomicBool = AtomicBool::new(false);

    /// The message to the gateway's log (there is no stderr without WASI),
    /// then a trap: the gateway answers the request as a failed policy.
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        if !PANICKING.swap(true, Ordering::Relaxed) {
            log(Level::Error, &alloc::format!("{info}"));
        }
        core::arch::wasm32::unreachable()
    }

    /// The canonical ABI's allocation entry point (wasi-libc's, under `std`).
    // SAFETY: the host calls it as the canonical ABI specifies: `old_ptr`
    // and `old_len` are an earlier allocation of `align`, and `align` is a
    // power of two.
    #[allow(unsafe_code, reason = "the canonical ABI's realloc export")]
    #[unsafe(export_name = "cabi_realloc")]
    unsafe extern "C" fn cabi_realloc(
        old_ptr: *mut u8,
        old_len: usize,
        align: usize,
        new_len: usize,
    ) -> *mut u8 {
        use alloc::alloc::{Layout, alloc, handle_alloc_error, realloc};
        if new_len == 0 {
            return align as *mut u8;
        }
        // SAFETY: see the function's comment; `new_len` is not zero.
        unsafe {
            let layout = Layout::from_size_align_unchecked(new_len, align);
            let ptr = if old_len == 0 {
                alloc(layout)
            } else {
                realloc(
                    old_ptr,
                    Layout::from_size_align_unchecked(old_len, align),
                    new_len,
                )
            };
            if ptr.is_null() {
                handle_alloc_error(layout);
            }
            ptr
        }
    }
}
