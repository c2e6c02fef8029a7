//! Bindings for the WIT worlds `twoway:gateway/workflow` and
//! `twoway:gateway/policy`, generated once here (the policy world's shared
//! interfaces are the workflow world's, so one host implementation serves
//! both); the rest of the host uses the curated names re-exported below.

wasmtime::component::bindgen!({
    world: "workflow",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

/// The policy world, reusing the workflow world's `types` and `context`.
mod policy_world {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../wit",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq],
        with: {
            "twoway:gateway/types": super::twoway::gateway::types,
            "twoway:gateway/context": super::twoway::gateway::context,
        },
    });
}

pub use self::policy_world::PolicyPre;
pub use self::policy_world::twoway::gateway::policy_types::{
    FrontRequest, FrontResponse, Host as PolicyTypesHost, RequestDecision, ResponseDecision,
};

/// Defines the types-only interface `policy-types` in `linker` (the policy
/// world's other imports are the workflow world's).
pub fn add_policy_types_to_linker<T: PolicyTypesHost + Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    self::policy_world::twoway::gateway::policy_types::add_to_linker::<
        T,
        wasmtime::component::HasSelf<T>,
    >(linker, |s| s)
}
pub use self::twoway::gateway::context::Host as ContextHost;
pub use self::twoway::gateway::types::Host as TypesHost;
pub use self::twoway::gateway::types::{
    Api, Fault, Header, Level, OutboundRequest, RetryLater, SessionInfo, UpstreamError,
    UpstreamResponse, Verdict,
};
pub use self::twoway::gateway::upstream::Host as UpstreamHost;
