//! What a tenant's upstream tells whoever watches it (the gateway's
//! metrics), where the work happens: the duration and outcome of each call
//! to the API, each login with its duration and each TLS
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

    /// A login of the tenant ended, successful or not, `elapsed` after it
    /// began (each login once, where it ends, whether or not a call waited
    /// for it).
    fn login(&self, tenant: &str, success: bool, elapsed: Duration);

    /// The tenant's pool made a TLS handshake.
    fn handshake(&self, tenant: &str);
}
