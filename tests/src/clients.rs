//! Real Salesforce clients as test peers: jsforce (Node.js),
//! simple-salesforce (Python) and the Salesforce CLI (`sf`, Node.js),
//! installed by `scripts/install-test-clients`, and a JVM peer doing the
//! wire protocol of WSC and Data Loader (tests/clients/java/Peer.java, run
//! by the JDK that script installs). A test runs one of their
//! scripts (files under tests/clients/) against a URL and gets back the
//! JSON the script printed, or runs an `sf` command with `--json`.
//!
//! Every script reads the same environment: `SF_LOGIN_URL` (the login
//! service, `https://host:port`), `SF_USERNAME`, `SF_PASSWORD` (with the
//! security token appended), and optionally `SF_INSTANCE_URL` (where API
//! calls go instead of the login's serverUrl, e.g. the mutual-auth port),
//! `SF_CLIENT_CERT` (a PEM holding the key and certificate chain to present)
//! and `SF_VERSION` (the API version; the client's default otherwise). The
//! test root CA is trusted through `NODE_EXTRA_CA_CERTS` / `REQUESTS_CA_BUNDLE`,
//! and by the JVM through a PKCS12 truststore `keytool` makes from it.
//!
//! When a client is not installed its tests print how to install it and
//! return, unless `TWOWAY_REQUIRE_CLIENTS=1` (`TWOWAY_REQUIRE_JAVA=1` for
//! the JDK; scripts/test sets both): then they fail.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

use super::pki;

/// Which client library a script drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// jsforce 3, under Node.js (tests/clients/js).
    Jsforce,
    /// simple-salesforce 1.12, under Python (tests/clients/python).
    SimpleSalesforce,
    /// The Salesforce CLI, `sf` 2 (tests/clients/sf).
    SfCli,
    /// The JVM peer (tests/clients/java/Peer.java): its "scripts" are the
    /// scenarios it takes as its argument.
    Java,
}

/// An installed client: the interpreter and the folder of its scripts.
#[derive(Debug, Clone)]
pub struct Peer {
    pub kind: Kind,
    program: PathBuf,
    scripts: PathBuf,
    /// Java only: whether the JVM trusts the test CA (a truststore made by keytool).
    trust: bool,
}

