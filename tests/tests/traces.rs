//! Traces of a real `twoway serve` with `[telemetry] otlp_endpoint`,
//! received by a real OTLP/HTTP receiver in the test (a loopback HTTP
//! server that takes `POST /v1/traces` and decodes the protobuf with the
//! OTLP definitions): one span per request that continues the caller's
//! W3C `traceparent`, with children for the queue wait, the plugin call,
//! its upstream call and the login that call waited for; no attribute
//! carries a secret.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use nix::sys::signal::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use twoway_testkit::tenants::{ACME_API_KEY, ACME_PASSWORD, ACME_TOKEN};
use twoway_tests::gateway::{ACME, TestGateway, http, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::start_sim;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP receiver on loopback; what it received.
async fn receiver() -> (std::net::SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let received: Received = Arc::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let store = store.clone();
                    async move {
                        let ok = req.method() == "POST"
                            && req.uri().path() == "/v1/traces"
                            && req
                                .headers()
                                .get("content-type")
                                .is_some_and(|v| v == "application/x-protobuf");
                        let body = req.into_body().collect().await.map(|b| b.to_bytes());
                        let status = match (ok, body) {
                            (true, Ok(body)) => match ExportTraceServiceRequest::decode(body) {
                                Ok(export) => {
                                    store.lock().unwrap().push(export);
                                    200
                                }
                                Err(_) => 400,
                            },
                            _ => 400,
                        };
                        let answer = ExportTraceServiceResponse::default().encode_to_vec();
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .status(status)
                                .header("content-type", "application/x-protobuf")
                                .body(Full::new(Bytes::from(answer)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(&kv.value))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_one_trace_continuing_the_callers() {
    let (collector, received) = receiver().await;
    let sim = start_sim().await;
    let server = format!(
        "drain_grace_ms = 0\n[telemetry]\notlp_endpoint = \"http://{collector}/v1/traces\"\nservice_name = \"twoway-test\"\n"
    );
    let mut gw = TestGateway::configure(
        &sim,
        &server,
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &[("get_user_info.wasm", GET_USER_INFO)],
    );
    let process = gw.serve_process_logged(&[], &[]);
    gw.wait_ready().await;
    let reply = http(
        "POST",
        &format!("{}/tenants/acme/workflows/user", gw.url),
        &[
            ("authorization", &format!("Bearer {ACME_API_KEY}")),
            ("content-type", "application/json"),
            ("traceparent", &format!("00-{TRACE}-{PARENT}-01")),
        ],
        "{}".to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The rest of the batch is sent when the gateway stops.
    process.signal(Signal::SIGTERM);
    let (code, _, stderr) = process.wait(Duration::from_secs(120));
    assert_eq!(code, 0, "{stderr:#?}");

    let exports = received.lock().unwrap().clone();
    assert!(
        !exports.is_empty(),
        "no traces received:\n{}",
        stderr.join("\n")
    );
    let mut resources: Vec<KeyValue> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    for export in &exports {
        for rs in &export.resource_spans {
            resources.extend(rs.resource.iter().flat_map(|r| r.attributes.clone()));
            spans.extend(rs.scope_spans.iter().flat_map(|s| s.spans.clone()));
        }
    }
    assert!(
        resources
            .iter()
            .any(|kv| kv.key == "service.name" && text(&kv.value) == "twoway-test"),
        "{resources:?}"
    );
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name:?} in {names:?}"))
    };
    let request = named("POST /tenants/{tenant}/workflows/{workflow}");
    assert_eq!(hex(&request.trace_id), TRACE, "the caller's trace goes on");
    assert_eq!(
        hex(&request.parent_span_id),
        PARENT,
        "under the caller's span"
    );
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attribute(request, "twoway.tenant").as_deref(), Some("acme"));
    let child_of = |span: &Span, parent: &Span| {
        assert_eq!(hex(&span.trace_id), TRACE, "{}", span.name);
        assert_eq!(
            span.parent_span_id, parent.span_id,
            "{} under {}",
            span.name, parent.name
        );
    };
    child_of(named("queue wait"), request);
    let plugin = named("plugin user");
    child_of(plugin, request);
    let upstream = spans
        .iter()
        .find(|s| s.name.starts_with("upstream "))
        .unwrap_or_else(|| panic!("no upstream span in {names:?}"));
    child_of(upstream, plugin);
    assert_eq!(upstream.kind, SpanKind::Client as i32);
    assert_eq!(
        attribute(upstream, "twoway.outcome").as_deref(),
        Some("success")
    );
    child_of(named("login"), upstream);

    // No secret in any attribute: keys, passwords, tokens, session ids
    // (the simulator's are `<org id>!<random>`, as Salesforce's).
    let values: Vec<String> = spans
        .iter()
        .flat_map(|s| {
            s.attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, text(&kv.value)))
        })
        .chain(
            resources
                .iter()
                .map(|kv| format!("{}={}", kv.key, text(&kv.value))),
        )
        .collect();
    for value in &values {
        for secret in [ACME_API_KEY, ACME_PASSWORD, ACME_TOKEN, "!"] {
            assert!(!value.contains(secret), "a secret in {value}");
        }
    }
}
