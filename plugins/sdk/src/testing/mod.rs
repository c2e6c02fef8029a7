//! Unit tests for workflows without a gateway: a scriptable fake host.
//!
//! Compiled for the native target only (`cargo test --target <host triple>`;
//! the plugin workspace's default target is `wasm32-wasip2`). There the
//! SDK's [`send`](crate::send), [`session`](crate::session),
//! [`config`](crate::config) and [`log`](crate::log) call the [`FakeHost`]
//! installed on the current thread instead of the gateway. Install one at
//! the start of each test, script what the API answers, call `handle()`,
//! then check the response, the requests the workflow sent and what it
//! logged:
//!
//! ```
//! use twoway_plugin::prelude::*;
//! use twoway_plugin::testing::{FakeHost, fail, json_body, json_request};
//!
//! struct FindContact;
//!
//! impl Guest for FindContact {
//!     fn handle(request: InboundRequest) -> Result<WorkflowResponse, WorkflowError> {
//!         let email: String = request.json::<Value>()?["email"].as_str().unwrap_or("").into();
//!         let soql = format!("SELECT Id FROM Contact WHERE Email = {}", soql::literal(&email));
//!         let found = rest::query_first(&soql)?;
//!         log(Level::Info, &format!("looked up {email}"));
//!         Ok(json_response(200, &json!({ "id": found.map(|r| r["Id"].clone()) })))
//!     }
//! }
//!
//! let host = FakeHost::install();
//! host.on_query("SELECT Id FROM Contact WHERE Email = 'wile@coyote.example'")
//!     .json(200, &json!({"totalSize": 1, "done": true, "records": [{"Id": "003A"}]}));
//!
//! let response = FindContact::handle(json_request("POST", "/", &json!({"email": "wile@coyote.example"})))
//!     .unwrap();
//! assert_eq!(json_body(&response.body), json!({"id": "003A"}));
//! assert_eq!(host.requests().len(), 1);
//! assert_eq!(host.logs()[0].message, "looked up wile@coyote.example");
//!
//! // What the host can fail with: built in `fail`.
//! host.on(Api::Rest, "GET", "query*").fail(fail::unavailable("timed out"));
//! ```
//!
//! Rules are tried in the order they were added; the first that matches
//! and is not used up answers. A scripted answer is judged by the gateway's
//! own classifier before the workflow sees it: its `verdict` is the one
//! production would give, and an answer the gateway acts on itself becomes
//! the gateway's error (a REQUEST_LIMIT_EXCEEDED fault is
//! `api-limit-exceeded`, as in production). A request no rule answers panics with the
//! request and how to script an answer, so the test fails and says why.
//! Each log line is also printed to stderr (shown for failing tests).

pub mod fail;
pub(crate) mod imports;
mod messages;
pub(crate) mod soap;
#[cfg(test)]
mod tests;
mod verdict;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

pub use messages::{json_body, json_request, request, response, session_info};

use crate::{Api, Level, OutboundRequest, SessionInfo, UpstreamError, UpstreamResponse};

/// What a closure rule answers: `None` lets the next rule try.
pub type Answer = Option<Result<UpstreamResponse, UpstreamError>>;

type Responder = Rc<RefCell<dyn FnMut(&OutboundRequest) -> Answer>>;

thread_local! {
    static INSTALLED: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

/// One line a workflow logged through [`log`](crate::log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

/// A fake gateway for the current thread; installed by [`FakeHost::install`]
/// and removed again when dropped.
pub struct FakeHost {
    shared: Rc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: RefCell<State>,
}

struct State {
    rules: Vec<Rule>,
    config: BTreeMap<String, String>,
    session: Result<SessionInfo, UpstreamError>,
    requests: Vec<OutboundRequest>,
    logs: Vec<LogLine>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            config: BTreeMap::new(),
            session: Ok(session_info()),
            requests: Vec::new(),
            logs: Vec::new(),
        }
    }
}

struct Rule {
    matcher: Matcher,
    respond: Respond,
    /// How many more requests it answers; `None`: any number.
    remaining: Option<usize>,
}

#[derive(Clone)]
enum Respond {
    Fixed(Result<UpstreamResponse, UpstreamError>),
    With(Responder),
}

#[derive(Debug, Clone)]
enum Matcher {
    Route {
        api: Api,
        method: String,
        path: String,
    },
    Any,
}

impl Matcher {
    fn matches(&self, request: &OutboundRequest) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Route { api, method, path } => {
                *api == request.api
                    && method.eq_ignore_ascii_case(&request.method)
                    && match path.strip_suffix('*') {
                        Some(prefix) => request.path.starts_with(prefix),
                        None => request.path == *path,
                    }
            }
        }
    }
}

impl FakeHost {
    /// Installs a fresh fake host on this thread (replacing any other) with
    /// no scripted answers, no config and the session facts of
    /// [`session_info`].
    pub fn install() -> FakeHost {
        let shared = Rc::new(Shared::default());
        INSTALLED.with(|slot| *slot.borrow_mut() = Some(shared.clone()));
        FakeHost { shared }
    }

    /// Sets the workflow config value `key` (what `config(key)` returns).
    pub fn config(&self, key: &str, value: &str) -> &Self {
        self.state().config.insert(key.into(), value.into());
        self
    }

    /// The session facts `session()` returns.
    pub fn session(&self, info: SessionInfo) -> &Self {
        self.state().session = Ok(info);
        self
    }

    /// Makes `session()` fail with `error` (see [`fail`]).
    pub fn session_error(&self, error: UpstreamError) -> &Self {
        self.state().session = Err(error);
        self
    }

