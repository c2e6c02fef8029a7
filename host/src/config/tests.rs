//! Config checks that need no files: values that cannot work are refused
//! with their key paths, and no value makes the checker panic or overflow.

use std::path::Path;

use super::from_toml;

fn problems(text: &str) -> Vec<String> {
    let env = |name: &str| (name == "PW").then(|| "pw".to_string());
    match from_toml(text, Path::new("/nonexistent"), &env) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

const TENANT: &str = r#"
[[tenant]]
name = "acme"
[tenant.auth]
kind = "soap-login"
username = "u"
password_env = "PW"
"#;

fn with_tenant_keys(keys: &str) -> String {
    TENANT.replace("name = \"acme\"", &format!("name = \"acme\"\n{keys}"))
}

#[test]
fn a_plain_tenant_is_accepted() {
    assert_eq!(problems(TENANT), Vec::<String>::new());
}

#[test]
fn values_that_cannot_work_are_refused_with_their_key_paths() {
    let cases = [
        (
            with_tenant_keys("max_concurrency = 0"),
            "tenant[acme].max_concurrency",
        ),
        (
            with_tenant_keys("max_concurrency = 100000000"),
            "tenant[acme].max_concurrency",
        ),
        (
            with_tenant_keys("session_seconds = 0"),
            "tenant[acme].session_seconds",
        ),
        (
            with_tenant_keys("mutual_auth_port = 0"),
            "tenant[acme].mutual_auth_port",
        ),
        (
            format!("[plugins]\nmemory_mb = 0\n{TENANT}"),
            "plugins.memory_mb",
        ),
        (
            format!("[plugins]\nmemory_mb = 4096\n{TENANT}"),
            "plugins.memory_mb",
        ),
        (
            format!("[plugins]\ntimeout_ms = 0\n{TENANT}"),
            "plugins.timeout_ms",
        ),
        (
            format!("[plugins]\nmax_body_kb = 0\n{TENANT}"),
            "plugins.max_body_kb",
        ),
        (
            format!("[server]\nmax_body_kb = 0\n{TENANT}"),
            "server.max_body_kb",
        ),
        (
            format!("[server]\nheader_timeout_ms = 0\n{TENANT}"),
            "server.header_timeout_ms",
        ),
        (
            format!("[upstream]\nresponse_timeout_ms = 0\n{TENANT}"),
            "upstream.response_timeout_ms",
        ),
        (
            format!("[upstream]\nmax_response_kb = 0\n{TENANT}"),
            "upstream.max_response_kb",
        ),
        (
            format!(
                "{TENANT}\n[[tenant.workflow]]\nname = \"w\"\nplugin = \"w.wasm\"\nmemory_mb = 2048\n"
            ),
            "tenant[acme].workflow[w].memory_mb",
        ),
    ];
    for (text, key) in cases {
        let found = problems(&text);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with(&format!("{key}: ")) && p.contains("cannot work")),
            "{key}: {found:?}"
        );
    }
}

#[test]
fn huge_values_are_problems_not_overflows() {
    let max = u64::MAX;
    let text = format!(
        "[server]\nmax_body_kb = {max}\nheader_timeout_ms = {max}\n[plugins]\nmemory_mb = {max}\nmax_output_kb = {max}\ntimeout_ms = {max}\n[upstream]\nmax_response_kb = {max}\npool_idle_timeout_s = {max}\n{}",
        with_tenant_keys(&format!("session_seconds = {max}\nmax_concurrency = {max}"))
    );
    let found = problems(&text);
    for key in [
        "server.max_body_kb",
        "server.header_timeout_ms",
        "plugins.memory_mb",
        "plugins.max_output_kb",
        "plugins.timeout_ms",
        "upstream.max_response_kb",
        "upstream.pool_idle_timeout_s",
        "tenant[acme].session_seconds",
        "tenant[acme].max_concurrency",
    ] {
        assert!(found.iter().any(|p| p.starts_with(key)), "{key}: {found:?}");
    }
}

