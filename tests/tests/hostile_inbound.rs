//! Hostile and unlucky callers against the inbound and admin listeners, on
//! real loopback sockets with real plugins: bursts wait in the tenant's
//! queue, stalled bodies hold no slot and time out, connections are capped,
//! idle admin connections are closed, `/admin/*` takes a token, refused
//! callers cannot tell an unknown tenant from a wrong key, and caller
//! certificates match by exact distinguished name or typed SAN.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use twoway::gateway::Shape;
use twoway_tests::gateway::{
    ACME, GLOBEX, TestGateway, http, server_tls, tenant_with, with_workflow,
};
use twoway_tests::plugins::*;
use twoway_tests::{Client, start_sim};

const ACME_KEY: Option<&str> = Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");

/// Reads until the server closes the connection (the bound only keeps a
/// broken gateway from hanging the test).
async fn read_until_closed(tcp: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), tcp.read_to_end(&mut buf))
        .await
        .expect("the server closed the connection")
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_60_on_a_cold_tenant_completes() {
    let sim = start_sim().await;
    // Default max_concurrency (25), max_queued and queue_timeout_ms.
    let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
    let calls = (0..60).map(|_| {
        let url = format!("{}/tenants/acme/workflows/user", gw.url);
        tokio::spawn(async move {
            http(
                "GET",
                &url,
                &[(
                    "authorization",
                    "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
                )],
                "",
            )
            .await
        })
    });
    let replies = futures_join(calls.collect()).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics.contains("twoway_tenant_queue_wait_seconds_count{tenant=\"acme\"} 60"),
        "{metrics}"
    );
    assert!(
        metrics.contains("twoway_tenant_queued_requests{tenant=\"acme\"} 0"),
        "{metrics}"
    );
}

async fn futures_join<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_or_a_late_slot_is_overloaded_with_retry_after() {
    let sim = start_sim().await;
    let acme = tenant_with(
        ACME,
        "max_concurrency = 1\nmax_queued = 1\nqueue_timeout_ms = 60000",
    );
    let globex = tenant_with(
        GLOBEX,
        "max_concurrency = 1\nmax_queued = 5\nqueue_timeout_ms = 300",
    );
    let tenants = with_workflow(&acme, "spin", "spin_forever.wasm", "timeout_ms = 2000")
        + &with_workflow(&globex, "spin", "spin_forever.wasm", "timeout_ms = 4000");
    let gw = TestGateway::start(&sim, &tenants, &[("spin_forever.wasm", SPIN_FOREVER)]).await;
    let spawn_call =
        |tenant: &str, key: &str| gw.spawn_get(&format!("/tenants/{tenant}/workflows/spin"), key);

    // Acme: one running, one waiting; a third finds the queue full.
    let running = spawn_call("acme", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
    gw.wait_for_metric("twoway_tenant_slots_in_use{tenant=\"acme\"} 1")
        .await;
    let waiting = spawn_call("acme", "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d");
    gw.wait_for_metric("twoway_tenant_queued_requests{tenant=\"acme\"} 1")
        .await;
    let refused = gw
        .call("GET", "/tenants/acme/workflows/spin", ACME_KEY, "")
        .await;
    refused.assert_problem(503, "overloaded");
    assert_eq!(refused.header("retry-after"), Some("1"));
    let detail = refused.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("max_queued"), "{detail}");
    // The waiting request got the slot when the first one ended.
    assert_eq!(running.await.unwrap().json()["code"], "plugin_timeout");
    assert_eq!(waiting.await.unwrap().json()["code"], "plugin_timeout");

    // Globex: the queue has room, but no slot frees up within 300 ms.
    let running = spawn_call("globex", "globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d");
    gw.wait_for_metric("twoway_tenant_slots_in_use{tenant=\"globex\"} 1")
        .await;
    let late = gw
        .call(
            "GET",
            "/tenants/globex/workflows/spin",
            Some("globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d"),
            "",
        )
        .await;
    late.assert_problem(503, "overloaded");
    assert_eq!(late.header("retry-after"), Some("1"));
    let detail = late.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("queue_timeout_ms"), "{detail}");
    assert_eq!(running.await.unwrap().json()["code"], "plugin_timeout");
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics.contains("twoway_tenant_queued_requests{tenant=\"globex\"} 0"),
        "{metrics}"
    );
}

