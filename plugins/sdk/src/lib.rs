//! `twoway-plugin`: write twoway workflows in Rust.
//!
//! A workflow is a WebAssembly component that exports
//! `handle(inbound-request) -> result<workflow-response, workflow-error>`
//! (world `workflow` of `twoway:gateway@0.3.3`; the crate carries its own
//! copy of the WIT in `wit/`, identical to the repository's `wit/`, so a
//! plugin builds outside this repository).
//! Implement [`Guest`] and register it with [`export!`]:
//!
//! ```ignore
//! use twoway_plugin::prelude::*;
//!
//! struct GetUserInfo;
//!
//! impl Guest for GetUserInfo {
//!     fn handle(_request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
//!         let results = soap::call_for_results(Api::SoapPartner, "<urn:getUserInfo/>")?;
//!         Ok(json_response(200, &results.first()?))
//!     }
//! }
//!
//! twoway_plugin::export!(GetUserInfo);
//! ```
//!
//! The host owns the session: never write a SessionHeader or an
//! `Authorization` header; name an [`Api`] and a path relative to its base.
//!
//! The host's imports are [`send`], [`session`], [`config`] and [`log`], and
//! the SOAP readers of [`soap`] ([`soap::results`], [`soap::save_results`]:
//! the host reads the answer; [`soap::call_for_results`]: the host sends
//! the request and reads the answer in one call). In a component (`wasm32`) they call the
//! host; compiled for the native target (`cargo test`) they call the fake
//! host of the `testing` module (native target only; the SOAP readers run
//! the gateway's reader in process), so `handle()` can be unit-tested
//! without a gateway.

/// The bindings generated from the WIT world, as the host sees them.
///
/// The shared types live in `bindings::twoway::gateway::types`; the imports
/// in `bindings::twoway::gateway::{upstream, soap, context}`. Most plugins only need
/// the [`prelude`].
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "workflow",
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "twoway_plugin::bindings",
    });
}

pub mod errors;
pub mod policy;
pub mod request;
pub mod response;
pub mod rest;
pub mod soap;
pub mod soql;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod upstream_error;

pub use bindings::Guest;
pub use bindings::twoway::gateway::types::{
    Api, Fault, Header, InboundRequest, Level, OutboundRequest, RetryLater, SessionInfo,
    UpstreamError, UpstreamResponse, Verdict, WorkflowError, WorkflowResponse,
};
// The host's imports: in a component, the generated bindings; on the native
// target, the fake host of `testing` (same names and signatures).
#[cfg(target_arch = "wasm32")]
pub use bindings::twoway::gateway::context::{config, log, session};
#[cfg(target_arch = "wasm32")]
pub use bindings::twoway::gateway::upstream::send;
pub use errors::{bad_request, internal, not_found, upstream_fault};
pub use request::RequestExt;
pub use response::{json_response, text_response};
#[cfg(not(target_arch = "wasm32"))]
pub use testing::imports::{config, log, send, session};

/// Registers a type implementing [`Guest`] as the component's `handle` export:
/// `twoway_plugin::export!(MyWorkflow);`, once per plugin crate.
#[doc(inline)]
pub use bindings::export;

/// The value of plugin config key `key` (twoway.toml `[[tenant.workflow]]
/// config`), or `default` when the key is absent.
pub fn config_or(key: &str, default: &str) -> String {
    config(key).unwrap_or_else(|| default.to_string())
}

/// Everything a typical workflow uses: `use twoway_plugin::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Api, Fault, Guest, Header, InboundRequest, Level, OutboundRequest, RequestExt, SessionInfo,
        UpstreamError, UpstreamResponse, Verdict, WorkflowError, WorkflowResponse, bad_request,
        config, config_or, internal, json_response, log, not_found, rest, send, session, soap,
        soql, text_response, upstream_fault,
    };
    pub use serde_json::{Value, json};
}
