//! The `twoway` binary, black-box: `pki init`, `sim --print-endpoints`,
//! `login` and `call` as a user runs them, and what they never print.

use std::path::Path;

use twoway_tests::plugins;
use twoway_tests::process::{self, Process};

/// The tenants' secrets, set for every run.
const ACME_ENV: [(&str, &str); 2] = [
    ("ACME_SF_PASSWORD", "acme-password"),
    ("ACME_SF_TOKEN", "ACMETOKEN"),
];

/// A `twoway sim` child and its endpoints.
struct SimProcess {
    _process: Process,
    endpoints: serde_json::Value,
}

fn start_sim(pki: &Path) -> SimProcess {
    let (process, endpoints) = Process::sim(pki, pki.parent().expect("a parent folder"));
    SimProcess {
        _process: process,
        endpoints,
    }
}

/// A tenant `name` logging in at `login` as Acme's integration user (the
/// password from `password_env`) over mutual TLS to `sim`, with the PKI in
/// `pki/` beside the config.
fn acme_tenant(sim: &SimProcess, name: &str, login: &str, password_env: &str) -> String {
    format!(
        r#"
[[tenant]]
name = "{name}"
login_url = "{login}"
mutual_auth = true
mutual_auth_port = {mutual_port}
client_identity = {{ pem = "pki/fullcert.pem" }}
extra_roots = ["pki/root-ca.pem"]
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_env = "{password_env}"
security_token_env = "ACME_SF_TOKEN"
"#,
        mutual_port = sim.endpoints["mutual_auth_port"],
    )
}

/// Runs `twoway ARGS` in `dir` with the tenants' secrets and `env`: exit
/// code, stdout, stderr.
fn run(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let env: Vec<_> = ACME_ENV.iter().chain(env).copied().collect();
    let run = process::twoway(args, dir, &env);
    (run.code, run.stdout, run.stderr)
}

fn twoway(args: &[&str], dir: &Path) -> (bool, String, String) {
    let (code, out, err) = run(args, dir, &[]);
    (code == 0, out, err)
}

#[test]
fn login_and_call_through_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let (ok, out, err) = twoway(&["pki", "init", pki.to_str().unwrap()], dir.path());
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("fullcert.pem"),
        "pki init lists its files: {out}"
    );
    let (again, _, err) = twoway(&["pki", "init", pki.to_str().unwrap()], dir.path());
    assert!(
        !again && err.contains("--force"),
        "a second init refuses: {err}"
    );

    let sim = start_sim(&pki);
    let login = sim.endpoints["login_url"].as_str().unwrap();
    let config = acme_tenant(&sim, "acme", login, "ACME_SF_PASSWORD");
    std::fs::write(dir.path().join("twoway.toml"), config).unwrap();

    let (ok, out, err) = twoway(
        &["login", "--config", "twoway.toml", "--tenant", "acme"],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("org id        00D5g000004Acme"), "{out}");
    assert!(out.contains("API usage     1/15000"), "{out}");
    assert!(
        !out.contains("00D5g000004Acme!") && !err.contains("00D5g000004Acme!"),
        "never the session id"
    );
    assert!(
        !out.contains("acme-password") && !err.contains("acme-password"),
        "never the password"
    );

    // The seed's getUserInfo, without a session header: the host adds it.
    std::fs::write(
        dir.path().join("getuserinfo.xml"),
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:getUserInfo/></soapenv:Body></soapenv:Envelope>"#,
    )
    .unwrap();
    let call = |args: &[&str]| {
        let base = ["call", "--config", "twoway.toml", "--tenant", "acme"];
        twoway(&[&base[..], args].concat(), dir.path())
    };
    let (ok, out, err) = call(&["--api", "soap-partner", "--data", "@getuserinfo.xml"]);
    assert!(ok, "{out}{err}");
    assert!(
        err.contains("HTTP 200"),
        "the status line goes to stderr: {err}"
    );
    assert!(
        out.starts_with("<?xml") || out.starts_with("<soapenv"),
        "stdout is the body alone: {out}"
    );
    assert!(
        out.contains("<userName>integration@acme.example</userName>"),
        "{out}"
    );

    let (ok, out, err) = call(&[
        "--api",
        "rest",
        "--method",
        "GET",
        "--path",
        "query?q=SELECT+Name+FROM+Account+WHERE+Industry+=+'Energy'",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("\"totalSize\":0"),
        "Globex's account is not Acme's: {out}"
    );
    assert!(
        !out.contains("00D5g000004Acme!") && !err.contains("00D5g000004Acme!"),
        "never the session id"
    );

    let (ok, _, err) = twoway(
        &["login", "--config", "twoway.toml", "--tenant", "nope"],
        dir.path(),
    );
    assert!(!ok && err.contains("no tenant \"nope\""), "{err}");
}

