//! `twoway cert check` and `twoway cert bundle` as a user runs them: exit
//! codes 0 / 1 / 2, the documented JSON, `--connect` against `twoway sim`,
//! the bundle's block order, its refusals, and what is never printed.

use std::path::Path;

use twoway_tests::files::{path_str as s, pem_blocks};
use twoway_tests::process::{self, Process, Run};

const DOC: &str = include_str!("../../docs/cert-check.md");
/// `cert check`'s exit codes: apart from clap's usage error (2) and any
/// other failure (1).
const WARNINGS: i32 = twoway_doctor::EXIT_WARNINGS as i32;
const ERRORS: i32 = twoway_doctor::EXIT_ERRORS as i32;

/// A file of the test PKI (leaked: tests pass many of them as `&str`).
fn f(name: &str) -> &'static Path {
    Box::leak(twoway_tests::pki().dir.join(name).into_boxed_path())
}

fn twoway(args: &[&str], env: &[(&str, &str)]) -> Run {
    process::twoway(args, &twoway_tests::pki().dir, env)
}

/// `twoway cert check FILE ARGS...`.
fn check(file: &Path, args: &[&str]) -> Run {
    twoway(&[&["cert", "check", s(file)], args].concat(), &[])
}

/// `twoway cert bundle` into `out` of the PKI files `files` (the key, the
/// certificate, then the chain), then `args`.
fn bundle(out: &Path, files: &[&str], args: &[&str]) -> Run {
    let [key, cert, chain @ ..] = files else {
        panic!("a key, a certificate and a chain: {files:?}");
    };
    let mut all = vec!["cert", "bundle", "--key", s(f(key)), "--cert", s(f(cert))];
    all.push("--chain");
    all.extend(chain.iter().map(|c| s(f(c))));
    all.extend(["-o", s(out)]);
    all.extend(args);
    twoway(&all, &[])
}

fn check_status<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))["status"]
        .as_str()
        .expect("status")
}