/// A request head announcing a 1000-byte body, and its first byte.
async fn stalled_body(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"POST /tenants/acme/workflows/user HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_bodies_hold_no_slot_and_time_out() {
    let sim = start_sim().await;
    // No queue: a slot held by a stalled body would refuse the third caller.
    let tenant = tenant_with(ACME, "max_concurrency = 2\nmax_queued = 0");
    let gw = TestGateway::with_user_workflow(&sim, "body_timeout_ms = 500", &tenant).await;
    let addr = gw.addr();
    let mut stalled = [stalled_body(addr).await, stalled_body(addr).await];
    gw.wait_for_metric("twoway_requests_in_flight 2").await;
    let served = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    assert_eq!(served.status, 200, "{}", served.body);
    for tcp in &mut stalled {
        let answer = read_until_closed(tcp).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
        assert!(answer.contains("body_timeout_ms"), "{answer}");
    }
    let metrics = gw.admin_get("/metrics").await.body;
    assert!(
        metrics
            .contains("twoway_requests_total{tenant=\"acme\",workflow=\"user\",status=\"408\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_serves_at_most_max_connections() {
    let sim = start_sim().await;
    let tenants = with_workflow(ACME, "user", "get_user_info.wasm", "");
    let mut gw = TestGateway::configure(
        &sim,
        "max_connections = 2\nheader_timeout_ms = 120000",
        &tenants,
        &[("get_user_info.wasm", GET_USER_INFO)],
    );
    // Two cores share the cap: a core whose socket has no caller must not
    // hold a permit that a core with a caller waits for.
    gw.serve_as(Shape::PerCore(2)).await;
    let addr = gw.addr();
    let idle = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    gw.wait_for_metric("twoway_open_connections{listener=\"inbound\"} 2")
        .await;
    let url = format!("{}/tenants/acme/workflows/user", gw.url);
    let third = tokio::spawn(async move {
        http(
            "GET",
            &url,
            &[(
                "authorization",
                "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
            )],
            "",
        )
        .await
    });
    // Nothing to poll for "not served": give it a moment to be wrongly served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "served over the connection cap");
    assert!(
        gw.admin_get("/metrics")
            .await
            .body
            .contains("twoway_open_connections{listener=\"inbound\"} 2")
    );
    let [first, second] = idle;
    drop(first);
    let reply = third.await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    drop(second);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_closed_on_both_listeners() {
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "header_timeout_ms = 300", ACME).await;
    let admin = gw.running.as_ref().unwrap().admin_addr;
    // Never sends a byte.
    let mut silent = TcpStream::connect(admin).await.unwrap();
    let answer = read_until_closed(&mut silent).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // Sends one request, then stays idle on keep-alive.
    let mut kept = TcpStream::connect(admin).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The admin listener still serves.
    assert_eq!(gw.admin_get("/healthz").await.status, 200);
    // The callers' listener closes idle keep-alive connections the same way.
    let mut kept = TcpStream::connect(gw.addr()).await.unwrap();
    kept.write_all(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut kept).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("unknown_route"), "{answer}");
}

#[test]
fn a_non_loopback_admin_listener_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let check = |server: &str| {
        let path = dir.path().join("twoway.toml");
        std::fs::write(&path, format!("[server]\n{server}\n")).unwrap();
        twoway::config::load(&path)
            .map(|_| ())
            .map_err(|e| e.problems.join("\n"))
    };
    let problems = check("admin_listen = \"0.0.0.0:0\"").unwrap_err();
    assert!(
        problems.contains("server.admin_token: required because admin_listen 0.0.0.0:0"),
        "{problems}"
    );
    std::fs::write(dir.path().join("short.txt"), "short").unwrap();
    let problems =
        check("admin_listen = \"0.0.0.0:0\"\nadmin_token_file = \"short.txt\"").unwrap_err();
    assert!(problems.contains("server.admin_token_file"), "{problems}");
    assert!(!problems.contains("short\""), "{problems}");
    std::fs::write(dir.path().join("token.txt"), "a-long-enough-admin-token\n").unwrap();
    check("admin_listen = \"0.0.0.0:0\"\nadmin_token_file = \"token.txt\"").unwrap();
    check("admin_listen = \"127.0.0.1:0\"").unwrap();
    let problems = check("max_connections = 0\nbody_timeout_ms = 0").unwrap_err();
    assert!(problems.contains("server.max_connections"), "{problems}");
    assert!(problems.contains("server.body_timeout_ms"), "{problems}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_actions_need_the_token_and_probes_do_not() {
    const TOKEN: &str = "admin-token-canary-7f3a9c";
    let sim = start_sim().await;
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("admin-token.txt");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let gw = TestGateway::with_user_workflow(
        &sim,
        &format!("admin_token_file = \"{}\"", token_file.display()),
        ACME,
    )
    .await;
    let admin = |method: &'static str, path: &'static str, token: Option<&'static str>| {
        let url = format!("{}{path}", gw.admin);
        async move {
            let auth = token.map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| vec![("authorization", a)])
                .unwrap_or_default();
            http(method, &url, &headers, "").await
        }
    };
    for (method, path) in [
        ("POST", "/admin/reload"),
        ("GET", "/admin/config"),
        ("GET", "/admin/sessions"),
        ("GET", "/admin/plugins"),
    ] {
        for token in [None, Some("admin-token-canary-7f3a9"), Some("wrong")] {
            let reply = admin(method, path, token).await;
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}");
            assert_eq!(reply.json()["error"], "unauthorized");
            assert!(
                reply.json()["detail"]
                    .as_str()
                    .unwrap()
                    .contains("admin_token")
            );
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            assert!(!reply.body.contains(TOKEN));
        }
        let reply = admin(method, path, Some(TOKEN)).await;
        assert_eq!(reply.status, 200, "{method} {path}: {}", reply.body);
        assert!(!reply.body.contains(TOKEN), "{}", reply.body);
    }
    let reloaded = admin("POST", "/admin/reload", Some(TOKEN)).await;
    assert_eq!(reloaded.json()["reloaded"], true);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let reply = admin("GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert!(!reply.body.contains(TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_tenant_and_a_wrong_key_look_the_same() {
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
    let answer = |reply: &twoway_tests::gateway::Reply| {
        let mut json = reply.json();
        let object = json.as_object_mut().unwrap();
        assert_eq!(
            object
                .remove("request_id")
                .and_then(|v| v.as_str().map(str::to_string)),
            reply.header("x-request-id").map(str::to_string)
        );
        (
            reply.status,
            reply.header("content-type").map(str::to_string),
            reply.header("www-authenticate").map(str::to_string),
            json.to_string(),
        )
    };
    // Same tenant name in the URL, so the echoed `tenant` is the same too.
    let gw_nobody = TestGateway::with_user_workflow(&sim, "", GLOBEX).await;
    for key in [
        Some("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
        Some("wrong-key"),
        None,
        Some(""),
    ] {
        let unknown = gw_nobody
            .call("GET", "/tenants/acme/workflows/user", key, "")
            .await;
        let wrong = gw
            .call(
                "GET",
                "/tenants/acme/workflows/user",
                Some("acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c"),
                "",
            )
            .await;
        unknown.assert_problem(401, "unauthorized");
        assert_eq!(answer(&unknown), answer(&wrong), "key {key:?}");
    }
    let elsewhere = gw
        .call("GET", "/tenants/nobody/workflows/user", ACME_KEY, "")
        .await;
    let wrong = gw
        .call("GET", "/tenants/acme/workflows/user", Some("x"), "")
        .await;
    assert_eq!(elsewhere.status, wrong.status);
    for field in ["code", "detail", "title", "type", "status", "workflow"] {
        assert_eq!(elsewhere.json()[field], wrong.json()[field], "{field}");
    }
    // An authenticated caller still learns that a workflow does not exist.
    let missing = gw
        .call("GET", "/tenants/acme/workflows/nothing", ACME_KEY, "")
        .await;
    missing.assert_problem(404, "unknown_workflow");
}

/// A CA of this test's own for caller certificates.
struct CallerCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    dir: tempfile::TempDir,
}