#[test]
fn a_secret_pasted_inline_is_never_echoed() {
    const CANARY: &str = "CANARY-inline-5ec2e7";
    let texts = [
        TENANT.replace("password_env = \"PW\"", &format!("password = \"{CANARY}\"")),
        TENANT.replace("username = \"u\"", &format!("username = \"{CANARY}")),
        format!("[server]\nmax_body_kb = \"{CANARY}\"\n{TENANT}"),
        TENANT.replace("kind = \"soap-login\"", &format!("kind = {CANARY}")),
        // An unknown variant or a value of the wrong shape, with escaped
        // quotes, backticks, newlines and non-ASCII around the canary.
        TENANT.replace(
            "kind = \"soap-login\"",
            &format!(r#"kind = "pa\"ss-{CANARY}""#),
        ),
        TENANT.replace(
            "kind = \"soap-login\"",
            &format!("kind = \"a`\\n{CANARY}-é\""),
        ),
        with_tenant_keys(&format!(r#"api_version = "6\"2-{CANARY}""#)),
        with_tenant_keys(&format!(r#"login_url = "http://u:{CANARY}@h""#)),
        format!("[server]\nlisten = \"{CANARY}:1\"\n{TENANT}"),
        format!("[store]\nkind = \"{CANARY}\"\n{TENANT}"),
    ];
    for text in texts {
        let found = problems(&text);
        assert!(!found.is_empty(), "{text}");
        for p in &found {
            assert!(!p.contains(CANARY), "{p}");
        }
    }
}

#[test]
fn the_default_cache_folder_is_never_a_shared_temp_folder() {
    let none = |_: &str| None;
    assert_eq!(super::default_cache_dir(&none), Path::new(""));
    let home = |name: &str| (name == "HOME").then(|| "/home/gw".to_string());
    assert_eq!(
        super::default_cache_dir(&home),
        Path::new("/home/gw/.cache/twoway")
    );
}

#[test]
fn drain_and_shutdown_times_have_defaults_and_the_former_name_still_works() {
    let env = |name: &str| (name == "PW").then(|| "pw".to_string());
    let server = |keys: &str| {
        from_toml(
            &format!("[server]\n{keys}\n{TENANT}"),
            Path::new("/nonexistent"),
            &env,
        )
        .map(|c| (c.server.drain_grace, c.server.shutdown_timeout))
    };
    let ms = std::time::Duration::from_millis;
    assert_eq!(server(""), Ok((ms(5_000), ms(30_000))));
    assert_eq!(
        server("drain_grace_ms = 250\nshutdown_timeout_ms = 900"),
        Ok((ms(250), ms(900)))
    );
    assert_eq!(server("shutdown_grace_ms = 700"), Ok((ms(5_000), ms(700))));
    let both = server("shutdown_grace_ms = 1\nshutdown_timeout_ms = 2").unwrap_err();
    assert!(both[0].contains("shutdown_timeout_ms"), "{both:?}");
}

#[test]
fn the_files_a_config_names_are_listed_for_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["pw.txt", "keys.txt", "id.pem", "roots.pem"] {
        std::fs::write(dir.path().join(name), "x").unwrap();
    }
    std::fs::write(
        dir.path().join("keys.txt"),
        "9f3c1a7e5b2d8c4f0a6e1b3d7c9f2a4e",
    )
    .unwrap();
    let text = r#"
[[tenant]]
name = "acme"
api_keys_file = "keys.txt"
client_identity = { pem = "id.pem" }
extra_roots = ["roots.pem"]
[tenant.auth]
kind = "soap-login"
username = "u"
password_file = "pw.txt"
"#;
    let config = from_toml(text, dir.path(), &|_| None).unwrap_or_else(|e| panic!("{e:?}"));
    let mut expected: Vec<_> = ["id.pem", "keys.txt", "pw.txt", "roots.pem"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    expected.sort();
    assert_eq!(config.files, expected);
}

#[test]
fn empty_or_weak_api_keys_are_refused_without_showing_them() {
    let strong = "9f3c1a7e5b2d8c4f0a6e1b3d7c9f2a4e";
    let weak = "short-key-7";
    let repeated = "abababababababababababababababab";
    let check = |keys: &str| {
        let env = move |name: &str| match name {
            "PW" => Some("pw".to_string()),
            "KEYS" => Some(keys.to_string()),
            _ => None,
        };
        let text = with_tenant_keys("api_keys_env = \"KEYS\"");
        match from_toml(&text, Path::new("/nonexistent"), &env) {
            Ok(config) => Ok(config.tenants[0].api_keys.len()),
            Err(problems) => Err(problems),
        }
    };
    assert_eq!(check(strong), Ok(1));
    assert_eq!(check(&format!("{strong},\n{strong}x")), Ok(2));
    for (keys, why) in [
        (
            format!("{strong},{weak}"),
            "API key 2 of 2 is too weak: it has 11 characters",
        ),
        (
            repeated.to_string(),
            "API key 1 of 1 is too weak: it repeats a few characters",
        ),
        (" , \n ".to_string(), "holds no API key"),
    ] {
        let problems = check(&keys).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let problem = &problems[0];
        assert!(
            problem.starts_with("tenant[acme].api_keys_env"),
            "{problem}"
        );
        assert!(problem.contains(why), "{problem}");
        assert!(problem.contains("at least 32 characters"), "{problem}");
        for secret in [strong, weak, repeated] {
            assert!(!problem.contains(secret), "{problem}");
        }
    }
    // An empty file is no key either.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keys.txt"), "\n").unwrap();
    let text = with_tenant_keys("api_keys_file = \"keys.txt\"");
    let env = |name: &str| (name == "PW").then(|| "pw".to_string());
    let problems = from_toml(&text, dir.path(), &env).unwrap_err();
    assert!(
        problems[0].starts_with("tenant[acme].api_keys_file")
            && problems[0].contains("holds no API key"),
        "{problems:?}"
    );
}