#[test]
fn config_check_lists_every_problem_with_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("twoway.toml"),
        r#"
[server]
listen = "not an address"

[[tenant]]
name = "acme"
login_url = "http://login.salesforce.com"
mutual_auth = true
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_env = "TWOWAY_TEST_UNSET_VARIABLE"
[[tenant.workflow]]
name = "user"
plugin = "get_user_info.wasm"
"#,
    )
    .unwrap();
    let (ok, out, err) = twoway(&["config", "check", "twoway.toml"], dir.path());
    assert!(!ok, "{out}");
    for expected in [
        "server.listen",
        "tenant[acme].login_url",
        "tenant[acme].mutual_auth",
        "tenant[acme].auth.password_env: environment variable TWOWAY_TEST_UNSET_VARIABLE is not set",
        "a tenant must say who may call it",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }

    std::fs::write(
        dir.path().join("twoway.toml"),
        "[[tenant]]\nname = \"x\"\nsurprise = 1\n",
    )
    .unwrap();
    let (ok, _, err) = twoway(&["config", "check", "twoway.toml"], dir.path());
    assert!(!ok && err.contains("unknown field `surprise`"), "{err}");
}

/// Runs `twoway sim` in a fresh folder with `args` before it and returns
/// the first log line (stderr) that `wanted` accepts.
fn sim_log_line(args: &[&str], wanted: impl Fn(&str) -> bool) -> String {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(process::twoway_bin())
        .args(args)
        .args(["sim", "--pki"])
        .arg(dir.path().join("pki"))
        .env_remove("TWOWAY_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twoway sim starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let line = stderr.lines().map_while(Result::ok).find(|l| wanted(l));
    let _ = child.kill();
    let _ = child.wait();
    line.expect("the log line")
}

#[test]
fn logs_can_be_json() {
    let line = sim_log_line(&["--log-format", "json"], |l| l.starts_with('{'));
    let event: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["fields"]["message"], "simulator listening");
}

#[test]
fn config_check_names_the_key_and_never_quotes_a_pasted_secret() {
    const CANARY: &str = "CANARY-cli-3e9d0a";
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!(
                "[[tenant]]\nname = \"acme\"\n[tenant.auth]\nkind = \"soap-login\"\nusername = \"u\"\npassword = \"{CANARY}\"\n"
            ),
            "tenant.auth.password (line 6, column 1)",
        ),
        (
            format!("[server]\nmax_body_kb = \"{CANARY}\"\n"),
            "server.max_body_kb (line 2",
        ),
        (
            format!("[server]\nlisten = \"{CANARY}\n"),
            "(line 2, column",
        ),
    ];
    for (text, expected) in cases {
        let file = dir.path().join("twoway.toml");
        std::fs::write(&file, text).unwrap();
        let (ok, out, err) = twoway(&["config", "check", file.to_str().unwrap()], dir.path());
        assert!(!ok, "{out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(expected), "{expected}: {all}");
        assert!(!all.contains(CANARY), "config check quotes the file: {all}");
    }
}

