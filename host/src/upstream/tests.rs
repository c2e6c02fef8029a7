//! Unit tests of [`TenantUpstream::send`] over a scripted [`Exchange`]: no
//! sockets, the real session layer, classifier and budget. Re-login and one
//! retry, the verdicts, REQUEST_LIMIT_EXCEEDED, the API budget and what is
//! stripped from answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::config::Auth;
use crate::secret::Secret;
use crate::session::{MemoryStore, SessionSettings};
use crate::transport::{Pending, Reply};

const INSTANCE: &str = "https://na1.example.com/services/Soap/u/62.0/00D000000000001";

/// A login answer giving session `id`.
fn login(id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result><passwordExpired>false</passwordExpired><serverUrl>{INSTANCE}</serverUrl><sessionId>{id}</sessionId><userId>005000000000001AAA</userId><userInfo><sessionSecondsValid>7200</sessionSecondsValid></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"#
    )
}

/// A SOAP fault with `code` and `message`.
fn fault(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail><sf:UnexpectedErrorFault><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:UnexpectedErrorFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
    )
}

/// getUserInfo's answer, reporting `used` of 15000 API requests.
fn user_info(used: u64) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Header><LimitInfoHeader><limitInfo><current>{used}</current><limit>15000</limit><type>API REQUESTS</type></limitInfo></LimitInfoHeader></soapenv:Header><soapenv:Body><getUserInfoResponse><result><userName>integration@acme.example</userName></result></getUserInfoResponse></soapenv:Body></soapenv:Envelope>"#
    )
}

/// Answers the scripted replies in order and keeps every request.
#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<(u16, String)>>,
    seen: Mutex<Vec<(String, String)>>,
}

impl Script {
    fn new(replies: &[(u16, &str)]) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.iter().map(|(s, b)| (*s, b.to_string())).collect()),
            seen: Mutex::default(),
        })
    }

    /// (URL, body) of every request sent, in order.
    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Exchange for Script {
    fn exchange(&self, request: http::Request<Bytes>) -> Pending<'_> {
        let (parts, body) = request.into_parts();
        self.seen.lock().unwrap().push((
            parts.uri.to_string(),
            String::from_utf8_lossy(&body).into_owned(),
        ));
        let next = self.replies.lock().unwrap().pop_front();
        Box::pin(async move {
            let (status, body) = next.expect("the script has an answer for every request");
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::CONTENT_TYPE, "text/xml".parse().unwrap());
            headers.insert(http::header::SET_COOKIE, "sid=secret".parse().unwrap());
            Ok(Reply {
                status,
                headers,
                body: Bytes::from(body),
            })
        })
    }
}

fn upstream(script: Arc<Script>, budget: ApiBudget) -> Arc<TenantUpstream> {
    observed(script, budget, None)
}

/// [`upstream`] over any exchange, telling `observer` what it does.
fn observed(
    script: Arc<dyn Exchange>,
    budget: ApiBudget,
    observer: Option<Arc<dyn Observer>>,
) -> Arc<TenantUpstream> {
    let settings = Settings {
        tenant: "acme".into(),
        identity: None,
        extra_roots: Vec::new(),
        mutual_auth: true,
        mutual_auth_port: 8443,
        transport: crate::config::Upstream {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            pool_idle_timeout: Duration::from_secs(60),
            pool_max_idle_per_host: 4,
        },
        proxy: None,
        session: SessionSettings {
            tenant: "acme".into(),
            login_url: "https://login.example.com".parse().unwrap(),
            api_version: "62.0".into(),
            auth: Auth::SoapLogin {
                username: "integration@acme.example".into(),
                password: Secret::new("pw"),
                security_token: None,
            },
            session_seconds: 7200,
            login_timeout: Duration::from_secs(5),
            login_budget_per_hour: 100,
        },
        api_budget: budget,
    };
    let mut upstream =
        TenantUpstream::with_exchange(settings, Arc::new(MemoryStore::default()), script)
            .expect("an upstream without an identity builds");
    upstream.observer = observer;
    Arc::new(upstream)
}

fn get_user_info() -> Outbound {
    Outbound {
        api: Api::SoapPartner,
        method: http::Method::POST,
        path: String::new(),
        headers: http::HeaderMap::new(),
        body: Bytes::from_static(
            br#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#,
        ),
    }
}

