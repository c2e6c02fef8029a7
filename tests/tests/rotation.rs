//! Rotation without a signal: the client identity and a `*_file` secret
//! live in a Kubernetes-style Secret mount (`fullcert.pem` ->
//! `..data/fullcert.pem`, `..data` -> `..2026_01`), and a rotation swaps
//! `..data` atomically. The gateway sees it by itself: a new identity gives
//! a new pool and keeps the session, a new API key file takes effect; a
//! broken new file keeps the old one serving and says so in
//! `/admin/config` and the metrics; fixing it is picked up too. The
//! listener's own `[server.tls]` certificate rotates the same way: new
//! handshakes see the new one, open connections go on.

use std::path::Path;
use std::time::{Duration, Instant};

use twoway_tests::gateway::{ACME, TestGateway, with_workflow};
use twoway_tests::plugins::GET_USER_INFO;
use twoway_tests::{admin_get, pki, start_sim_with};

/// Only keeps a broken gateway from hanging the test.
const DEADLINE: Duration = Duration::from_secs(60);
const PATH: &str = "/tenants/acme/workflows/user";

/// Writes `files` into `mount/..{version}` and points `mount/..data` at it
/// with an atomic rename, as the kubelet does; `mount/{name}` links to
/// `..data/{name}`.
fn publish(mount: &Path, version: &str, files: &[(&str, &[u8])]) {
    let dir = mount.join(format!("..{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
        let link = mount.join(name);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(name), &link).unwrap();
        }
    }
    let tmp = mount.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, mount.join("..data")).unwrap();
}

async fn config(gw: &TestGateway) -> serde_json::Value {
    gw.admin_get("/admin/config").await.json()
}

/// The acme session's certificate fingerprint in `/admin/sessions`.
async fn certificate(gw: &TestGateway) -> String {
    let sessions = gw.admin_get("/admin/sessions").await.json();
    sessions["sessions"][0]["certificate_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{sessions}"))
        .to_string()
}

