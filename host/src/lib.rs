//! twoway: a gateway for Salesforce-style APIs that demand mutual TLS.
//!
//! The host owns the client identity, the TLS connections and the session;
//! WebAssembly workflows own the business logic. docs/architecture.md is
//! the map: the path of one request, what each folder owns, the error
//! contract and reload.
#![forbid(unsafe_code)]

pub mod config;
pub mod gateway;
pub mod identity;
#[cfg(test)]
mod layers;
pub mod pem;
pub mod plugin;
pub mod session;
pub mod transport;
pub mod upstream;
pub mod version;

/// The target of the trace spans ([`config::telemetry::TRACE_TARGET`]).
pub use config::telemetry::TRACE_TARGET;

/// The wire formats, the error vocabulary and `Secret` (crate `twoway-wire`).
pub use twoway_wire::{problem, salesforce, secret, xml};
