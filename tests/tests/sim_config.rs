//! The simulator's configuration: the built-in default (examples/sim.toml),
//! every problem of a bad config reported at once, unknown keys rejected,
//! relative paths, and a missing PKI named at start.

use std::path::Path;

use twoway_sim::config::DEFAULT_TOML;
use twoway_sim::{Sim, SimConfig, SimError};
use twoway_tests::pki;

fn problems(toml: &str) -> String {
    SimConfig::from_toml(toml, Path::new("."), Some(&pki().dir)).expect_err("a bad config")
}

#[test]
fn the_built_in_config_is_the_example_file() {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sim.toml"))
            .unwrap();
    assert_eq!(DEFAULT_TOML, example);
    let config = SimConfig::defaults(&pki().dir).unwrap();
    assert_eq!(config.orgs.len(), 2);
    assert_eq!(config.orgs[0].id, "00D5g000004Acme");
    assert_eq!(config.orgs[0].users.len(), 2);
    assert!(config.orgs[0].users[0].enforce_mutual_auth);
    assert_eq!(config.limits.session_seconds, 7200);
    assert_eq!(config.limits.api_requests_per_day, 15_000);
    assert!(!config.limits.allow_login_on_mutual_port);
    assert_eq!(config.tls.client_ca, pki().root_ca);
    assert_eq!(config.orgs[0].certificate_files, [pki().client.clone()]);
    // Users get distinct Salesforce-shaped ids.
    let ids: Vec<_> = config
        .orgs
        .iter()
        .flat_map(|o| &o.users)
        .map(|u| u.id.clone())
        .collect();
    assert!(ids.iter().all(|id| id.len() == 18 && id.starts_with("005")));
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
pki_dir = "pki"

[[object]]
name = "Account"
key_prefix = "0001"
fields = ["Name"]
required = ["Name", "Ghost"]

[[org]]
id = "bad"
name = "Bad"
  [[org.user]]
  username = "a@x.example"
  password = "p"
  full_name = "A"
  email = "a@x.example"
  [[org.connected_app]]
  client_id = "app"
  client_secret = "s"
  run_as = "nobody@x.example"
  [[org.record]]
  type = "Widget"
  fields = { Name = "w" }
  [[org.record]]
  type = "Account"
  fields = { Name = "a", Color = "red" }

[[org]]
id = "00D000000000002"
name = "Twin"
  [[org.user]]
  username = "A@X.example"
  password = "p"
  full_name = "A"
  email = "a@x.example"
"#;
    let report = problems(text);
    for expected in [
        "object[0].key_prefix: Account is a standard object, its key prefix is 001",
        r#"object[0].required: "Ghost" is not one of its fields"#,
        r#"org[0].id = "bad": an org id is 15 letters and digits starting with 00D"#,
        r#"org[0].connected_app[0].run_as = "nobody@x.example": no user of this org"#,
        r#"org[0].record[0].type = "Widget": no standard object or [[object]] of that name"#,
        "org[0].record[1].fields.Color: not a writable field of Account",
        r#"org[1].user[0].username = "A@X.example": already used"#,
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in {report}"
        );
    }
    assert_eq!(report.matches("; ").count(), 6, "{report}");
}

#[test]
fn unknown_keys_are_rejected() {
    for (text, key) in [
        ("pki_dir = \"p\"\nbogus = 1\n", "bogus"),
        (
            "pki_dir = \"p\"\n[limits]\nsesion_seconds = 5\n",
            "sesion_seconds",
        ),
        ("pki_dir = \"p\"\n[listen]\nmutual = 8443\n", "mutual"),
        (
            "pki_dir = \"p\"\n[[org]]\nid = \"00D000000000001\"\nname = \"n\"\n[[org.user]]\nusername = \"u\"\npasword = \"p\"\npassword = \"p\"\nfull_name = \"f\"\nemail = \"e\"\n",
            "pasword",
        ),
    ] {
        let report = problems(text);
        assert!(
            report.contains(&format!("unknown field `{key}`")),
            "{key}: {report}"
        );
    }
    // A missing required key is named too.
    assert!(problems("[limits]\n").contains("pki_dir"));
    // And a value of the wrong type.
    assert!(
        problems("pki_dir = \"p\"\n[limits]\nsession_seconds = \"long\"\n")
            .contains("session_seconds")
    );
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.toml");
    std::fs::write(
        &path,
        "pki_dir = \"certs\"\n[limits]\nsession_seconds = 60\n",
    )
    .unwrap();
    let config = SimConfig::load(&path).unwrap();
    assert_eq!(config.pki_dir, dir.path().join("certs"));
    assert_eq!(config.tls.server_cert, dir.path().join("certs/server.pem"));
    assert_eq!(config.limits.session_seconds, 60);
    // Unset limits keep Salesforce-like defaults.
    assert_eq!(config.limits.lockout_after_failures, 10);

    let missing = SimConfig::load(&dir.path().join("absent.toml")).unwrap_err();
    assert!(matches!(missing, SimError::Config { .. }), "{missing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_pki_is_named_at_start() {
    let empty = tempfile::tempdir().unwrap();
    let config = SimConfig::defaults(empty.path()).unwrap();
    let error = match Sim::start(config).await {
        Ok(_) => panic!("started without certificates"),
        Err(e) => e,
    };
    assert!(matches!(error, SimError::Certificate { .. }), "{error}");
    assert!(error.to_string().contains("twoway pki init"), "{error}");
}
