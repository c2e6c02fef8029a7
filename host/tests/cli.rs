//! The `twoway` binary, black-box: `pki init`, `sim --print-endpoints`,
//! `login` and `call` as a user runs them, and what they never print.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_twoway");

struct SimProcess {
    child: Child,
    endpoints: serde_json::Value,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(pki: &Path) -> SimProcess {
    let mut child = Command::new(BIN)
        .args(["sim", "--print-endpoints", "--pki"])
        .arg(pki)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("twoway sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("endpoints line");
    let endpoints =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("endpoints JSON {line:?}: {e}"));
    SimProcess { child, endpoints }
}

fn twoway(args: &[&str], config_dir: &Path) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(config_dir)
        .env("ACME_SF_PASSWORD", "acme-password")
        .env("ACME_SF_TOKEN", "ACMETOKEN")
        .output()
        .expect("twoway runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let config = format!(
        r#"
[[tenant]]
name = "acme"
login_url = "{login}"
mutual_auth = true
mutual_auth_port = {mutual_port}
client_identity = {{ pem = "pki/fullcert.pem" }}
extra_roots = ["pki/root-ca.pem"]
[tenant.auth]
kind = "soap-login"
username = "integration@acme.example"
password_env = "ACME_SF_PASSWORD"
security_token_env = "ACME_SF_TOKEN"
"#,
        login = sim.endpoints["login_url"].as_str().unwrap(),
        mutual_port = sim.endpoints["mutual_auth_port"],
    );
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
    let (ok, out, err) = twoway(
        &[
            "call",
            "--config",
            "twoway.toml",
            "--tenant",
            "acme",
            "--api",
            "soap-partner",
            "--data",
            "@getuserinfo.xml",
        ],
        dir.path(),
    );
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("HTTP 200"), "{out}");
    assert!(
        out.contains("<userName>integration@acme.example</userName>"),
        "{out}"
    );

    let (ok, out, err) = twoway(
        &[
            "call",
            "--config",
            "twoway.toml",
            "--tenant",
            "acme",
            "--api",
            "rest",
            "--method",
            "GET",
            "--path",
            "query?q=SELECT+Name+FROM+Account+WHERE+Industry+=+'Energy'",
        ],
        dir.path(),
    );
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

#[test]
fn logs_can_be_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "sim", "--pki"])
        .arg(dir.path().join("pki"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twoway sim starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let line = stderr
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with('{'))
        .expect("a JSON log line");
    let _ = child.kill();
    let _ = child.wait();
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
