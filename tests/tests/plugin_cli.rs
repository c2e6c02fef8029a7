//! `twoway plugin new | check | run` as a plugin author runs them: a new
//! crate that tests, builds and loads; a component checked against the
//! world; one call of a configured workflow through the real host path
//! (session, mutual TLS) against `twoway sim`, with the gateway's problem
//! documents; and `config check` loading every workflow's component.

use std::path::Path;
use std::process::Command;

use twoway_tests::gateway::{ACME, SECRETS};
use twoway_tests::plugins::{ERROR_CASES, GET_USER_INFO, WIT_0_1_0, WIT_0_3_0, WIT_0_3_1};
use twoway_tests::process::{self, Process, Run};

fn twoway(args: &[&str], dir: &Path) -> Run {
    process::twoway(args, dir, &[])
}

#[test]
fn check_shows_the_world_and_refuses_what_the_gateway_would() {
    let dir = tempfile::tempdir().unwrap();
    let run = twoway(&["plugin", "check", GET_USER_INFO], dir.path());
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stdout
            .contains("ok, a workflow for twoway:gateway@0.3.3"),
        "{}",
        run.output()
    );
    assert!(run.stdout.contains("memory image: "), "{}", run.output());

    let run = twoway(&["plugin", "check", GET_USER_INFO, "--json"], dir.path());
    assert_eq!(run.code, 0, "{}", run.output());
    let report = run.json();
    let size = std::fs::metadata(GET_USER_INFO).unwrap().len();
    assert_eq!(report["size"], size);
    assert_eq!(report["version"].as_str().unwrap().len(), 16);
    let names = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("exports") == ["handle"], "{report}");
    // Every live instance maps the memory image: get-user-info answers JSON
    // without serde_json's number formatting, whose tables (about 15 KB)
    // doubled it and held 6 MB of the gateway's RSS at 256 callers.
    let image = report["memory_image"].as_u64().unwrap();
    assert!((1_000..16_000).contains(&image), "{report}");
    for import in ["soap", "context"] {
        assert!(
            names("imports").contains(&format!("twoway:gateway/{import}@0.3.3")),
            "{report}"
        );
    }

    // Built against the old WIT: refused with the fix.
    let run = twoway(&["plugin", "check", WIT_0_1_0], dir.path());
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("twoway:gateway@0.1.0") && run.stderr.contains("rebuild"),
        "{}",
        run.output()
    );

    // Built against 0.3.0, the same track: loads, and says which version.
    let run = twoway(&["plugin", "check", WIT_0_3_0], dir.path());
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stdout.contains("ok, a policy for twoway:gateway@0.3.0"),
        "{}",
        run.output()
    );

    // A workflow built against 0.3.1 (no `soap` import) loads too.
    let run = twoway(&["plugin", "check", WIT_0_3_1], dir.path());
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stdout
            .contains("ok, a workflow for twoway:gateway@0.3.1"),
        "{}",
        run.output()
    );

    // Truncated: not a component.
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &std::fs::read(GET_USER_INFO).unwrap()[..200]).unwrap();
    let run = twoway(&["plugin", "check", "truncated.wasm"], dir.path());
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("not a valid component"),
        "{}",
        run.output()
    );

    // Cargo's underscore spelling is suggested for a dashed name.
    std::fs::copy(GET_USER_INFO, dir.path().join("get_user_info.wasm")).unwrap();
    let run = twoway(&["plugin", "check", "get-user-info.wasm"], dir.path());
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("did you mean") && run.stderr.contains("get_user_info.wasm"),
        "{}",
        run.output()
    );
}

/// A folder with secrets and a twoway.toml whose tenant `acme` logs in to
/// the simulator at `endpoints` and has `workflows` (name, component).
fn gateway_config(dir: &Path, endpoints: &serde_json::Value, workflows: &[(&str, &str)]) {
    for (name, value) in SECRETS {
        std::fs::write(dir.join(name), value).unwrap();
    }
    let mut config = "[plugins]\ndir = \".\"\n".to_string()
        + &ACME
            .replace("{login_url}", endpoints["login_url"].as_str().unwrap())
            .replace("{mutual_port}", &endpoints["mutual_auth_port"].to_string())
            .replace("{pki}", &twoway_tests::pki().dir.display().to_string());
    for (name, plugin) in workflows {
        config.push_str(&format!(
            "[[tenant.workflow]]\nname = \"{name}\"\nplugin = \"{plugin}\"\n"
        ));
    }
    std::fs::write(dir.join("twoway.toml"), config).unwrap();
}