#[test]
fn config_check_refuses_weak_or_missing_api_keys_without_showing_them() {
    const WEAK: &str = "CANARY-weak-key";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("twoway.toml");
    std::fs::write(
        &file,
        "[[tenant]]\nname = \"acme\"\napi_keys_file = \"keys.txt\"\n[tenant.auth]\nkind = \"oauth-client-credentials\"\nclient_id = \"c\"\nclient_secret_file = \"keys.txt\"\n",
    )
    .unwrap();
    for (keys, expected) in [
        (
            format!("0123456789abcdef0123456789abcdef,{WEAK}"),
            "tenant[acme].api_keys_file: API key 2 of 2 is too weak",
        ),
        (
            String::new(),
            "tenant[acme].api_keys_file: holds no API key",
        ),
    ] {
        std::fs::write(dir.path().join("keys.txt"), keys).unwrap();
        let (ok, out, err) = twoway(&["config", "check", file.to_str().unwrap()], dir.path());
        assert!(!ok, "{out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(expected), "{expected}: {all}");
        assert!(all.contains("at least 32 characters"), "{all}");
        assert!(!all.contains(WEAK), "config check shows the key: {all}");
    }
}

/// A test PKI, a simulator and a twoway.toml with tenant `acme` (and
/// `wrongpw`, whose password is refused, and `down`, whose login service
/// is a closed port) in a temporary directory.
fn acme_setup() -> (tempfile::TempDir, SimProcess) {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let (code, out, err) = run(&["pki", "init", pki.to_str().unwrap()], dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    let sim = start_sim(&pki);
    let closed = twoway_tests::free_port();
    let tenant =
        |name: &str, login: &str, password_env: &str| acme_tenant(&sim, name, login, password_env);
    let login = sim.endpoints["login_url"].as_str().unwrap();
    let config = tenant("acme", login, "ACME_SF_PASSWORD")
        + &tenant("wrongpw", login, "WRONG_SF_PASSWORD")
        + &tenant(
            "down",
            &format!("https://127.0.0.1:{closed}"),
            "ACME_SF_PASSWORD",
        );
    std::fs::write(dir.path().join("twoway.toml"), config).unwrap();
    (dir, sim)
}

#[test]
fn json_output_env_config_and_exit_codes() {
    let (dir, _sim) = acme_setup();
    let d = dir.path();
    let env = [
        ("TWOWAY_CONFIG", "twoway.toml"),
        ("WRONG_SF_PASSWORD", "not-the-password"),
    ];

    // login --json, the config from TWOWAY_CONFIG.
    let (code, out, err) = run(&["login", "--tenant", "acme", "--json"], d, &env);
    assert_eq!(code, 0, "{out}{err}");
    let login: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(login["org_id"], "00D5g000004Acme");
    assert_eq!(login["auth"], "soap-login");
    assert_eq!(login["api_usage"]["limit"], 15000);
    assert!(login["certificate"]["sha256"].is_string(), "{login}");
    assert!(!out.contains("00D5g000004Acme!"), "never the session id");

    // call: GET by default without a body; stdout is the body alone (pipes into jq).
    let query = "query?q=SELECT+Name+FROM+Account";
    let (code, out, err) = run(
        &["call", "--tenant", "acme", "--api", "rest", "--path", query],
        d,
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("HTTP 200"), "{err}");
    let body: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("stdout is JSON: {e}: {out}"));
    assert!(body["totalSize"].as_u64().is_some(), "{body}");

    // call --json wraps status, headers and body.
    let (code, out, err) = run(
        &[
            "call", "--tenant", "acme", "--api", "rest", "--path", query, "--json",
        ],
        d,
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    let call: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(call["status"], 200);
    assert_eq!(call["body"], body);

    // An HTTP error from the API: exit 5, the status on stderr.
    let (code, out, err) = run(
        &[
            "call",
            "--tenant",
            "acme",
            "--api",
            "rest",
            "--path",
            "sobjects/NoSuchThing__c/001",
        ],
        d,
        &env,
    );
    assert_eq!(code, 5, "{out}{err}");
    assert!(err.contains("HTTP 404"), "{err}");

    // Usage: 2 (clap), also for a header clap cannot check.
    let (code, _, _) = run(&["login", "--tenant"], d, &env);
    assert_eq!(code, 2);
    let (code, _, err) = run(
        &[
            "call", "--tenant", "acme", "--api", "rest", "-H", "no colon",
        ],
        d,
        &env,
    );
    assert_eq!(code, 2, "{err}");
    // Config: 3 (an unknown tenant), with a JSON error under --json.
    let (code, out, err) = run(&["login", "--tenant", "nope", "--json"], d, &env);
    assert_eq!(code, 3, "{out}{err}");
    let error: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(error["exit_code"], 3);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("no tenant \"nope\"")
    );
    // Network: 4 (nothing listens at the login URL).
    let (code, out, err) = run(&["login", "--tenant", "down"], d, &env);
    assert_eq!(code, 4, "{out}{err}");
    // Refused: 5 (the password is wrong), never printing it.
    let (code, out, err) = run(&["login", "--tenant", "wrongpw"], d, &env);
    assert_eq!(code, 5, "{out}{err}");
    assert!(err.contains("login refused"), "{err}");
    assert!(!format!("{out}{err}").contains("not-the-password"));
}

#[test]
fn config_check_json_env_file_and_private_key_env() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("twoway.toml"),
        r#"
[[tenant]]
name = "jwt"
[tenant.auth]
kind = "oauth-jwt-bearer"
client_id = "app"
username = "u@example.com"
private_key_env = "TWOWAY_TEST_JWT_KEY"
"#,
    )
    .unwrap();
    // FILE from TWOWAY_CONFIG; the key's variable is unset: exit 3, JSON problems.
    let (code, out, err) = run(
        &["config", "check", "--json"],
        d,
        &[("TWOWAY_CONFIG", "twoway.toml")],
    );
    assert_eq!(code, 3, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    let problems = report["problems"].to_string();
    assert!(
        problems.contains(
            "tenant[jwt].auth.private_key_env: environment variable TWOWAY_TEST_JWT_KEY is not set"
        ),
        "{problems}"
    );
    // Set: ok.
    let (code, out, err) = run(
        &["config", "check", "--json"],
        d,
        &[
            ("TWOWAY_CONFIG", "twoway.toml"),
            ("TWOWAY_TEST_JWT_KEY", "-----BEGIN PRIVATE KEY-----\n..."),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["tenants"][0], "jwt");
}

#[test]
fn the_doctor_recognises_a_java_keystore() {
    let dir = tempfile::tempdir().unwrap();
    for (name, magic) in [("a.jks", [0xFE, 0xED, 0xFE, 0xED]), ("b.jceks", [0xCE; 4])] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1]);
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let (code, out, err) = run(&["cert", "check", name], dir.path(), &[]);
        assert_eq!(code, i32::from(twoway_doctor::EXIT_ERRORS), "{out}{err}");
        assert!(out.contains("Java keystore"), "{out}");
        assert!(
            out.contains(&format!(
                "keytool -importkeystore -srckeystore {name} -destkeystore"
            )) && out.contains("-deststoretype PKCS12"),
            "{out}"
        );
    }
}

