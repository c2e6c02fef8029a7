//! The author's loop as a newcomer runs it, in Rust and in JavaScript:
//! `twoway plugin new --lang L`, the project's own test, `twoway plugin
//! build`, then `twoway plugin up` (a gateway and a simulator it starts
//! itself, no twoway.toml written by hand): the printed curl command
//! answers, and an edit of the source is served without a restart.
//!
//! JavaScript needs Node.js and componentize-js (scripts/build-js-plugins
//! installs them): without them that test is skipped with a note, or fails
//! when `TWOWAY_REQUIRE_JS=1` (scripts/test sets it).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use twoway_tests::gateway::http;
use twoway_tests::guest_cargo::HOST_ONLY_ENV;
use twoway_tests::process::{twoway, twoway_bin};

/// Long enough for a cold build and the first compile of a JavaScript
/// component on a loaded machine; only keeps a broken loop from hanging.
const PATIENCE: Duration = Duration::from_secs(900);

/// The environment of the author's commands: the guest cargo builds into
/// the plugin workspace's target folder (its dependencies are built there
/// already), offline, without the test build's host flags.
fn author_env(command: &mut Command) -> &mut Command {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    for var in HOST_ONLY_ENV {
        command.env_remove(var);
    }
    command
        .env_remove("TWOWAY_CONFIG")
        .env("CARGO_TARGET_DIR", plugins.join("target"))
        .env("CARGO_NET_OFFLINE", "true")
}

/// A running `twoway plugin up` and the lines it prints.
struct Up {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
    key: String,
}

impl Up {
    fn start(project: &Path) -> Self {
        let logs = match std::env::var_os("TWOWAY_TEST_CHILD_LOGS") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        };
        let mut child = author_env(&mut Command::new(twoway_bin()))
            .args(["plugin", "up", "--listen", "127.0.0.1:0"])
            .arg(project)
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .expect("twoway plugin up");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut up = Self {
            child,
            lines,
            url: String::new(),
            key: String::new(),
        };
        // `  curl -H "Authorization: Bearer $(cat KEYFILE)" URL`: the key itself is never printed.
        let curl = up.wait_for("curl ");
        let rest = curl
            .trim()
            .strip_prefix("curl -H \"Authorization: Bearer $(cat ")
            .expect(&curl);
        let (key_file, url) = rest.split_once(")\" ").expect(&curl);
        let key = std::fs::read_to_string(key_file).expect("the printed key file");
        assert!(!curl.contains(key.trim()), "the key is printed: {curl}");
        (up.key, up.url) = (key.trim().to_string(), url.to_string());
        up
    }

    /// The next line containing `needle` (earlier ones are passed over).
    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "`twoway plugin up` never printed {needle:?} ({e}); exit: {:?}",
                    self.child.try_wait()
                ),
            }
        }
    }

    /// The workflow's answer to the printed curl command, as JSON.
    async fn call(&self) -> serde_json::Value {
        let auth = format!("Bearer {}", self.key);
        let reply = http("GET", &self.url, &[("authorization", &auth)], "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `twoway plugin new --lang LANG NAME` in `dir`; the project's folder.
fn new(dir: &Path, lang: &str, name: &str) -> PathBuf {
    let run = twoway(&["plugin", "new", "--lang", lang, name], dir, &[]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stdout.contains("twoway plugin up"),
        "says what comes next: {}",
        run.stdout
    );
    dir.join(name)
}

/// `twoway plugin build` in `project`; the component it names.
fn build(project: &Path) -> PathBuf {
    let out = author_env(&mut Command::new(twoway_bin()))
        .args(["plugin", "build"])
        .current_dir(project)
        .output()
        .expect("twoway plugin build");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = PathBuf::from(stdout.trim());
    let check = twoway(&["plugin", "check", stdout.trim()], project, &[]);
    assert_eq!(
        check.code,
        0,
        "the built component is a workflow: {}",
        check.output()
    );
    wasm
}

/// Replaces `from` by `to` in `file`, as an editor saves it.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} holds {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_new_build_up_and_edit() {
    let dir = tempfile::tempdir().unwrap();
    let project = new(dir.path(), "rust", "hello-up");
    let wasm = build(&project);
    assert!(
        wasm.ends_with("wasm32-wasip2/release/hello_up.wasm"),
        "{}",
        wasm.display()
    );

    let mut up = Up::start(&project);
    let answer = up.call().await;
    assert_eq!(
        answer,
        serde_json::json!({ "user": "integration@acme.example", "org": "Acme" })
    );
    assert!(
        project.join(".twoway/twoway.toml").is_file(),
        "the config `up` wrote"
    );

    edit(
        &project.join("src/lib.rs"),
        r#""org": info.get("organizationName"),"#,
        r#""org": info.get("organizationName"), "edited": true,"#,
    );
    up.wait_for("Reloaded hello-up");
    let answer = up.call().await;
    assert_eq!(answer["edited"], true, "{answer}");
    assert_eq!(answer["org"], "Acme", "{answer}");
    drop(up);
    // Not left beside the test plugins (tests/build.rs lists that folder).
    let _ = std::fs::remove_file(wasm);
}

#[tokio::test(flavor = "multi_thread")]
async fn javascript_new_test_up_and_edit() {
    let componentize = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/js/node_modules/.bin/componentize-js");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node || !componentize.exists() {
        let required = std::env::var("TWOWAY_REQUIRE_JS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "TWOWAY_REQUIRE_JS=1 but Node.js or componentize-js is missing: run scripts/build-js-plugins"
        );
        eprintln!(
            "skipped: no Node.js or componentize-js (scripts/build-js-plugins installs them)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = new(dir.path(), "js", "hello-js");
    // The project's own test, as written.
    let test = Command::new("npm")
        .arg("test")
        .current_dir(&project)
        .output()
        .expect("npm test");
    let output =
        String::from_utf8_lossy(&test.stdout).into_owned() + &String::from_utf8_lossy(&test.stderr);
    assert!(test.status.success(), "{output}");
    assert!(output.contains("# pass 2"), "{output}");
    let wasm = build(&project);
    assert_eq!(wasm, project.join("target/workflow.wasm"));

    let mut up = Up::start(&project);
    let answer = up.call().await;
    let accounts = serde_json::json!([
        "Acme Corporation",
        "Coyote Engineering",
        "Road Runner Logistics"
    ]);
    assert_eq!(
        answer,
        serde_json::json!({ "greeting": "hello", "accounts": accounts })
    );

    edit(
        &project.join("workflow.js"),
        r#"greeting: "hello""#,
        r#"greeting: "hello again""#,
    );
    up.wait_for("Reloaded hello-js");
    let answer = up.call().await;
    assert_eq!(answer["greeting"], "hello again", "{answer}");
}
