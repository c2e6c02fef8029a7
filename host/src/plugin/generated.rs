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

    impl<T: Send + 'static> PolicyPre<T> {
        /// A fresh instance, as `instantiate_async` makes it but without
        /// type-checking its exports once more: [`PolicyPre::new`] checked
        /// them against the component, which every instance shares.
        pub async fn instantiate_fresh(
            &self,
            mut store: impl wasmtime::AsContextMut<Data = T>,
        ) -> wasmtime::Result<Policy> {
            let mut store = store.as_context_mut();
            let instance = self.instance_pre.instantiate_async(&mut store).await?;
            let indices = &self.indices;
            Ok(Policy {
                on_request: super::export(&instance, &mut store, &indices.on_request)?,
                on_response: super::export(&instance, &mut store, &indices.on_response)?,
            })
        }
    }
}

impl<T: Send + 'static> WorkflowPre<T> {
    /// A fresh instance, as `instantiate_async` makes it but without
    /// type-checking its export once more: [`WorkflowPre::new`] checked it
    /// against the component, which every instance shares.
    pub async fn instantiate_fresh(
        &self,
        mut store: impl wasmtime::AsContextMut<Data = T>,
    ) -> wasmtime::Result<Workflow> {
        let mut store = store.as_context_mut();
        let instance = self.instance_pre.instantiate_async(&mut store).await?;
        Ok(Workflow {
            handle: export(&instance, &mut store, &self.indices.handle)?,
        })
    }
}

/// The function `index` exports from `instance`.
fn export(
    instance: &wasmtime::component::Instance,
    store: impl wasmtime::AsContextMut,
    index: &wasmtime::component::ComponentExportIndex,
) -> wasmtime::Result<wasmtime::component::Func> {
    instance.get_func(store, index).ok_or_else(|| {
        wasmtime::format_err!("the instance does not export a function it was linked with")
    })
}

pub use self::policy_world::twoway::gateway::front_door::Host as FrontDoorHost;
pub use self::policy_world::twoway::gateway::policy_types::{
    FrontRequest, FrontResponse, Host as PolicyTypesHost, RequestDecision, ResponseDecision,
};
pub use self::policy_world::{Policy, PolicyPre};

/// Defines the policy world's own imports in `linker`: the types-only
/// `policy-types` and `front-door` (its other imports are the workflow
/// world's).
pub fn add_policy_imports_to_linker<T: PolicyTypesHost + FrontDoorHost + Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
) -> wasmtime::Result<()> {
    use self::policy_world::twoway::gateway::{front_door, policy_types};
    policy_types::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)?;
    front_door::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)
}
pub use self::twoway::gateway::context::Host as ContextHost;
pub use self::twoway::gateway::soap::{
    Host as SoapHost, PackedResults, ResultField, SaveError as SoapSaveError,
    SaveResult as SoapSaveResult, Span,
};
pub use self::twoway::gateway::types::Host as TypesHost;
pub use self::twoway::gateway::types::{
    Api, Fault, Header, Level, OutboundRequest, RetryLater, SessionInfo, UpstreamError,
    UpstreamResponse, Verdict,
};
pub use self::twoway::gateway::upstream::Host as UpstreamHost;