#[test]
fn no_colour_when_stderr_is_not_a_terminal() {
    let line = sim_log_line(&[], |l| l.contains("simulator listening"));
    assert!(!line.contains('\u{1b}'), "no ANSI escapes: {line:?}");
}

/// The field names of the raw config structs (every key a config may have).
fn config_keys() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/src/config");
    let mut keys = Vec::new();
    for file in ["raw.rs", "store.rs"] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let mut in_raw = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("pub struct Raw") {
                in_raw = true;
            } else if line == "}" {
                in_raw = false;
            } else if in_raw
                && let Some(field) = line.strip_prefix("pub ")
                && let Some((name, _)) = field.split_once(':')
            {
                keys.push(name.trim().to_string());
            }
        }
    }
    assert!(keys.len() > 40, "found the raw config fields: {keys:?}");
    keys
}

#[test]
fn the_example_config_has_every_key_and_passes_config_check() {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/twoway.toml"),
    )
    .unwrap();
    for key in config_keys() {
        let key = match key.as_str() {
            "tenants" => "tenant".to_string(),
            "workflows" => "workflow".to_string(),
            _ => key,
        };
        assert!(
            example.contains(&format!("{key} ="))
                || example.contains(&format!("[{key}"))
                || example.contains(&format!(".{key}]"))
                || example.contains(&format!("{key}]")),
            "examples/twoway.toml does not show the key {key:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("twoway.toml"), &example).unwrap();
    let (code, out, err) = run(&["pki", "init", "certs"], d, &[]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::create_dir(d.join("secrets")).unwrap();
    for (name, value) in [
        ("admin-token", "0123456789abcdef0123456789abcdef"),
        ("acme-sf-token", "ACMETOKEN"),
        ("globex-api-keys", "globex-key-1-3c7e0a5f9b2d6e1a4c8f0b7d"),
        ("globex-p12-password", "changeit"),
    ] {
        std::fs::write(d.join("secrets").join(name), value).unwrap();
    }
    // `config check` loads every workflow's component, as serve would.
    std::fs::create_dir(d.join("plugins")).unwrap();
    for (file, built) in [
        ("get_user_info.wasm", plugins::GET_USER_INFO),
        ("soql_query.wasm", plugins::SOQL_QUERY),
        ("read_only.wasm", plugins::READ_ONLY),
    ] {
        std::fs::copy(built, d.join("plugins").join(file)).unwrap();
    }
    let jwt_key = std::fs::read_to_string(d.join("certs/client.key")).unwrap();
    let env = [
        (
            "ACME_API_KEYS",
            "acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d,acme-key-2-8e1b5d9f3a7c0e4b2d6f1a8c",
        ),
        ("ACME_SF_PASSWORD", "acme-password"),
        ("ACME_PROXY_PASSWORD", "proxy-password"),
        ("GLOBEX_JWT_KEY", jwt_key.as_str()),
    ];
    let (code, out, err) = run(&["config", "check", "twoway.toml", "--json"], d, &env);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["tenants"], serde_json::json!(["acme", "globex"]));
    assert_eq!(report["workflows"], 2);
    // Without the variables it names, it says which are missing.
    let (code, _, err) = run(&["config", "check", "twoway.toml"], d, &[]);
    assert_eq!(code, 3);
    assert!(err.contains("ACME_PROXY_PASSWORD is not set"), "{err}");
}

#[test]
fn version_names_the_commit_and_the_plugin_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = twoway(&["--version"], dir.path());
    assert!(ok, "{out}{err}");
    let expected = format!(
        "twoway {} (commit {}, plugins: WIT twoway:gateway@{})",
        env!("CARGO_PKG_VERSION"),
        twoway_cli::COMMIT,
        twoway::plugin::WIT_VERSION
    );
    assert_eq!(out.trim(), expected);
    // Built in a git checkout, the commit is known.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if head.is_some() {
        assert_ne!(twoway_cli::COMMIT, "unknown");
    }
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, err) = twoway(&["completions", shell], dir.path());
        assert!(ok, "{shell}: {out}{err}");
        for word in ["serve", "cert", "log-format", "completions"] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
    let (ok, out, _) = twoway(&["completions", "tcsh"], dir.path());
    assert!(!ok && out.is_empty());
    let (ok, man, err) = twoway(&["man"], dir.path());
    assert!(ok, "{err}");
    assert!(
        man.starts_with(".ie") || man.contains(".TH twoway"),
        "{man}"
    );
    assert!(man.contains(".TH twoway"), "{man}");
    for word in ["serve", "cert", "TWOWAY_CONFIG"] {
        assert!(man.contains(word), "the man page lacks {word}");
    }
}

#[test]
fn no_color_and_no_internal_words_in_help() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&["sim", "--help"], dir.path(), &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains('\u{1b}') && !err.contains('\u{1b}'),
        "colour despite NO_COLOR"
    );
    for args in [
        &["--help"][..],
        &["cert", "--help"],
        &["sim", "--help"],
        &["pki", "init", "--help"],
    ] {
        let (_, out, err) = run(args, dir.path(), &[]);
        for word in ["seed", "Seed"] {
            assert!(
                !out.contains(word) && !err.contains(word),
                "{args:?} says {word}:\n{out}"
            );
        }
    }
}