#[tokio::test]
async fn a_rejected_session_logs_in_again_and_the_call_is_retried_once() {
    let rejected = fault(
        "INVALID_SESSION_ID",
        "Invalid Session ID found in SessionHeader: Illegal Session",
    );
    let script = Script::new(&[
        (200, &login("00D000000000001!first")),
        (500, &rejected),
        (200, &login("00D000000000001!second")),
        (200, &user_info(6)),
    ]);
    let upstream = upstream(script.clone(), ApiBudget::default());
    let answer = upstream.send(get_user_info()).await.expect("an answer");
    assert_eq!((answer.status, answer.verdict), (200, Verdict::Success));
    let seen = script.seen();
    assert_eq!(seen.len(), 4, "login, call, login, call: {seen:?}");
    assert!(
        seen[0]
            .0
            .starts_with("https://login.example.com/services/Soap/u/62.0")
    );
    assert_eq!(
        seen[1].0,
        "https://na1.example.com:8443/services/Soap/u/62.0/00D000000000001"
    );
    assert!(seen[1].1.contains("00D000000000001!first"));
    assert!(seen[3].1.contains("00D000000000001!second"));
    assert_eq!(upstream.sessions().logins(), 2);
}

#[tokio::test]
async fn a_fresh_session_rejected_too_is_session_unavailable_after_one_retry() {
    let rejected = fault("INVALID_SESSION_ID", "Session expired or invalid");
    let script = Script::new(&[
        (200, &login("00D000000000001!first")),
        (500, &rejected),
        (200, &login("00D000000000001!second")),
        (500, &rejected),
    ]);
    let upstream = upstream(script.clone(), ApiBudget::default());
    let e = upstream.send(get_user_info()).await.unwrap_err();
    assert_eq!(e.problem_code(), UpstreamCode::SessionUnavailable, "{e}");
    assert_eq!(script.seen().len(), 4, "no third attempt");
}

#[tokio::test]
async fn faults_are_answers_with_their_verdict_and_no_secret_header() {
    let script = Script::new(&[
        (200, &login("00D000000000001!first")),
        (500, &fault("INVALID_FIELD", "No such column 'Foo'")),
    ]);
    let upstream = upstream(script, ApiBudget::default());
    let answer = upstream
        .send(get_user_info())
        .await
        .expect("a fault is an answer");
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.verdict.fault(),
        Some(("INVALID_FIELD".into(), "No such column 'Foo'".into()))
    );
    assert!(
        answer.headers.get(http::header::SET_COOKIE).is_none(),
        "cookies never reach a workflow"
    );
}

#[tokio::test]
async fn request_limit_exceeded_is_api_limit_exceeded_with_a_minute_wait() {
    let script = Script::new(&[
        (200, &login("00D000000000001!first")),
        (
            500,
            &fault("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        ),
    ]);
    let upstream = upstream(script, ApiBudget::default());
    let e = upstream.send(get_user_info()).await.unwrap_err();
    assert_eq!(e.problem_code(), UpstreamCode::ApiLimitExceeded);
    assert_eq!(e.retry_after(), Some(API_LIMIT_RETRY));
}

#[tokio::test]
async fn a_spent_budget_refuses_before_anything_is_sent() {
    let script = Script::new(&[(200, &login("00D000000000001!first")), (200, &user_info(6))]);
    let budget = ApiBudget {
        per_day: Some(5),
        reserve: None,
    };
    let upstream = upstream(script.clone(), budget);
    upstream
        .send(get_user_info())
        .await
        .expect("the first call goes");
    let e = upstream.send(get_user_info()).await.unwrap_err();
    assert!(matches!(e, UpstreamError::ApiBudget(_)), "{e}");
    assert_eq!(e.problem_code(), UpstreamCode::ApiLimitExceeded);
    assert_eq!(
        script.seen().len(),
        2,
        "nothing sent after the budget is spent"
    );
}

#[tokio::test]
async fn a_hostile_answer_is_refused_unread() {
    let deep = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>"#,
        "<a>".repeat(10_000)
    );
    let script = Script::new(&[(200, &login("00D000000000001!first")), (200, &deep)]);
    let upstream = upstream(script, ApiBudget::default());
    let e = upstream.send(get_user_info()).await.unwrap_err();
    assert_eq!(e.problem_code(), UpstreamCode::UpstreamRefused, "{e}");
}

#[tokio::test]
async fn methods_the_api_does_not_take_are_never_sent() {
    let script = Script::new(&[(200, &login("00D000000000001!first")), (200, &user_info(6))]);
    let upstream = upstream(script.clone(), ApiBudget::default());
    for (api, method) in [
        (Api::SoapPartner, "GET"),
        (Api::Rest, "TRACE"),
        (Api::Rest, "CONNECT"),
        (Api::Bulk, "OPTIONS"),
        (Api::ApexRest, "PURGE"),
    ] {
        let out = Outbound {
            api,
            method: http::Method::from_bytes(method.as_bytes()).unwrap(),
            path: "sobjects".into(),
            ..get_user_info()
        };
        let e = upstream.send(out).await.unwrap_err();
        assert!(matches!(e, UpstreamError::InvalidRequest(_)), "{e}");
        assert!(
            e.to_string().contains(&format!("{method} is not a method")),
            "{e}"
        );
    }
    assert!(
        script.seen().is_empty(),
        "nothing was sent, not even a login"
    );
    upstream
        .send(get_user_info())
        .await
        .expect("POST to SOAP goes");
}

/// The task each step of a call ran in: the exchange's requests and the
/// observer's report of the call.
#[derive(Default)]
struct Tasks {
    exchanged: Mutex<Vec<Option<tokio::task::Id>>>,
    reported: Mutex<Vec<Option<tokio::task::Id>>>,
}

/// The script's answers, each request's task kept.
struct Watched(Arc<Script>, Arc<Tasks>);

impl Exchange for Watched {
    fn exchange(&self, request: http::Request<Bytes>) -> Pending<'_> {
        self.1.exchanged.lock().unwrap().push(tokio::task::try_id());
        self.0.exchange(request)
    }
}

