//! Salesforce wire formats, as pure functions without I/O: where each API
//! lives ([`resolve`]), how the session goes into a request ([`inject`]),
//! what an answer means ([`classify`]), the `<result>` elements of a SOAP
//! answer ([`results`]), login and OAuth token replies, and API usage from
//! limit headers. Every parser is bounded and never panics.

mod api;
mod classify;
mod envelope;
mod inject;
mod limits;
mod login;
mod oauth;
pub mod results;
mod scan;

pub use api::{Api, Instance, resolve};
pub use classify::{Fault, Outcome, RestError, Verdict, classify};
pub use envelope::Envelope;
pub use inject::{Prepared, inject, prepare, prepare_parsed, strip_secrets};
pub use limits::api_usage;
pub use login::{LoginFailure, LoginResult, login_envelope, login_path, parse_login_response};
pub use oauth::{OAuthToken, TOKEN_PATH, parse_oauth_response};

/// Why a request could not be turned into a Salesforce call. Messages say
/// what was wrong and how to write it instead; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalesforceError {
    /// An outbound path that is not a plain path below its API's base.
    #[error(
        "outbound path `{path}` refused: {reason}. Paths are relative to the API's base \
         (e.g. `sobjects/Account` for rest, empty for a SOAP call)"
    )]
    InvalidPath { path: String, reason: String },
    /// A SOAP API request whose body is not a SOAP 1.1 envelope.
    #[error(
        "the request body is not a SOAP 1.1 envelope: {0}. Send \
         `<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soapenv:Body>...</soapenv:Body></soapenv:Envelope>`; the host adds the SessionHeader"
    )]
    NotAnEnvelope(String),
    /// A SOAP request body over the caps on the work a document may cause.
    #[error(
        "the request body was refused unparsed: {0}. Salesforce's envelopes need none of this; \
         declare namespaces once, on the Envelope"
    )]
    OverLimits(crate::xml::XmlError),
    /// The session does not say where the APIs live in a usable way.
    #[error("the session's instance is unusable: {0}; log in again or check login_url")]
    InvalidInstance(String),
    /// The session id cannot be written into an HTTP header.
    #[error("the session id contains characters that cannot go in an HTTP header; log in again")]
    InvalidSessionId,
    /// An API name that is not one of the six.
    #[error(
        "unknown API `{0}`: use soap-partner, soap-enterprise, soap-metadata, rest, bulk or apex-rest"
    )]
    UnknownApi(String),
}