#[test]
fn run_calls_one_workflow_with_the_tenants_session() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_sim, endpoints) = Process::sim(&twoway_tests::pki().dir, d);
    gateway_config(
        d,
        &endpoints,
        &[("user", GET_USER_INFO), ("errors", ERROR_CASES)],
    );
    let base = [
        "plugin",
        "run",
        "--config",
        "twoway.toml",
        "--tenant",
        "acme",
    ];
    fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(more).copied().collect()
    }

    let run = twoway(&with(&base, &["--workflow", "user"]), d);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains("HTTP 200 (workflow user, version "),
        "{}",
        run.output()
    );
    let answer = run.json();
    assert_eq!(answer["userName"], "integration@acme.example");
    for secret in ["00D5g000004Acme!", "acme-password", "ACMETOKEN"] {
        assert!(!run.output().contains(secret), "{secret} printed");
    }

    let run = twoway(&with(&base, &["--workflow", "user", "--json"]), d);
    assert_eq!(run.code, 0, "{}", run.output());
    let answer = run.json();
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["body"]["userName"], "integration@acme.example");

    // A workflow's own error: the gateway's problem document, exit 5.
    let run = twoway(
        &with(
            &base,
            &[
                "--workflow",
                "errors",
                "--path",
                "/own/upstream/api-limit-exceeded",
            ],
        ),
        d,
    );
    assert_eq!(run.code, 5, "{}", run.output());
    assert!(
        run.stderr.contains("HTTP 429 api_limit_exceeded"),
        "{}",
        run.output()
    );
    let problem = run.json();
    assert_eq!(problem["code"], "api_limit_exceeded");
    assert_eq!(problem["workflow"], "errors");

    // An unknown workflow names the ones there are.
    let run = twoway(&with(&base, &["--workflow", "nope"]), d);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("workflows: user, errors"),
        "{}",
        run.output()
    );
}

#[test]
fn config_check_loads_every_component() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let endpoints = serde_json::json!({"login_url": "https://127.0.0.1:9", "mutual_auth_port": 9});
    std::fs::copy(GET_USER_INFO, d.join("get_user_info.wasm")).unwrap();
    gateway_config(
        d,
        &endpoints,
        &[("user", "get_user_info.wasm"), ("old", WIT_0_1_0)],
    );
    let run = twoway(&["config", "check", "twoway.toml"], d);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("tenant[acme].workflow[old].plugin")
            && run.stderr.contains("twoway:gateway@0.1.0"),
        "{}",
        run.output()
    );
    assert!(!run.stderr.contains("workflow[user]"), "{}", run.output());

    // A dashed name for cargo's underscored file: the hint.
    gateway_config(d, &endpoints, &[("user", "get-user-info.wasm")]);
    let run = twoway(&["config", "check", "twoway.toml"], d);
    assert_eq!(run.code, 3, "{}", run.output());
    assert!(
        run.stderr.contains("did you mean") && run.stderr.contains("get_user_info.wasm"),
        "{}",
        run.output()
    );

    gateway_config(d, &endpoints, &[("user", "get_user_info.wasm")]);
    let run = twoway(&["config", "check", "twoway.toml"], d);
    assert_eq!(run.code, 0, "{}", run.output());
}

/// The host's target triple, for native builds of a plugin crate.
fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host")
}

/// `cargo ARGS` in `dir`, building into the plugin workspace's target
/// folder (its dependencies are built there already) and offline (the
/// template pins the SDK workspace's lock file).
fn cargo(args: &[&str], dir: &Path) -> std::process::Output {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(args)
        .arg("--offline")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", plugins.join("target"));
    for var in twoway_tests::guest_cargo::HOST_ONLY_ENV {
        command.env_remove(var);
    }
    command.output().expect("cargo runs")
}

#[test]
fn new_makes_a_crate_that_tests_builds_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = twoway(&["plugin", "new", "Hello"], d);
    assert_eq!(run.code, 2, "a bad name is a usage error: {}", run.output());

    let run = twoway(&["plugin", "new", "hello-flow"], d);
    assert_eq!(run.code, 0, "{}", run.output());
    let krate = d.join("hello-flow");
    assert!(krate.join("Cargo.lock").is_file(), "the SDK's versions");
    let run = twoway(&["plugin", "new", "hello-flow"], d);
    assert_eq!(
        run.code,
        2,
        "never over an existing crate: {}",
        run.output()
    );

    let test = cargo(&["test", "--target", &host_triple()], &krate);
    let output =
        String::from_utf8_lossy(&test.stdout).into_owned() + &String::from_utf8_lossy(&test.stderr);
    assert!(test.status.success(), "{output}");
    assert!(
        output.contains("answers_the_user_and_org ... ok"),
        "{output}"
    );

    let build = cargo(&["build", "--release", "--target", "wasm32-wasip2"], &krate);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let component = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release/hello_flow.wasm");
    let run = twoway(&["plugin", "check", component.to_str().unwrap()], d);
    // Not left beside the test plugins (tests/build.rs lists that folder).
    std::fs::remove_file(&component).unwrap();
    assert_eq!(run.code, 0, "{}", run.output());
}
