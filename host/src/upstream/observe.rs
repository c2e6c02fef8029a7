//! What a tenant's upstream tells whoever watches it (the gateway's
//! metrics), where the work happens: the duration and outcome of each call
//! to the API, each login a call waited for, each login made and each TLS
//! handshake of its pool. A reload's successor tells the same observer, so
//! counts go on across reloads. Nothing here carries a secret.

use std::time::Duration;

use crate::problem::UpstreamCode;
use crate::salesforce::{Api, Verdict};

/// Receives what a [`super::TenantUpstream`] observes.
pub trait Observer: Send + Sync {
    /// One call to the API (a re-login and retry included) took `elapsed`
    /// and ended with an answer and its verdict, or an error's code.
    fn upstream_call(
        &self,
        tenant: &str,
        api: Api,
        ended: Result<&Verdict, UpstreamCode>,
        elapsed: Duration,
    );

    /// A call waited `elapsed` for a login that succeeded or not (each
    /// login is reported once, by the first call that saw it end).
    fn login(&self, tenant: &str, success: bool, elapsed: Duration);

    /// A login of the tenant ended, successful or not (each login once,
    /// whether or not a call waited for it).
    fn login_made(&self, tenant: &str, success: bool);

    /// The tenant's pool made a TLS handshake.
    fn handshake(&self, tenant: &str);
}
