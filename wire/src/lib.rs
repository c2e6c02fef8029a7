//! twoway's wire formats, with no I/O and no runtime: what Salesforce's
//! APIs send and answer (URLs, session injection, the classification of
//! every answer, login and OAuth parsing, usage headers), the bounded XML
//! parser everything SOAP goes through, the problem vocabulary callers see,
//! and [`secret::Secret`].
//!
//! The gateway (crate `twoway`) re-exports these modules under the same
//! names; the plugin SDK's fake host uses [`salesforce::classify`] so a
//! workflow's unit test sees the verdicts production gives.
#![forbid(unsafe_code)]

pub mod problem;
pub mod salesforce;
pub mod secret;
pub mod xml;