#[test]
fn exit_codes_follow_the_worst_check() {
    let root = f("root-ca.pem");
    let run = check(f("fullcert.pem"), &["--cacert", s(root)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("key_matches_leaf"), "{}", run.stdout);

    // The test root is no system root: a warning without --cacert.
    let run = check(f("fullcert.pem"), &[]);
    assert_eq!(run.code, WARNINGS, "{}", run.stdout);
    assert!(
        run.stdout.contains("WARNING  chain_complete"),
        "{}",
        run.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let with_root = dir.path().join("with-root.pem");
    let text = std::fs::read_to_string(f("fullcert.pem")).unwrap()
        + &std::fs::read_to_string(root).unwrap();
    std::fs::write(&with_root, text).unwrap();
    let run = check(&with_root, &["--cacert", s(root), "--json"]);
    assert_eq!(run.code, WARNINGS, "{}", run.stdout);
    assert_eq!(check_status(&run.json(), "root_included"), "warning");

    for (file, id) in [
        ("selfsigned-client-fullcert.pem", "leaf_not_self_signed"),
        ("expired-client-fullcert.pem", "validity"),
        ("untrusted-client-fullcert.pem", "chain_complete"),
        ("mismatched-fullcert.pem", "key_matches_leaf"),
        ("codesign-client-fullcert.pem", "extended_key_usage"),
    ] {
        let run = check(f(file), &["--cacert", s(root), "--json"]);
        assert_eq!(run.code, ERRORS, "{file}: {}", run.stdout);
        let report = run.json();
        assert_eq!(check_status(&report, id), "error", "{file}: {report}");
        assert_eq!(report["summary"]["exit_code"], ERRORS);
    }

    // A file that does not exist is a report too, not a crash.
    let run = check(Path::new("/nonexistent/fullcert.pem"), &[]);
    assert_eq!(run.code, ERRORS, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("cannot read"), "{}", run.stdout);
}

#[test]
fn json_is_the_documented_shape() {
    let run = check(
        f("fullcert.pem"),
        &["--cacert", s(f("root-ca.pem")), "--json"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["identity"]["format"], "pem");
    assert_eq!(report["identity"]["leaf"]["key_type"], "RSA 2048");
    assert_eq!(
        report["identity"]["leaf"]["extended_key_usage"][0],
        "clientAuth"
    );
    assert!(
        report["identity"]["leaf"]["days_to_expiry"]
            .as_i64()
            .unwrap()
            > 30
    );
    assert_eq!(report["identity"]["certificates"][0]["role"], "leaf");
    assert!(report["connect"].is_null());
    assert_eq!(report["summary"]["status"], "ok");
    for key in ["exit_code", "ok", "warning", "error"] {
        assert!(report["summary"][key].is_u64(), "summary.{key}");
    }
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 12);
    for check in checks {
        let id = check["id"].as_str().unwrap();
        assert!(
            DOC.contains(&format!("| `{id}` |")),
            "{id} is not documented"
        );
        assert_eq!(check["status"], "ok");
        assert!(check["message"].is_string());
        assert!(check["fix"].is_null());
    }
    // Every id the code knows is in the documentation's table.
    for id in twoway_doctor::CheckId::ALL {
        assert!(
            DOC.contains(&format!("| `{}` |", id.as_str())),
            "{} is not documented",
            id.as_str()
        );
    }
    for field in [
        "schema_version",
        "rejection_reason",
        "chain_matches_hint",
        "days_to_expiry",
    ] {
        assert!(DOC.contains(field), "{field} is not documented");
    }
}

#[test]
fn pkcs12_password_comes_from_the_environment_and_is_never_printed() {
    // `cert check client.p12` with the password `password` in P12_PW.
    let check_p12 = |password: &str, args: &[&str]| {
        let p12 = [
            "cert",
            "check",
            s(f("client.p12")),
            "--password-env",
            "P12_PW",
        ];
        twoway(&[&p12[..], args].concat(), &[("P12_PW", password)])
    };
    let run = check_p12("changeit", &["--cacert", s(f("root-ca.pem"))]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("changeit") && !run.stderr.contains("changeit"));
    let run = check_p12("Wr0ng-Secret-Value", &["--json"]);
    assert_eq!(run.code, ERRORS);
    assert_eq!(check_status(&run.json(), "blocks"), "error");
    assert!(
        !run.stdout.contains("Wr0ng-Secret-Value") && !run.stderr.contains("Wr0ng-Secret-Value")
    );

    // No key bytes in any output.
    let key_text = std::fs::read_to_string(f("fullcert.pem")).unwrap();
    let key_line = key_text.lines().nth(1).expect("a base64 line of the key");
    for args in [&["--json"][..], &[]] {
        let run = check(f("mismatched-fullcert.pem"), args);
        assert!(!run.stdout.contains(key_line));
    }
}

/// The blocks of a PEM file: (label, base64 body).
fn blocks(path: &Path) -> Vec<(String, String)> {
    pem_blocks(path)
        .into_iter()
        .map(|b| (b.label, b.body))
        .collect()
}

#[test]
fn bundle_writes_key_leaf_intermediate_in_order_without_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fullcert.pem");
    // Given the wrong way round: the "cert" is the intermediate, the leaf hides in --chain with the root.
    let run = bundle(
        &out,
        &[
            "client.key",
            "intermediate-ca.pem",
            "root-ca.pem",
            "client.pem",
        ],
        &["--cacert", s(f("root-ca.pem"))],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Left out: root CA"), "{}", run.stdout);
    let written = blocks(&out);
    let key = blocks(f("client.key"));
    let leaf = blocks(f("client.pem"));
    let inter = blocks(f("intermediate-ca.pem"));
    assert_eq!(
        written,
        vec![key[0].clone(), leaf[0].clone(), inter[0].clone()]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // What was written checks clean, and loads as a gateway identity.
    let run = check(&out, &["--cacert", s(f("root-ca.pem"))]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let id = twoway::identity::load(&twoway::identity::IdentitySource::Pem { path: out.clone() })
        .unwrap();
    assert_eq!(id.chain.len(), 2);

    // Never over an existing file without --force.
    let before = std::fs::read(&out).unwrap();
    let again = |args: &[&str]| {
        bundle(
            &out,
            &["client-b.key", "client-b.pem", "client-chain.pem"],
            args,
        )
    };
    let run = again(&[]);
    assert_eq!(run.code, ERRORS, "{}", run.stdout);
    assert!(run.stdout.contains("--force"), "{}", run.stdout);
    assert_eq!(std::fs::read(&out).unwrap(), before);
    let run = again(&["--force"]);
    assert!(run.code == 0 || run.code == WARNINGS, "{}", run.stdout);
    assert_eq!(blocks(&out)[1], blocks(f("client-b.pem"))[0]);
}

#[test]
fn bundle_refuses_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fullcert.pem");
    // The second tenant's key with the first tenant's certificate.
    let run = bundle(
        &out,
        &["client-b.key", "client.pem", "client-chain.pem"],
        &[],
    );
    assert_eq!(run.code, ERRORS, "{}", run.stdout);
    assert!(
        run.stdout.contains("ERROR    key_matches_leaf"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Nothing written"), "{}", run.stdout);
    assert!(!out.exists());
    // An expired certificate.
    let run = bundle(
        &out,
        &[
            "expired-client.key",
            "expired-client.pem",
            "client-chain.pem",
        ],
        &[],
    );
    assert_eq!(run.code, ERRORS, "{}", run.stdout);
    assert!(!out.exists());
}

#[test]
fn connect_against_twoway_sim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sim, endpoints) = Process::sim(&twoway_tests::pki().dir, dir.path());
    let address = format!("127.0.0.1:{}", endpoints["mutual_auth_port"]);
    let root = f("root-ca.pem");

    let connect = ["--cacert", s(root), "--connect", &address];
    let run = check(f("fullcert.pem"), &[&connect[..], &["--json"]].concat());
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = run.json();
    assert_eq!(report["connect"]["accepted"], true);
    assert!(
        report["connect"]["ca_hints"][0]
            .as_str()
            .unwrap()
            .contains("twoway Test Root CA")
    );

    let run = check(f("untrusted-client-fullcert.pem"), &connect);
    assert_eq!(run.code, ERRORS, "{}", run.stdout);
    assert!(
        run.stdout.contains("ERROR    certificate_accepted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("unable to get local issuer certificate"),
        "{}",
        run.stdout
    );
}

/// A usage error (clap's 2), a warning and an error each have their own
/// exit code, as docs/cert-check.md says.
#[test]
fn exit_codes_tell_usage_warnings_and_errors_apart() {
    let usage = twoway(&["cert", "check", "--no-such-flag", "x.pem"], &[]);
    assert_eq!(usage.code, 2, "{}", usage.output());
    let missing = twoway(&["cert", "check"], &[]);
    assert_eq!(missing.code, 2, "{}", missing.output());
    let warning = check(f("fullcert.pem"), &[]);
    assert_eq!(warning.code, WARNINGS, "{}", warning.output());
    let error = check(Path::new("/nonexistent/fullcert.pem"), &[]);
    assert_eq!(error.code, ERRORS, "{}", error.output());
    assert_eq!(
        std::collections::HashSet::from([2, WARNINGS, ERRORS, 1]).len(),
        4
    );
    for line in [
        "`0` every check ok, `6` warnings only, `7` at least one error",
        "`2` is a usage error",
    ] {
        assert!(
            DOC.contains(line),
            "docs/cert-check.md does not say: {line}"
        );
    }
}