    /// Scripts the answer to requests to `api` with `method` (any case) and
    /// exactly `path` (relative to the API's base, query included); a path
    /// ending in `*` matches every path that starts with what precedes it.
    pub fn on(&self, api: Api, method: &str, path: &str) -> Script<'_> {
        Script {
            host: self,
            matcher: Matcher::Route {
                api,
                method: method.into(),
                path: path.into(),
            },
            times: None,
        }
    }

    /// Scripts the answer to the REST query `soql`, as
    /// [`rest::query_first`](crate::rest::query_first) and
    /// [`rest::get`](crate::rest::get)`(&rest::query_path(..))` send it.
    pub fn on_query(&self, soql: &str) -> Script<'_> {
        self.on(Api::Rest, "GET", &crate::rest::query_path(soql))
    }

    /// Scripts any request (every API, method and path).
    pub fn on_any(&self) -> Script<'_> {
        Script {
            host: self,
            matcher: Matcher::Any,
            times: None,
        }
    }

    /// Adds a rule that asks `respond` for each request that reaches it:
    /// `Some(answer)` answers, `None` passes the request to the next rule.
    pub fn on_send(&self, respond: impl FnMut(&OutboundRequest) -> Answer + 'static) -> &Self {
        self.state().rules.push(Rule {
            matcher: Matcher::Any,
            respond: Respond::With(Rc::new(RefCell::new(respond))),
            remaining: None,
        });
        self
    }

    /// Every request the workflow sent, in order (answered or not).
    pub fn requests(&self) -> Vec<OutboundRequest> {
        self.state().requests.clone()
    }

    /// Every line the workflow logged, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state().logs.clone()
    }

    /// Forgets the requests and log lines seen so far (rules and config stay).
    pub fn clear_history(&self) {
        let mut state = self.state();
        state.requests.clear();
        state.logs.clear();
    }

    fn state(&self) -> std::cell::RefMut<'_, State> {
        self.shared.state.borrow_mut()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        INSTALLED.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_some_and(|s| Rc::ptr_eq(s, &self.shared)) {
                *slot = None;
            }
        });
    }
}

/// A rule being scripted: say how many times it answers, then what.
#[must_use = "a script does nothing until given an answer (json, xml, reply, fail)"]
pub struct Script<'a> {
    host: &'a FakeHost,
    matcher: Matcher,
    times: Option<usize>,
}

impl<'a> Script<'a> {
    /// Answers one request only; later ones go to the next matching rule
    /// (script the same route twice to answer a first and a second time).
    pub fn once(self) -> Self {
        self.times(1)
    }

    /// Answers `n` requests only.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }

    /// Answers `status` with a JSON body (`content-type: application/json`).
    pub fn json(self, status: u16, body: &Value) -> &'a FakeHost {
        self.reply(response(
            status,
            "application/json;charset=UTF-8",
            body.to_string(),
        ))
    }

    /// Answers `status` with an XML body (`content-type: text/xml`), as the
    /// SOAP APIs do; a SOAP fault is a 500.
    pub fn xml(self, status: u16, body: &str) -> &'a FakeHost {
        self.reply(response(status, "text/xml;charset=UTF-8", body))
    }

    /// Answers with `response` as it is.
    pub fn reply(self, response: UpstreamResponse) -> &'a FakeHost {
        self.answer(Ok(response))
    }

    /// Fails the request with `error` (see [`fail`]).
    pub fn fail(self, error: UpstreamError) -> &'a FakeHost {
        self.answer(Err(error))
    }

    fn answer(self, answer: Result<UpstreamResponse, UpstreamError>) -> &'a FakeHost {
        self.host.state().rules.push(Rule {
            matcher: self.matcher,
            respond: Respond::Fixed(answer),
            remaining: self.times,
        });
        self.host
    }
}

impl Shared {
    /// The first rule's answer to `request`, using it up once.
    fn answer(&self, request: &OutboundRequest) -> Answer {
        let count = self.state.borrow().rules.len();
        for i in 0..count {
            let respond = {
                let state = self.state.borrow();
                let rule = &state.rules[i];
                if rule.remaining == Some(0) || !rule.matcher.matches(request) {
                    continue;
                }
                rule.respond.clone()
            };
            // No borrow is held here: a closure may log or read config.
            let answer = match respond {
                Respond::Fixed(answer) => Some(answer),
                Respond::With(f) => (f.borrow_mut())(request),
            };
            if answer.is_some() {
                if let Some(n) = &mut self.state.borrow_mut().rules[i].remaining {
                    *n -= 1;
                }
                return answer;
            }
        }
        None
    }

    /// Why no rule answered `request`, and how to script one.
    fn unanswered(&self, request: &OutboundRequest) -> String {
        let state = self.state.borrow();
        let scripted: Vec<String> = state
            .rules
            .iter()
            .map(|r| {
                let used_up = if r.remaining == Some(0) {
                    " (used up)"
                } else {
                    ""
                };
                match &r.matcher {
                    Matcher::Route { api, method, path } => {
                        format!("{api:?} {method} {path}{used_up}")
                    }
                    Matcher::Any => format!("any request{used_up}"),
                }
            })
            .collect();
        format!(
            "FakeHost: no scripted answer for {api:?} {method} {path:?}; script one with \
             host.on({api:?}, {method:?}, {path:?}).json(200, &json!({{...}})) \
             (or .xml / .reply / .fail). Scripted: [{}]",
            scripted.join("; "),
            api = request.api,
            method = request.method,
            path = request.path,
        )
    }
}
