//! Front-door policies: components of the world `policy` that see every
//! request an existing Salesforce client sends through the gateway's front
//! door, and the API's answer, and pass, change or refuse each.
//!
//! Implement [`Policy`] and register it with [`export_policy!`]:
//!
//! ```ignore
//! use twoway_plugin::policy::*;
//!
//! struct ReadOnly;
//!
//! impl Policy for ReadOnly {
//!     fn on_request(request: FrontRequest) -> RequestDecision {
//!         if request.method == "GET" { RequestDecision::Pass }
//!         else { RequestDecision::Refuse("this tenant is read-only".into()) }
//!     }
//!     fn on_response(_: FrontRequest, _: FrontResponse) -> ResponseDecision {
//!         ResponseDecision::Pass
//!     }
//! }
//!
//! twoway_plugin::policy::export_policy!(ReadOnly);
//! ```
//!
//! A policy shares `config` and `log` (and the tenant's session facts) with
//! workflows; it makes no API calls. Both hooks of one request run in one
//! fresh instance. [`operation`] is what the host made of the request (the
//! SOAP operation, the REST resource): no need to parse the body for it.
//! A policy that does not judge answers calls [`skip_response`] in
//! `on_request`, and its instance ends there (the cheapest policy).

/// The bindings of the policy world; its `types` and `context` are the
/// workflow world's ([`crate::bindings`]).
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        additional_derives: [PartialEq],
        with: {
            "twoway:gateway/types@0.3.3": crate::bindings::twoway::gateway::types,
            "twoway:gateway/context@0.3.3": crate::bindings::twoway::gateway::context,
        },
        pub_export_macro: true,
        export_macro_name: "export_policy",
        default_bindings_module: "twoway_plugin::policy::bindings",
    });
}

pub use crate::{Api, Header, Level, config, config_or, log};
pub use bindings::Guest as Policy;
pub use bindings::twoway::gateway::policy_types::{
    FrontRequest, FrontResponse, RequestDecision, ResponseDecision,
};

/// Registers a type implementing [`Policy`] as the component's exports:
/// `twoway_plugin::policy::export_policy!(MyPolicy);`, once per policy crate.
#[doc(inline)]
pub use bindings::export_policy;

pub use bindings::twoway::gateway::front_door::{operation, skip_response};

/// The operation of a SOAP request (`query`, `create`, `getUserInfo`, ...):
/// the local name of the first element in the envelope's Body; `None` when
/// the body is not such an envelope. The host already tells it
/// ([`operation`]); this reads the body of a request a policy changed.
pub fn soap_operation(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let body = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "Body")?;
    let operation = body.children().find(roxmltree::Node::is_element)?;
    Some(operation.tag_name().name().to_string())
}

/// The value of header `name` (any case).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_soap_operation() {
        let create = br#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header><SessionHeader/></se:Header><se:Body><create xmlns="urn:partner.soap.sforce.com"><sObjects/></create></se:Body></se:Envelope>"#;
        assert_eq!(soap_operation(create).as_deref(), Some("create"));
        assert_eq!(soap_operation(b"{\"not\": \"xml\"}"), None);
        assert_eq!(soap_operation(b"<x/>"), None);
    }
}
