//! The host's imports on the native target: each asks the [`FakeHost`]
//! installed on the current thread, and panics with how to install one when
//! there is none. Same names and signatures as the generated imports the
//! SDK re-exports in a component.
//!
//! [`FakeHost`]: super::FakeHost

use std::rc::Rc;

use super::{INSTALLED, LogLine, Shared};
use crate::{Level, OutboundRequest, SessionInfo, UpstreamError, UpstreamResponse};

fn installed(import: &str) -> Rc<Shared> {
    INSTALLED.with(|slot| slot.borrow().clone()).unwrap_or_else(|| {
        panic!(
            "twoway_plugin::{import}() was called outside a WebAssembly host and no fake host is \
             installed on this thread. In a native test, start with \
             `let host = twoway_plugin::testing::FakeHost::install();` and script what the API \
             answers (see the docs of twoway_plugin::testing)."
        )
    })
}

/// Sends one request to the API; here, the fake host records it and
/// answers it with the first matching scripted rule, judged by the
/// gateway's classifier (see [`verdict`](super::verdict)). A request no rule
/// answers panics, naming the request and how to script an answer.
pub fn send(request: &OutboundRequest) -> Result<UpstreamResponse, UpstreamError> {
    let host = installed("send");
    host.state.borrow_mut().requests.push(request.clone());
    match host.answer(request) {
        Some(answer) => answer.and_then(|response| super::verdict::judged(request.api, response)),
        None => panic!("{}", host.unanswered(request)),
    }
}

/// The tenant's session facts; here, what the fake host was given
/// (default [`session_info`](super::session_info)).
pub fn session() -> Result<SessionInfo, UpstreamError> {
    installed("session").state.borrow().session.clone()
}

/// A value of the workflow's config; here, what the fake host was given.
pub fn config(key: &str) -> Option<String> {
    installed("config").state.borrow().config.get(key).cloned()
}

/// Writes a line to the gateway's log; here, the fake host keeps it (see
/// [`FakeHost::logs`](super::FakeHost::logs)) and prints it to stderr.
pub fn log(level: Level, message: &str) {
    let host = installed("log");
    eprintln!("[plugin {level:?}] {message}");
    host.state.borrow_mut().logs.push(LogLine {
        level,
        message: message.to_string(),
    });
}