/// Polls `/admin/config` until `ok` holds.
async fn until_config(gw: &TestGateway, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    let started = Instant::now();
    loop {
        let now = config(gw).await;
        if ok(&now) {
            return;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "never: {what}; /admin/config: {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a reload to be refused, then checks `/admin/config` says so
/// and names `file`.
async fn refused_naming(gw: &TestGateway, file: &str) {
    until_config(gw, "the broken file is refused", |c| {
        !c["last_reload_error"].is_null()
    })
    .await;
    let now = config(gw).await;
    assert_eq!(now["last_reload_successful"], false, "{now}");
    assert!(
        now["last_reload_error"].as_str().unwrap().contains(file),
        "the error names {file}: {now}"
    );
}

fn metric(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_swap_of_a_secret_mount_is_picked_up_and_a_broken_one_refused() {
    // Acme registers its RSA and its ECDSA certificates: a rotation moves
    // from one to the other.
    let sim = start_sim_with(|c| {
        let acme = c.orgs.iter_mut().find(|o| o.name == "Acme").unwrap();
        acme.certificate_files.push(pki().client_ec.clone());
    })
    .await;
    let tenant = ACME
        .replace(
            "client_identity = { pem = \"{pki}/fullcert.pem\" }",
            "client_identity = { pem = \"secrets/fullcert.pem\" }",
        )
        .replace(
            "api_keys_file = \"acme-keys.txt\"",
            "api_keys_file = \"secrets/api-keys\"",
        );
    let mut gw = TestGateway::configure(
        &sim,
        "",
        &with_workflow(&tenant, "user", "get_user_info.wasm", ""),
        &[("get_user_info.wasm", GET_USER_INFO)],
    );
    let mount = gw.dir.path().join("secrets");
    let first = std::fs::read(&pki().fullcert).unwrap();
    let second = std::fs::read(&pki().fullcert_ec).unwrap();
    publish(
        &mount,
        "2026_01",
        &[
            ("fullcert.pem", &first),
            ("api-keys", b"rotation-key-one-6f2a9d4c1e8b7a30"),
        ],
    );
    gw.serve().await;

    let call = async |key: &str| gw.call("GET", PATH, Some(key), "").await;
    assert_eq!(call("rotation-key-one-6f2a9d4c1e8b7a30").await.status, 200);
    let logins = admin_get(&sim, "/counters").await["logins"].clone();
    let old_certificate = certificate(&gw).await;
    let watched = config(&gw).await["watched_files"].clone();
    assert!(
        watched.to_string().contains("secrets/fullcert.pem")
            && watched.to_string().contains("secrets/api-keys"),
        "{watched}"
    );

    // The rotation: a new certificate and a new API key, in one swap.
    publish(
        &mount,
        "2026_02",
        &[
            ("fullcert.pem", &second),
            ("api-keys", b"rotation-key-two-3e8c1f5a9b2d7e04"),
        ],
    );
    until_config(&gw, "the rotation is reloaded", |c| c["reloads"] == 1).await;
    assert_ne!(certificate(&gw).await, old_certificate, "a new identity");
    let reply = call("rotation-key-two-3e8c1f5a9b2d7e04").await;
    assert_eq!(
        reply.status, 200,
        "served with the new identity and key: {}",
        reply.body
    );
    call("rotation-key-one-6f2a9d4c1e8b7a30")
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        admin_get(&sim, "/counters").await["logins"],
        logins,
        "the session was kept"
    );
    let rotated = certificate(&gw).await;

    // A broken certificate: refused, the previous one keeps serving.
    publish(
        &mount,
        "2026_03",
        &[
            ("fullcert.pem", b"not a certificate"),
            ("api-keys", b"rotation-key-two-3e8c1f5a9b2d7e04"),
        ],
    );
    refused_naming(&gw, "fullcert.pem").await;
    assert_eq!(certificate(&gw).await, rotated);
    assert_eq!(
        call("rotation-key-two-3e8c1f5a9b2d7e04").await.status,
        200,
        "still served"
    );
    let metrics = gw.admin_get("/metrics").await.body;
    assert_eq!(
        metric(&metrics, "twoway_config_reloads_total{result=\"failure\"} "),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "twoway_config_reloads_total{result=\"success\"} "),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "twoway_config_last_reload_successful "),
        Some(0.0),
        "{metrics}"
    );

    // Fixed: picked up as well.
    publish(
        &mount,
        "2026_04",
        &[
            ("fullcert.pem", &first),
            ("api-keys", b"rotation-key-two-3e8c1f5a9b2d7e04"),
        ],
    );
    until_config(&gw, "the fix is reloaded", |c| c["reloads"] == 2).await;
    let now = config(&gw).await;
    assert!(now["last_reload_error"].is_null(), "{now}");
    assert_eq!(now["last_reload_successful"], true, "{now}");
    assert_eq!(certificate(&gw).await, old_certificate);
    assert_eq!(call("rotation-key-two-3e8c1f5a9b2d7e04").await.status, 200);
    let metrics = gw.admin_get("/metrics").await.body;
    assert_eq!(
        metric(&metrics, "twoway_config_last_reload_successful "),
        Some(1.0),
        "{metrics}"
    );
    let last = metric(
        &metrics,
        "twoway_config_last_reload_success_timestamp_seconds ",
    )
    .expect("the last success's time");
    assert_eq!(Some(last), now["last_success_unix"].as_f64());
    gw.shutdown().await;
}

/// A server certificate for 127.0.0.1 with `serial`, issued by the test
/// root: (certificate PEM, key PEM).
fn server_certificate(serial: &[u8]) -> (String, String) {
    let root_key = std::fs::read_to_string(&pki().root_ca_key).unwrap();
    let root = std::fs::read_to_string(&pki().root_ca).unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&root, rcgen::KeyPair::from_pem(&root_key).unwrap())
            .unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A keep-alive TLS connection to the gateway (trusting the test root):
/// the serial of the certificate it was shown and a sender on it.
async fn connect(
    addr: std::net::SocketAddr,
) -> (
    Vec<u8>,
    hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
) {
    let mut roots = rustls::RootCertStore::empty();
    let root = std::fs::read(&pki().root_ca).unwrap();
    for cert in twoway::pem::certificates(&root).unwrap() {
        roots.add(cert).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name.to_owned(), tcp)
        .await
        .expect("the handshake succeeds");
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    let serial = cert.raw_serial().to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (serial, sender)
}

/// A request on `sender`'s connection: its status.
async fn ask(
    sender: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>,
) -> u16 {
    use http_body_util::BodyExt;
    let request = http::Request::get("/tenants/acme/workflows/user")
        .header("host", "127.0.0.1")
        .header(
            "authorization",
            "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
        )
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .expect("the connection still serves");
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_swap_of_the_listeners_certificate_serves_new_handshakes_and_keeps_connections() {
    let sim = twoway_tests::start_sim().await;
    let server = "[server.tls]\ncert = \"tls/server.pem\"\nkey = \"tls/server.key\"\nclient_ca = \"{pki}/root-ca.pem\"\n";
    let mut gw = TestGateway::configure(
        &sim,
        server,
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &[("get_user_info.wasm", GET_USER_INFO)],
    );
    let mount = gw.dir.path().join("tls");
    let (first_cert, first_key) = server_certificate(&[0x0a, 0x01]);
    let (second_cert, second_key) = server_certificate(&[0x0b, 0x02]);
    publish(
        &mount,
        "2026_01",
        &[
            ("server.pem", first_cert.as_bytes()),
            ("server.key", first_key.as_bytes()),
        ],
    );
    gw.serve().await;
    let (serial, mut kept) = connect(gw.addr()).await;
    assert_eq!(serial, [0x0a, 0x01]);
    assert_eq!(ask(&mut kept).await, 200);
    let watched = config(&gw).await["watched_files"].to_string();
    assert!(watched.contains("tls/server.pem"), "{watched}");

    // The rotation: new handshakes get the new certificate, the open
    // connection goes on with the old one.
    publish(
        &mount,
        "2026_02",
        &[
            ("server.pem", second_cert.as_bytes()),
            ("server.key", second_key.as_bytes()),
        ],
    );
    until_config(&gw, "the rotation is reloaded", |c| c["reloads"] == 1).await;
    let (serial, mut fresh) = connect(gw.addr()).await;
    assert_eq!(
        serial,
        [0x0b, 0x02],
        "a new handshake sees the new certificate"
    );
    assert_eq!(ask(&mut fresh).await, 200);
    assert_eq!(
        ask(&mut kept).await,
        200,
        "the open connection still serves"
    );

    // A broken certificate: refused, the rotated one keeps serving.
    publish(
        &mount,
        "2026_03",
        &[
            ("server.pem", b"not a certificate"),
            ("server.key", second_key.as_bytes()),
        ],
    );
    refused_naming(&gw, "server.pem").await;
    let (serial, mut after) = connect(gw.addr()).await;
    assert_eq!(
        serial,
        [0x0b, 0x02],
        "the previous certificate keeps serving"
    );
    assert_eq!(ask(&mut after).await, 200);
    assert_eq!(ask(&mut kept).await, 200);
    assert_eq!(ask(&mut fresh).await, 200);
    let metrics = gw.admin_get("/metrics").await.body;
    for (series, value) in [
        ("twoway_config_reloads_total{result=\"success\"} ", 1.0),
        ("twoway_config_reloads_total{result=\"failure\"} ", 1.0),
        ("twoway_config_last_reload_successful ", 0.0),
    ] {
        assert_eq!(metric(&metrics, series), Some(value), "{series}: {metrics}");
    }

    // A key that does not match the certificate is refused as well.
    publish(
        &mount,
        "2026_04",
        &[
            ("server.pem", first_cert.as_bytes()),
            ("server.key", second_key.as_bytes()),
        ],
    );
    until_config(&gw, "the mismatched key is refused", |c| {
        c["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("server.key"))
    })
    .await;
    assert_eq!(connect(gw.addr()).await.0, [0x0b, 0x02]);
    gw.shutdown().await;
}