impl CallerCa {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "hostile-inbound callers CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        Self {
            issuer: rcgen::Issuer::new(params, key),
            dir,
        }
    }

    fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A client certificate + key file whose subject has `rdns` in
    /// certificate order (most general first).
    fn client(
        &self,
        name: &str,
        rdns: &[(rcgen::DnType, &str)],
        sans: Vec<rcgen::SanType>,
    ) -> PathBuf {
        use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in rdns {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let path = self.dir.path().join(format!("{name}.pem"));
        std::fs::write(&path, cert.pem() + &key.serialize_pem()).unwrap();
        path
    }
}

/// A caller certificate's parts: its name, subject and SANs.
type Caller = (
    &'static str,
    Vec<(rcgen::DnType, &'static str)>,
    Vec<rcgen::SanType>,
);

/// A caller `name` with subject `CN=x` and the one SAN `san`.
fn one_san(name: &'static str, san: rcgen::SanType) -> Caller {
    (name, vec![(rcgen::DnType::CommonName, "x")], vec![san])
}

fn ia5(text: &str) -> rcgen::string::Ia5String {
    text.try_into().expect("IA5 string")
}

async fn status_with(url: &str, identity: &Path) -> u16 {
    Client::with_identity(identity)
        .send("GET", url, &[], "")
        .await
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_subjects_and_sans_match_exactly() {
    use rcgen::DnType::{CommonName as CN, OrganizationName as O, OrganizationalUnitName as OU};
    use rcgen::SanType;
    let sim = start_sim().await;
    let ca = CallerCa::new();
    let tenant = ACME.replace(
        "api_keys_file = \"acme-keys.txt\"",
        r#"callers = { subjects = ["CN=a,O=b"], sans = ["DNS:API.example.com", "IP:192.0.2.7", "URI:spiffe://acme/caller", "email:ops@acme.example"] }"#,
    );
    let tls = server_tls(&ca.ca_pem().display().to_string());
    let gw = TestGateway::with_user_workflow(&sim, &tls, &tenant).await;
    let url = format!("https://{}/tenants/acme/workflows/user", gw.addr());
    let accepted = [
        ("exact-subject", vec![(O, "b"), (CN, "a")], vec![]),
        one_san("dns", SanType::DnsName(ia5("api.EXAMPLE.com"))),
        one_san("ip", SanType::IpAddress([192, 0, 2, 7].into())),
        one_san("uri", SanType::URI(ia5("spiffe://acme/caller"))),
        one_san("email", SanType::Rfc822Name(ia5("ops@ACME.example"))),
    ];
    for (name, subject, sans) in accepted {
        let identity = ca.client(name, &subject, sans);
        assert_eq!(status_with(&url, &identity).await, 200, "{name}");
    }
    let refused = [
        ("extra-rdn", vec![(OU, "c"), (O, "b"), (CN, "a")], vec![]),
        ("longer-value", vec![(O, "bb"), (CN, "a")], vec![]),
        ("reversed", vec![(CN, "a"), (O, "b")], vec![]),
        ("case", vec![(O, "B"), (CN, "a")], vec![]),
        one_san(
            "dns-suffix",
            SanType::DnsName(ia5("api.example.com.evil.test")),
        ),
        one_san("ip-as-dns", SanType::DnsName(ia5("192.0.2.7"))),
        one_san("other-ip", SanType::IpAddress([192, 0, 2, 8].into())),
        one_san("uri-prefix", SanType::URI(ia5("spiffe://acme/caller/2"))),
        one_san(
            "email-local-case",
            SanType::Rfc822Name(ia5("OPS@acme.example")),
        ),
        // The policy's strings as the wrong kind of SAN.
        one_san("uri-of-dns", SanType::URI(ia5("API.example.com"))),
    ];
    for (name, subject, sans) in refused {
        let identity = ca.client(name, &subject, sans);
        assert_eq!(status_with(&url, &identity).await, 401, "{name}");
    }
}

#[test]
fn malformed_subjects_and_sans_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twoway.toml");
    let text = r#"
[[tenant]]
name = "acme"
callers = { subjects = ["CN=a;O=b", "CN=ok"], sans = ["api.example.com", "IP:300.0.0.1", "DNS:fine.example"] }
[tenant.auth]
kind = "oauth-client-credentials"
client_id = "x"
client_secret_env = "TWOWAY_TEST_UNSET_SECRET"
"#;
    std::fs::write(&path, text).unwrap();
    let problems = twoway::config::load_with_env(&path, &|_| Some("s".into()))
        .unwrap_err()
        .problems
        .join("\n");
    assert!(
        problems.contains("tenant[acme].callers.subjects[0]: \"CN=a;O=b\""),
        "{problems}"
    );
    assert!(!problems.contains("subjects[1]"), "{problems}");
    assert!(
        problems.contains("tenant[acme].callers.sans[0]: \"api.example.com\" is not a SAN"),
        "{problems}"
    );
    assert!(
        problems.contains("tenant[acme].callers.sans[1]"),
        "{problems}"
    );
    assert!(!problems.contains("sans[2]"), "{problems}");
}

/// Sends `request` as it is and reads the answer until the gateway closes.
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(&mut tcp).await
}

