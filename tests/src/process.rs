//! Real `twoway` processes for the tests that run the program as a user
//! does: the binary (`twoway-proc`, the same program as `twoway`), one run
//! with its exit code and output, and long-running children (`sim`,
//! `serve`) killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `twoway` program built for the tests (target/<profile>/twoway-proc).
pub fn twoway_bin() -> PathBuf {
    // A test binary lives in target/<profile>/deps; the package's own
    // binaries one level up.
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    dir.join(format!("twoway-proc{}", std::env::consts::EXE_SUFFIX))
}

/// One finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON (panics with both streams when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("JSON ({e}): {}{}", self.stdout, self.stderr))
    }

    /// Both streams, for assertion messages.
    pub fn output(&self) -> String {
        format!("exit {}\n{}{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `twoway ARGS` in `dir` with `env` added (and `TWOWAY_CONFIG`
/// removed, so the caller's environment does not leak in).
pub fn twoway(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Run {
    run(command(args, dir, env, None), args)
}

/// [`twoway`] in an address space of at most `kib` KiB (`ulimit -v`), as a
/// constrained host or valgrind gives a process.
pub fn twoway_limited(args: &[&str], dir: &Path, env: &[(&str, &str)], kib: u64) -> Run {
    run(command(args, dir, env, Some(kib)), args)
}

/// The command for `twoway ARGS` in `dir` with `env` added and
/// `TWOWAY_CONFIG` removed; under `ulimit -v KIB` (by the shell, which then
/// becomes the program) when `address_space_kib` is given.
fn command(
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
    address_space_kib: Option<u64>,
) -> Command {
    let mut command = match address_space_kib {
        None => Command::new(twoway_bin()),
        Some(kib) => {
            let mut shell = Command::new("sh");
            shell
                .arg("-c")
                .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                .arg(twoway_bin());
            shell
        }
    };
    command
        .args(args)
        .current_dir(dir)
        .env_remove("TWOWAY_CONFIG")
        .envs(env.iter().copied());
    command
}

fn run(mut command: Command, args: &[&str]) -> Run {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("twoway {args:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `twoway` child, killed on drop, and the first line it printed.
pub struct Process {
    child: Child,
    pub first_line: String,
}

impl Process {
    /// Starts `twoway ARGS` in `dir` and waits for its first line on stdout.
    /// Its logs are dropped unless `TWOWAY_TEST_CHILD_LOGS` is set (then they
    /// go to the test's stderr).
    pub fn start(args: &[&str], dir: &Path) -> Self {
        Self::start_with_env(args, dir, &[])
    }

    /// [`Process::start`] with `env` added.
    pub fn start_with_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(command(args, dir, env, None), args)
    }

    /// [`Process::start_with_env`] in an address space of at most `kib` KiB
    /// (`ulimit -v`).
    pub fn start_limited(args: &[&str], dir: &Path, env: &[(&str, &str)], kib: u64) -> Self {
        Self::spawn(command(args, dir, env, Some(kib)), args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Self {
        let logs = match std::env::var_os("TWOWAY_TEST_CHILD_LOGS") {
            Some(_) => Stdio::inherit(),
            None => Stdio::null(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .unwrap_or_else(|e| panic!("twoway {args:?}: {e}"));
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first_line)
            .expect("first line");
        assert!(!first_line.is_empty(), "twoway {args:?} printed nothing");
        Self { child, first_line }
    }

    /// `twoway sim --print-endpoints --pki PKI` and its endpoints.
    pub fn sim(pki: &Path, dir: &Path) -> (Self, serde_json::Value) {
        let pki = pki.to_str().expect("UTF-8 path");
        let sim = Self::start(&["sim", "--print-endpoints", "--pki", pki], dir);
        let endpoints = serde_json::from_str(&sim.first_line)
            .unwrap_or_else(|e| panic!("endpoints JSON {:?}: {e}", sim.first_line));
        (sim, endpoints)
    }
}

impl Process {
    /// Sends `signal` (SIGTERM, SIGINT, SIGHUP...) to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("send the signal");
    }

    /// The most memory the process has held so far (VmHWM), in bytes.
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/<pid>/status")
            * 1024
    }

    /// The exit code once the process has ended (`None` while it runs; -1
    /// when a signal ended it).
    pub fn exited(&mut self) -> Option<i32> {
        let status = self.child.try_wait().expect("the child's status")?;
        Some(status.code().unwrap_or(-1))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `twoway` child whose every line is kept: stdout's first line
/// (read at start), then both streams read by threads; killed on drop.
pub struct Logged {
    child: Child,
    pub first_line: String,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Logged {
    /// Starts `twoway ARGS` in `dir`, with `env` set, and waits for its first
    /// line on stdout.
    pub fn start(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(twoway_bin())
            .args(args)
            .current_dir(dir)
            .env_remove("TWOWAY_CONFIG")
            .env_remove("TWOWAY_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("twoway {args:?}: {e}"));
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = |from: Box<dyn std::io::Read + Send>,
                    into: &std::sync::Arc<std::sync::Mutex<Vec<String>>>| {
            let into = into.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(from).lines().map_while(Result::ok) {
                    into.lock().expect("lines").push(line);
                }
            })
        };
        let err_reader = keep(Box::new(child.stderr.take().expect("stderr")), &stderr);
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first_line = String::new();
        out.read_line(&mut first_line).expect("first line");
        assert!(
            !first_line.is_empty(),
            "twoway {args:?} printed nothing:\n{}",
            stderr.lock().expect("lines").join("\n")
        );
        stdout
            .lock()
            .expect("lines")
            .push(first_line.trim_end().to_string());
        let out_reader = keep(Box::new(out), &stdout);
        Self {
            child,
            first_line,
            stdout,
            stderr,
            readers: vec![err_reader, out_reader],
        }
    }

    /// The stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("send the signal");
    }

    /// Waits (at most `deadline`) for the process to end; its exit code and
    /// every line of stdout and stderr.
    pub fn wait(mut self, deadline: std::time::Duration) -> (i32, Vec<String>, Vec<String>) {
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                break status;
            }
            assert!(started.elapsed() < deadline, "twoway never exited");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        let out = self.stdout.lock().expect("lines").clone();
        let err = self.stderr.lock().expect("lines").clone();
        (status.code().unwrap_or(-1), out, err)
    }
}

/// The fields of the one access line (`twoway::access`) of `request_id`
/// among a `--log-format json` process's parsed `lines`.
pub fn access_line(lines: &[serde_json::Value], request_id: &str) -> serde_json::Value {
    let found: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == "twoway::access" && l["fields"]["request_id"] == request_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one access line for {request_id}: {lines:#?}"
    );
    found[0]["fields"].clone()
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
