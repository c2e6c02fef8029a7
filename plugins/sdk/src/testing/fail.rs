//! The [`UpstreamError`](crate::UpstreamError)s a test can script for `send` (with
//! [`Script::fail`](super::Script::fail)) or `session` (with
//! [`FakeHost::session_error`](super::FakeHost::session_error)).
//!
//! Every upstream error the fake host hands a workflow is built by
//! [`crate::upstream_error`], re-exported here, so a change of the WIT's
//! error cases changes that file only; tests that use these functions keep
//! compiling.

pub use crate::upstream_error::*;
