//! The deployment files as written: deploy/kubernetes/*.yaml validate
//! against the Kubernetes schemas (strict, oldest and newest version they
//! target) and prometheus-operator's (scripts/check-deploy), and a broken
//! manifest is caught; the ConfigMap's twoway.toml is a valid config; the
//! compiled-code cache is on in the Deployment as written; the systemd unit
//! waits for the gateway's READY=1.
//!
//! The validators are installed by `scripts/check-deploy --install`
//! (scripts/test runs it); without them the schema test skips, saying so,
//! unless `TWOWAY_REQUIRE_DEPLOY_CHECK=1` (set by scripts/test).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `scripts/check-deploy FILES...`: its exit status and output.
fn check(files: &[&Path]) -> (bool, String) {
    let out = Command::new(root().join("scripts/check-deploy"))
        .args(files)
        .output()
        .expect("run scripts/check-deploy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn installed() -> bool {
    let root = root();
    root.join("target/deploy-check/venv/bin/kubernetes-validate")
        .exists()
        && root.join("deploy/check/node_modules/yaml").exists()
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas_and_a_broken_one_does_not() {
    if !installed() {
        assert!(
            std::env::var_os("TWOWAY_REQUIRE_DEPLOY_CHECK").is_none(),
            "the validators are missing: run scripts/check-deploy --install"
        );
        eprintln!("skipped: the validators are not installed (scripts/check-deploy --install)");
        return;
    }
    let manifests = root().join("deploy/kubernetes");
    let files: Vec<PathBuf> = std::fs::read_dir(&manifests)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    let kinds: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for kind in [
        "kind: Deployment",
        "kind: Service",
        "kind: PodDisruptionBudget",
        "kind: ServiceMonitor",
        "kind: ConfigMap",
        "kind: Secret",
    ] {
        assert!(kinds.contains(kind), "deploy/kubernetes has no {kind}");
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (ok, out) = check(&refs);
    assert!(ok, "{out}");

    // A typo in the Deployment, a wrong type in the ServiceMonitor, and an
    // unknown kind are each refused, naming what is wrong.
    let dir = tempfile::tempdir().unwrap();
    let broken = |name: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(manifests.join(name)).unwrap();
        assert!(text.contains(from), "{name} has {from:?}");
        let path = dir.path().join(format!("broken-{name}"));
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        path
    };
    for (path, says) in [
        (
            broken("deployment.yaml", "readinessProbe:", "readinessProbes:"),
            "readinessProbes",
        ),
        (
            broken("servicemonitor.yaml", "interval: 30s", "interval: 30"),
            "interval",
        ),
        (
            broken(
                "pdb.yaml",
                "kind: PodDisruptionBudget",
                "kind: PodDisruptionBudjet",
            ),
            "PodDisruptionBudjet",
        ),
    ] {
        let (ok, out) = check(&[&path]);
        assert!(!ok, "{} passed:\n{out}", path.display());
        assert!(out.contains(says), "{out}");
    }
}

/// The `twoway.toml: |` block of the ConfigMap, unindented.
fn configmap_toml() -> String {
    let text = std::fs::read_to_string(root().join("deploy/kubernetes/configmap.yaml")).unwrap();
    let (_, block) = text
        .split_once("  twoway.toml: |\n")
        .expect("the twoway.toml key");
    block
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_configmaps_config_is_valid_with_the_secrets_the_secret_names() {
    let toml = configmap_toml();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let secret = std::fs::read_to_string(root().join("deploy/kubernetes/secret.yaml")).unwrap();
    // Every file the config reads from the Secret's mount is a key of the Secret.
    for name in toml
        .split("/run/secrets/twoway/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
    {
        assert!(
            secret.contains(&format!("  {name}:")),
            "secret.yaml has no {name}"
        );
        std::fs::write(secrets.join(name), "0123456789abcdef0123456789abcdef").unwrap();
    }
    let toml = toml
        .replace("/run/secrets/twoway", secrets.to_str().unwrap())
        .replace("/srv/twoway/plugins", dir.path().to_str().unwrap());
    if let Err(problems) = twoway::config::from_toml(&toml, dir.path(), &|_| None) {
        panic!("the ConfigMap's twoway.toml is invalid: {problems:?}\n{toml}");
    }
}

#[test]
fn the_systemd_unit_waits_for_ready() {
    let unit = std::fs::read_to_string(root().join("deploy/systemd/twoway.service")).unwrap();
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/local/bin/twoway serve ",
        "KillSignal=SIGTERM",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(line)),
            "no {line} in the unit"
        );
    }
}

/// The Deployment as written turns the compiled-code cache on: the
/// ConfigMap's `cache_dir` is an emptyDir, which the kubelet makes 0777 and
/// the gateway refuses, and the init container gives it to the pod's user
/// with the mode the gateway accepts.
#[test]
fn the_code_cache_is_on_in_the_deployment_as_written() {
    let toml = configmap_toml();
    let cache_dir = toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("cache_dir = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("the ConfigMap sets [plugins] cache_dir");
    let deployment =
        std::fs::read_to_string(root().join("deploy/kubernetes/deployment.yaml")).unwrap();
    let mount = format!("{{ name: cache, mountPath: {cache_dir} }}");
    assert!(
        deployment.contains("- name: cache\n          emptyDir:"),
        "a cache emptyDir"
    );
    let (init, main) = deployment
        .split_once("initContainers:")
        .and_then(|(_, rest)| rest.split_once("\n      containers:"))
        .expect("an init container before the containers");
    assert!(main.contains(&mount), "the gateway mounts {cache_dir}");
    assert!(
        init.contains(&mount),
        "the init container mounts {cache_dir}"
    );
    let pod_value = |key: &str| {
        deployment
            .lines()
            .find_map(|l| l.strip_prefix(&format!("        {key}: ")))
            .unwrap_or_else(|| panic!("the pod's {key}"))
            .trim()
            .to_string()
    };
    let (user, group) = (pod_value("runAsUser"), pod_value("runAsGroup"));
    assert!(
        init.contains(&format!("chown {user}:{group} {cache_dir} ")),
        "the init container gives {cache_dir} to {user}:{group}"
    );
    let mode = init
        .split_once("chmod ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(|m| u32::from_str_radix(m, 8).unwrap())
        .expect("the init container's chmod");
    assert!(
        init.contains(r#"add: ["CHOWN", "FOWNER"]"#),
        "no capability beyond the two it needs"
    );

    // What the gateway sees (as the pod's user: the test owns the folder
    // as the chown leaves it): the kubelet's 0777 is refused, the init
    // container's mode is accepted and the cache is on.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("cache");
    std::fs::create_dir(&volume).unwrap();
    std::fs::set_permissions(&volume, std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = twoway::plugin::Runtime::new(&volume).unwrap();
    assert!(
        runtime.cache_counts().is_none(),
        "an emptyDir as the kubelet makes it is refused"
    );
    std::fs::set_permissions(&volume, std::fs::Permissions::from_mode(mode)).unwrap();
    let runtime = twoway::plugin::Runtime::new(&volume).unwrap();
    assert!(
        runtime.cache_counts().is_some(),
        "the folder as the init container leaves it (mode {mode:o}) is the cache"
    );
}
