//! What a tenant's upstream tells whoever watches it (the gateway's
//! metrics): the duration and outcome of each call to the API, and of each
//! login a call waited for. Nothing here carries a secret.

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
}
