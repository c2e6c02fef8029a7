//! The container image (Containerfile, built by scripts/image) run with
//! podman as a platform would run it: a read-only root filesystem, the
//! cache on a tmpfs, the config and secrets mounted read-only. It serves a
//! real call against the simulator, runs as uid 10001, and carries only the
//! example workflows.
//!
//! Skips, saying why, where podman or the image is missing, unless
//! `TWOWAY_REQUIRE_IMAGE=1` (set by scripts/image), where that fails.

use std::process::Command;
use std::time::{Duration, Instant};

use twoway_tests::gateway::{ACME, TestGateway, http, with_workflow};
use twoway_tests::{free_port, pki, start_sim};

/// How these machines run containers (no overlayfs, cgroups v1).
const PODMAN: &[&str] = &["--storage-driver=vfs", "--runtime=runc"];
/// The example workflows the image ships, and nothing else.
const EXAMPLES: &[&str] = &[
    "contact_dedupe.wasm",
    "get_user_info.wasm",
    "lead_intake.wasm",
    "soql_query.wasm",
    "upsert_account.wasm",
];
/// Only keeps a broken container from hanging the test.
const DEADLINE: Duration = Duration::from_secs(180);

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman")
        .args(PODMAN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("podman {args:?}: {e}"))
}

/// The image to test, or why there is none.
fn image() -> Result<String, String> {
    let image = std::env::var("TWOWAY_IMAGE").unwrap_or_else(|_| "localhost/twoway:dev".into());
    match Command::new("podman")
        .args(PODMAN)
        .args(["image", "exists", &image])
        .status()
    {
        Err(e) => Err(format!("no container engine (podman: {e})")),
        Ok(s) if !s.success() => Err(format!(
            "no image {image}: build it with scripts/image build"
        )),
        Ok(_) => Ok(image),
    }
}

/// Removes the container however the test ends.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.0]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_serves_read_only_as_a_non_root_user_with_the_examples_only() {
    let image = match image() {
        Ok(image) => image,
        Err(why) if std::env::var_os("TWOWAY_REQUIRE_IMAGE").is_none() => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let config = podman(&["image", "inspect", "--format", "{{.Config.User}}", &image]);
    assert_eq!(
        String::from_utf8_lossy(&config.stdout).trim(),
        "10001:10001"
    );
    let listed = podman(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--entrypoint",
        "ls",
        &image,
        "/srv/twoway/plugins",
    ]);
    let plugins: Vec<_> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        plugins,
        EXAMPLES,
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );

    // The config, secrets and PKI mounted read-only; the image's plugins.
    let sim = start_sim().await;
    let (port, admin_port) = (free_port(), free_port());
    let gw = TestGateway::configure(
        &sim,
        "",
        &with_workflow(ACME, "user", "get_user_info.wasm", ""),
        &[],
    );
    let text = std::fs::read_to_string(gw.config_path())
        .unwrap()
        .replace(
            "127.0.0.1:0\"\nadmin",
            &format!("127.0.0.1:{port}\"\nadmin"),
        )
        .replace(
            "admin_listen = \"127.0.0.1:0\"",
            &format!("admin_listen = \"127.0.0.1:{admin_port}\""),
        )
        .replace(
            "dir = \"plugins\"",
            "dir = \"/srv/twoway/plugins\"\ncache_dir = \"/var/cache/twoway\"",
        )
        .replace(&pki().dir.display().to_string(), "/etc/twoway");
    std::fs::write(gw.config_path(), text).unwrap();
    // The gateway's user (uid 10001) reads the mounted files, as a
    // Secret's defaultMode or fsGroup would let it.
    for pem in ["fullcert.pem", "root-ca.pem"] {
        std::fs::copy(pki().dir.join(pem), gw.dir.path().join(pem)).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(gw.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(gw.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let etc = format!("{}:/etc/twoway:ro", gw.dir.path().display());
    let name = format!("twoway-image-test-{}", std::process::id());
    let run = podman(&[
        "run",
        "--detach",
        "--name",
        &name,
        "--network=host",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs",
        "/var/cache/twoway:rw,mode=0700,U",
        "-v",
        &etc,
        &image,
    ]);
    assert!(
        run.status.success(),
        "podman run: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let _container = Container(name.clone());

    let admin = format!("http://127.0.0.1:{admin_port}");
    let started = Instant::now();
    loop {
        let up = tokio::net::TcpStream::connect(("127.0.0.1", admin_port))
            .await
            .is_ok()
            && http("GET", &format!("{admin}/readyz"), &[], "")
                .await
                .status
                == 200;
        if up {
            break;
        }
        let logs = podman(&["logs", &name]);
        let running = podman(&["inspect", "--format", "{{.State.Running}}", &name]);
        assert!(
            started.elapsed() < DEADLINE
                && String::from_utf8_lossy(&running.stdout).trim() == "true",
            "the container never got ready:\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = http(
        "GET",
        &format!("http://127.0.0.1:{port}/tenants/acme/workflows/user"),
        &[(
            "authorization",
            "Bearer acme-key-1-4f0a9c2e7b1d8e3f6a5c0b9d",
        )],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["userName"],
        twoway_tests::ACME_USER,
        "{}",
        reply.body
    );

    let top = podman(&["top", &name, "user"]);
    let top = String::from_utf8_lossy(&top.stdout).into_owned();
    assert!(
        top.lines().skip(1).all(|user| user.trim() == "twoway"),
        "every process runs as uid 10001 (twoway): {top}"
    );
    // The logs are JSON (--log-format json, the image's default).
    let logs = podman(&["logs", &name]);
    let stderr = String::from_utf8_lossy(&logs.stderr);
    let listening = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|l| l["fields"]["message"] == "gateway listening");
    assert!(listening, "{stderr}");
}