const INSTALL: &str =
    "scripts/install-test-clients (it installs Node.js, npm and python3 when missing)";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Peer {
    /// jsforce, or None (with a note) when it is not installed and not required.
    pub fn jsforce() -> Option<Self> {
        let scripts = root().join("tests/clients/js");
        let installed = scripts.join("node_modules/jsforce/package.json").is_file();
        Self::found(Kind::Jsforce, PathBuf::from("node"), scripts, installed)
    }

    /// simple-salesforce, or None (with a note) when it is not installed and not required.
    pub fn simple_salesforce() -> Option<Self> {
        let python = root().join("target/test-clients/venv/bin/python");
        let installed = python.is_file();
        let scripts = root().join("tests/clients/python");
        Self::found(Kind::SimpleSalesforce, python, scripts, installed)
    }

    /// The Salesforce CLI, or None (with a note) when it is not installed
    /// and not required. Its "scripts" are its own commands.
    pub fn sf_cli() -> Option<Self> {
        let dir = root().join("tests/clients/sf");
        let program = dir.join("node_modules/.bin/sf");
        let installed = program.is_file();
        Self::found(Kind::SfCli, program, dir, installed)
    }

    /// The JVM peer, or None (with a note) when no JDK (`java`, `javac`,
    /// `keytool`) is on PATH and `TWOWAY_REQUIRE_JAVA` is not 1.
    pub fn java() -> Option<Self> {
        let installed = ["java", "javac", "keytool"]
            .iter()
            .all(|tool| on_path(tool));
        let scripts = root().join("tests/clients/java");
        Self::found(Kind::Java, PathBuf::from("java"), scripts, installed)
    }

    /// This JVM peer without the truststore: the JVM's own CAs only.
    pub fn without_truststore(mut self) -> Self {
        self.trust = false;
        self
    }

    fn found(kind: Kind, program: PathBuf, scripts: PathBuf, installed: bool) -> Option<Self> {
        if installed {
            return Some(Self {
                kind,
                program,
                scripts,
                trust: true,
            });
        }
        let require = match kind {
            Kind::Java => "TWOWAY_REQUIRE_JAVA",
            _ => "TWOWAY_REQUIRE_CLIENTS",
        };
        if std::env::var(require).is_ok_and(|v| v == "1") {
            panic!("{kind:?} is not installed and {require}=1: run {INSTALL}");
        }
        eprintln!(
            "note: {kind:?} checks skipped, the client is not installed; run {INSTALL} (or set {require}=1 to make this a failure)"
        );
        None
    }

    /// Runs `script` (a file in the client's folder) with `env` added and
    /// returns the JSON it printed; panics with its stderr when it fails.
    pub async fn run(&self, script: &str, env: &[(&str, &str)]) -> Value {
        self.try_run(script, env)
            .await
            .unwrap_or_else(|e| panic!("{:?} {script}: {e}", self.kind))
    }

    /// Like [`Peer::run`], but a failing script is an error holding its
    /// exit status and stderr.
    /// For [`Kind::Java`], `script` is the scenario `Peer.java` runs.
    pub async fn try_run(&self, script: &str, env: &[(&str, &str)]) -> Result<Value, String> {
        if self.kind == Kind::Java {
            let mut args: Vec<std::ffi::OsString> = Vec::new();
            if self.trust {
                let store = java_truststore().display().to_string();
                args.push(format!("-Djavax.net.ssl.trustStore={store}").into());
                args.push(
                    format!("-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}").into(),
                );
                args.push("-Djavax.net.ssl.trustStoreType=PKCS12".into());
            }
            args.extend(["Peer.java".into(), script.into()]);
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            return self.execute(&args, env).await;
        }
        self.execute(&[self.scripts.join(script).as_os_str()], env)
            .await
    }

    /// Runs `sf {args} --json` (the [`Kind::SfCli`] peer) with `env` added
    /// and `home` as its home (where it keeps its orgs), and returns the
    /// JSON it printed; a failing command is an error holding its output.
    pub async fn sf(
        &self,
        args: &[&str],
        home: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Result<Value, String> {
        assert_eq!(self.kind, Kind::SfCli, "sf commands need the sf CLI peer");
        let home = home.display().to_string();
        let mut env = env.to_vec();
        env.extend([
            ("HOME", home.as_str()),
            // No telemetry, update checks or OS keychain: a test machine has none.
            ("SF_DISABLE_TELEMETRY", "true"),
            ("SF_AUTOUPDATE_DISABLE", "true"),
            ("SF_SKIP_NEW_VERSION_CHECK", "true"),
            ("SF_USE_GENERIC_UNIX_KEYCHAIN", "true"),
            ("SF_LOG_LEVEL", "fatal"),
        ]);
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        args.push(std::ffi::OsStr::new("--json"));
        self.execute(&args, &env).await
    }

    async fn execute(
        &self,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &str)],
    ) -> Result<Value, String> {
        let ca = pki().root_ca.display().to_string();
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(args)
            .current_dir(&self.scripts)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        // Loopback only: no proxy from the caller's environment.
        for proxy in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
        ] {
            command.env_remove(proxy);
        }
        match self.kind {
            Kind::Jsforce | Kind::SfCli => command.env("NODE_EXTRA_CA_CERTS", &ca),
            Kind::SimpleSalesforce => command
                .env("REQUESTS_CA_BUNDLE", &ca)
                .env("PYTHONDONTWRITEBYTECODE", "1"),
            // Only the flags the test gives: none from the caller's environment.
            Kind::Java => command
                .env_remove("JAVA_TOOL_OPTIONS")
                .env_remove("JDK_JAVA_OPTIONS")
                .env_remove("_JAVA_OPTIONS"),
        };
        command.envs(env.iter().copied());
        if self.kind == Kind::SfCli {
            // sf's plugins run `sf` by name.
            let bin = self.program.parent().map(|p| p.display().to_string());
            let path = std::env::var("PATH").unwrap_or_default();
            command.env("PATH", format!("{}:{path}", bin.unwrap_or_default()));
        }
        let out = command
            .output()
            .await
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "{}\nstderr:\n{stderr}\nstdout:\n{stdout}",
                out.status
            ));
        }
        serde_json::from_str(&stdout)
            .map_err(|e| format!("output is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
    }
}

/// The password of the JVM peer's truststore (it holds only a public CA).
const TRUSTSTORE_PASSWORD: &str = "changeit";

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// A PKCS12 truststore holding the test root CA, made once per test run by
/// `keytool -importcert` as docs/front-door.md tells a WSC or Data Loader
/// user to do with the gateway's CA.
fn java_truststore() -> &'static std::path::Path {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, path) = STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a folder for the truststore");
        let path = dir.path().join("twoway-truststore.p12");
        let out = std::process::Command::new("keytool")
            .args([
                "-importcert",
                "-noprompt",
                "-alias",
                "twoway-gateway-ca",
                "-file",
            ])
            .arg(&pki().root_ca)
            .arg("-keystore")
            .arg(&path)
            .args(["-storetype", "PKCS12", "-storepass", TRUSTSTORE_PASSWORD])
            .output()
            .expect("run keytool");
        assert!(
            out.status.success(),
            "keytool -importcert: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (dir, path)
    });
    path
}