impl Observer for Tasks {
    fn upstream_call(&self, _: &str, _: Api, _: Result<&Verdict, UpstreamCode>, _: Duration) {
        self.reported.lock().unwrap().push(tokio::task::try_id());
    }

    fn login(&self, _: &str, _: bool, _: Duration) {}

    fn handshake(&self, _: &str) {}
}

/// The exchange runs as a task of its own (off a plugin's fiber), and the
/// call is reported from the caller's task, where the request's tally (a
/// task-local of the access log) counts it.
#[tokio::test]
async fn a_call_is_exchanged_in_a_task_of_its_own_and_reported_in_its_callers() {
    let script = Script::new(&[(200, &login("00Dsid")), (200, &user_info(1))]);
    let tasks = Arc::new(Tasks::default());
    let exchange = Arc::new(Watched(script, tasks.clone()));
    let upstream = observed(exchange, ApiBudget::default(), Some(tasks.clone()));
    let caller = tokio::spawn(async move {
        upstream.send(get_user_info()).await.expect("an answer");
        tokio::task::id()
    });
    let caller = caller.await.expect("the caller ran");
    let exchanged = tasks.exchanged.lock().unwrap().clone();
    assert_eq!(exchanged.len(), 2, "the login and the call");
    for task in exchanged {
        assert!(task.is_some_and(|t| t != caller), "{task:?} vs {caller}");
    }
    assert_eq!(*tasks.reported.lock().unwrap(), [Some(caller)]);
}

/// Logs in, then holds the call's request until dropped: `started` fires
/// when the request is out, and `alive` is dropped with the exchange.
struct Hanging {
    script: Arc<Script>,
    started: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    alive: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Exchange for Hanging {
    fn exchange(&self, request: http::Request<Bytes>) -> Pending<'_> {
        if request.uri().host() == Some("login.example.com") {
            return self.script.exchange(request);
        }
        let started = self.started.lock().unwrap().take();
        let alive = self.alive.lock().unwrap().take();
        Box::pin(async move {
            let _alive = alive;
            if let Some(started) = started {
                let _ = started.send(());
            }
            std::future::pending().await
        })
    }
}

/// A caller that hangs up (its call dropped mid-exchange) cancels the
/// exchange's task: the request in flight is dropped, not left to run on.
#[tokio::test]
async fn a_call_dropped_mid_exchange_ends_its_exchange() {
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let (alive, ended) = tokio::sync::oneshot::channel::<()>();
    let exchange = Arc::new(Hanging {
        script: Script::new(&[(200, &login("00Dsid"))]),
        started: Mutex::new(Some(started_tx)),
        alive: Mutex::new(Some(alive)),
    });
    let upstream = observed(exchange, ApiBudget::default(), None);
    let call = tokio::spawn(async move { upstream.send(get_user_info()).await.is_ok() });
    started.await.expect("the call's request went out");
    call.abort();
    assert!(call.await.is_err_and(|e| e.is_cancelled()));
    let ended = tokio::time::timeout(Duration::from_secs(30), ended).await;
    assert!(
        matches!(ended, Ok(Err(_))),
        "the exchange was dropped with its call"
    );
}

/// A panic in the exchange is the call's, as when it ran in the caller.
#[tokio::test]
async fn a_panic_in_the_exchange_is_the_calls() {
    let call = tokio::spawn(apart(async {
        if true {
            panic!("in the exchange")
        }
        Ok(())
    }));
    let e = call.await.expect_err("the call panicked");
    assert!(e.is_panic());
}
