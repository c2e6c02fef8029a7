//! Bindings for the WIT world `twoway:gateway/workflow`, generated once
//! here; the rest of the host uses the curated names re-exported below.

wasmtime::component::bindgen!({
    world: "workflow",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::twoway::gateway::context::Host as ContextHost;
pub use self::twoway::gateway::types::Host as TypesHost;
pub use self::twoway::gateway::types::{
    Api, Fault, Header, Level, OutboundRequest, RetryLater, SessionInfo, UpstreamError,
    UpstreamResponse, Verdict,
};
pub use self::twoway::gateway::upstream::Host as UpstreamHost;