#[track_caller]
fn assert_problem(answer: &str, status: &str, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{answer}"
    );
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains(&format!("\"code\":\"{code}\"")), "{answer}");
    assert!(answer.contains("x-request-id: "), "{answer}");
}

/// A SOAP fault of `code`, as a SOAP client reads it.
#[track_caller]
fn assert_soap_fault(answer: &str, code: &str) {
    assert!(answer.starts_with("HTTP/1.1 500 "), "{answer}");
    assert!(answer.contains("content-type: text/xml"), "{answer}");
    let fault = format!("<faultcode>sf:{code}</faultcode>");
    assert!(answer.contains(&fault), "{answer}");
}

/// Salesforce's REST error array with `code`, answered with `status`.
#[track_caller]
fn assert_rest_error(answer: &str, status: &str, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{answer}"
    );
    let error = format!("\"errorCode\":\"{code}\"");
    assert!(
        answer.contains("[{\"message\":") && answer.contains(&error),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_on_the_head_alone_are_problems() {
    let sim = start_sim().await;
    let gw = TestGateway::with_user_workflow(&sim, "", ACME).await;
    let addr = gw.addr();
    // 100 headers are taken (Host and 99 more): the workflow's own
    // answer, not a refusal of the head.
    let most: String = (0..99).map(|i| format!("x-h{i}: v\r\n")).collect();
    let answer = raw(
        addr,
        &format!("GET /tenants/acme/workflows/user HTTP/1.1\r\nHost: x\r\n{most}\r\n"),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // What hyper refuses itself (it used to answer with an empty body).
    let many: String = (0..101).map(|i| format!("x-h{i}: v\r\n")).collect();
    let answer = raw(addr, &format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n")).await;
    assert_problem(&answer, "431", "head_too_large");
    let long = format!("x-long: {}\r\n", "a".repeat(70 * 1024));
    let answer = raw(addr, &format!("GET / HTTP/1.1\r\nHost: x\r\n{long}\r\n")).await;
    assert_problem(&answer, "431", "head_too_large");
    let answer = raw(addr, "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n").await;
    assert_problem(&answer, "400", "bad_request");
    // The same refusals on the front door's paths are in the client's
    // format: a SOAP fault, Salesforce's JSON error array.
    let answer = raw(
        addr,
        &format!("POST /services/Soap/u/62.0 HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
    )
    .await;
    assert_soap_fault(&answer, "EXCEEDED_MAX_SIZE_REQUEST");
    assert!(answer.contains("at most 100 headers"), "{answer}");
    let query = format!("/services/data/v62.0/query?q={}", "x".repeat(70 * 1024));
    let answer = raw(addr, &format!("GET {query} HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    assert_rest_error(&answer, "4", "EXCEEDED_MAX_SIZE_REQUEST");
    let answer = raw(
        addr,
        "GET /services/data/v62.0/sobjects HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    )
    .await;
    assert_rest_error(&answer, "400 ", "INVALID_REQUEST");
    assert!(answer.contains("x-request-id: "), "{answer}");
    // Two Authorization headers: refused, not "the first one wins", on
    // workflow routes and at the front door alike (there in the format of
    // the client's API).
    for path in [
        "/tenants/acme/workflows/user",
        "/services/data/v62.0/sobjects",
    ] {
        let answer = raw(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d\r\nAuthorization: Bearer other\r\n\r\n"),
        )
        .await;
        if path.starts_with("/tenants/") {
            assert_problem(&answer, "400", "bad_request");
        } else {
            assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
            assert!(
                answer.contains("\"errorCode\":\"INVALID_REQUEST\""),
                "{answer}"
            );
        }
        assert!(answer.contains("Authorization more than once"), "{answer}");
        assert!(
            !answer.contains("acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d"),
            "{answer}"
        );
    }
    // A SOAP login whose Content-Length is over the cap: refused on its
    // head as a SOAP fault (what a SOAP client can read), not as JSON
    // (found by scripts/hostile-front-door); REST gets its own format.
    let answer = raw(
        addr,
        "POST /services/Soap/u/62.0 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nSOAPAction: login\r\nContent-Length: 2097152\r\n\r\n",
    )
    .await;
    assert_soap_fault(&answer, "EXCEEDED_MAX_SIZE_REQUEST");
    assert!(answer.contains("was not read"), "{answer}");
    let answer = raw(
        addr,
        "POST /services/data/v62.0/sobjects/Account HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n",
    )
    .await;
    assert_rest_error(&answer, "413 ", "EXCEEDED_MAX_SIZE_REQUEST");
    // A Content-Length over the cap is refused before any of the body is
    // sent (else this would wait for it and end in 408 after 30 s).
    let answer = raw(
        addr,
        "POST /tenants/acme/workflows/user HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d\r\nContent-Length: 10000000000\r\n\r\n",
    )
    .await;
    assert_problem(&answer, "413", "payload_too_large");
    assert!(answer.contains("was not read"), "{answer}");
    // And the gateway still serves.
    let served = gw
        .call("GET", "/tenants/acme/workflows/user", ACME_KEY, "")
        .await;
    assert_eq!(served.status, 200, "{}", served.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_over_max_body_kb_on_a_workflow_route_gets_its_413() {
    // No Content-Length to refuse on: the cap is met while the body comes,
    // and the rest of it is read and thrown away before the connection
    // closes, so a client still sending reads the 413 (not a broken pipe).
    let sim = start_sim().await;
    let server = format!("max_body_kb = 64\n{}", server_tls("{pki}/root-ca.pem"));
    let gw = TestGateway::with_user_workflow(&sim, &server, ACME).await;
    let url = format!("https://{}/tenants/acme/workflows/user", gw.addr());
    let auth = format!("Bearer {}", ACME_KEY.unwrap());
    // hyper's client: about 8 MB, made as it is sent (chunked).
    let body = twoway_tests::front_door::CsvRows::new(2000, 4000);
    assert!(body.len() > 8_000_000);
    let answer = Client::anonymous()
        .open("POST", &url, &[("authorization", auth.as_str())], body)
        .await
        .expect("the 413, not a broken connection");
    assert_eq!(answer.status(), 413);
    assert_eq!(
        answer.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let problem = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .expect("the whole problem")
        .to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&problem).expect("problem+json");
    assert_eq!(problem["code"], "payload_too_large", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("max_body_kb"),
        "{problem}"
    );

    // curl, sending a file of 8 MiB chunked.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, vec![b' '; 8 << 20]).unwrap();
    let (bearer, to) = (auth.clone(), url.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "-X", "POST", "--cacert"])
            .arg(&twoway_tests::pki().root_ca)
            .args(["-H", &format!("Authorization: {auth}")])
            .args(["-H", "Transfer-Encoding: chunked", "--data-binary"])
            .arg(format!("@{}", file.display()))
            .args(["-w", "\n%{http_code}", &to])
            .output()
            .expect("the curl binary is needed for this test (scripts/test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, status) = stdout.rsplit_once('\n').expect("status trailer");
    assert_eq!(status, "413", "{stdout}");
    assert!(body.contains("\"code\":\"payload_too_large\""), "{body}");
    // And the gateway still serves.
    let served = Client::anonymous()
        .send("POST", &url, &[("authorization", bearer.as_str())], "{}")
        .await;
    assert_eq!(served.status, 200, "{}", served.body);
}
