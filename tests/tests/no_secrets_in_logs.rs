//! Secrets never reach a log: every log line of the gateway, the host, the
//! simulator and their dependencies (at TRACE) is captured while a flow runs
//! that touches every secret (logins, bad logins, workflows, failures,
//! reloads), then searched for each known secret value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use twoway_tests::gateway::{ACME, GLOBEX, SECRETS, TestGateway, tenant_with, with_workflow};
use twoway_tests::plugins::*;
use twoway_tests::{admin_post, login_envelope, pki, start_sim, xml_text};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything at TRACE but the compiler's own tracing (huge, and about code, not data).
    let filter = "trace,cranelift_codegen=warn,cranelift_frontend=warn,regalloc2=warn,wasmtime_internal_cranelift=warn,wasmtime_cranelift=warn,wasmtime_environ=warn,wasmtime_internal_environ=warn,wasmparser=warn,wit_parser=warn";
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let sim = start_sim().await;
    let mut tenants = String::new();
    for tenant in [ACME, GLOBEX] {
        let tenant = tenant_with(tenant, "front_door = true");
        let tenant = with_workflow(&tenant, "user", "get_user_info.wasm", "");
        tenants.push_str(&with_workflow(&tenant, "lead", "lead_intake.wasm", ""));
    }
    let plugins = [
        ("get_user_info.wasm", GET_USER_INFO),
        ("lead_intake.wasm", LEAD_INTAKE),
    ];
    let gw = TestGateway::start(&sim, &tenants, &plugins).await;
    let acme = "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d";
    // The status of a call of `/tenants/{path}` with `key`.
    let status =
        |method: &'static str, path: &'static str, key: &'static str, body: &'static str| {
            let gw = &gw;
            async move {
                let path = format!("/tenants/{path}");
                gw.call(method, &path, Some(key), body).await.status
            }
        };
    assert_eq!(status("GET", "acme/workflows/user", acme, "").await, 200);
    assert_eq!(
        status(
            "GET",
            "globex/workflows/user",
            "globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d",
            ""
        )
        .await,
        200
    );
    let lead = r#"{"first_name":"Bugs","last_name":"Bunny","company":"Warner","email":"bugs@warner.example"}"#;
    assert_eq!(status("POST", "acme/workflows/lead", acme, lead).await, 201);
    assert_eq!(status("POST", "acme/workflows/lead", acme, "{}").await, 400);
    assert_eq!(
        status("GET", "acme/workflows/user", "wrong-key", "").await,
        401
    );
    // Expired sessions: re-login, with the password on the wire again.
    admin_post(&sim, "/sessions/expire").await;
    assert_eq!(status("GET", "acme/workflows/user", acme, "").await, 200);
    // A bad password, then a reload that fixes it.
    std::fs::write(
        gw.dir.path().join("acme-sf-pw.txt"),
        "not-the-acme-password",
    )
    .unwrap();
    gw.reload().await;
    admin_post(&sim, "/sessions/expire").await;
    assert_eq!(status("GET", "acme/workflows/user", acme, "").await, 502);
    std::fs::write(gw.dir.path().join("acme-sf-pw.txt"), "acme-password").unwrap();
    gw.reload().await;
    assert_eq!(status("GET", "acme/workflows/user", acme, "").await, 200);
    // The front door: a login with a key, calls with the token it gave, a
    // refused login and token.
    let login = login_envelope("acme", acme);
    let login = gw.call("POST", "/services/Soap/u/62.0", None, &login).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = xml_text(&login.body, "sessionId").expect("a token");
    let query = "/services/data/v62.0/query?q=SELECT+Id+FROM+Account";
    assert_eq!(gw.call("GET", query, Some(&token), "").await.status, 200);
    admin_post(&sim, "/sessions/expire").await;
    assert_eq!(gw.call("GET", query, Some(&token), "").await.status, 200);
    let wrong = login_envelope("acme", "not-the-acme-password");
    assert_eq!(
        gw.call("POST", "/services/Soap/u/62.0", None, &wrong)
            .await
            .status,
        500
    );
    // The last character changed (to one it is not: a token may end in `0`).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    assert_eq!(gw.call("GET", query, Some(&forged), "").await.status, 401);
    reload_errors_never_quote_the_file(&gw).await;
    gw.shutdown().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("logged in"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    let key_lines: Vec<String> = std::fs::read_to_string(&pki().fullcert)
        .unwrap()
        .lines()
        .skip_while(|l| !l.contains("PRIVATE KEY"))
        .skip(1)
        .take(3)
        .map(str::to_string)
        .collect();
    let mut secrets: Vec<String> = SECRETS.iter().map(|(_, v)| v.to_string()).collect();
    secrets.push("not-the-acme-password".into());
    secrets.push("acme-passwordACMETOKEN".into());
    secrets.extend(key_lines);
    secrets.push(CANARY.into());
    secrets.push(token);
    secrets.push(forged);
    for session_prefix in ["00D5g000004Acme!", "00D5g000004Glbx!"] {
        secrets.push(session_prefix.to_string());
    }
    for secret in &secrets {
        // Show where, with the (fake) secret masked.
        let lines: Vec<String> = logs
            .lines()
            .filter(|l| l.contains(secret.as_str()))
            .take(3)
            .map(|l| l.replace(secret.as_str(), "***"))
            .collect();
        assert!(
            lines.is_empty(),
            "a secret ({} characters) is in the logs:\n{}",
            secret.len(),
            lines.join("\n")
        );
    }
}

/// A secret pasted into the config where it does not belong.
const CANARY: &str = "CANARY-pasted-7c41b9";

/// Broken configs that hold [`CANARY`]: refused by the file watcher and by
/// `POST /admin/reload`, reported with key paths, never quoted, in the
/// reload answer, in `/admin/config` and (checked by the caller) the log.
async fn reload_errors_never_quote_the_file(gw: &TestGateway) {
    let good = std::fs::read_to_string(gw.config_path()).unwrap();
    let broken = [
        (
            good.replacen(
                "[tenant.auth]\n",
                &format!("[tenant.auth]\npassword = \"{CANARY}\"\n"),
                1,
            ),
            "tenant.auth.password",
        ),
        (
            good.replacen(
                "[server]\n",
                &format!("[server]\nmax_body_kb = \"{CANARY}\"\n"),
                1,
            ),
            "server.max_body_kb",
        ),
        (
            good.replacen("[server]\n", &format!("[server]\nlisten = \"{CANARY}\n"), 1),
            "line 2",
        ),
    ];
    for (text, key) in broken {
        assert!(text.contains(CANARY));
        std::fs::write(gw.config_path(), &text).unwrap();
        let reply = gw.reload().await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains(key), "{key}: {}", reply.body);
        assert!(
            !reply.body.contains(CANARY),
            "the reload answer quotes the file"
        );
        let config = gw.admin_get("/admin/config").await;
        assert!(
            config.body.contains(key) && !config.body.contains(CANARY),
            "/admin/config: {}",
            config.body
        );
    }
    std::fs::write(gw.config_path(), good).unwrap();
    let reply = gw.reload().await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
