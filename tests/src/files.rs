//! Files for the tests that read and make certificate material: the
//! certificates and key of a PEM file (read by `twoway::pem`), its blocks
//! as text (to write broken copies), the `openssl` command line, and paths
//! as text.

use std::path::{Path, PathBuf};
use std::process::Command;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("PEM file {}: {e}", path.display()))
}

/// Every certificate of the PEM file at `path`, in order.
pub fn certificates(path: &Path) -> Vec<CertificateDer<'static>> {
    twoway::pem::certificates(&read(path))
        .unwrap_or_else(|e| panic!("PEM file {}: {e}", path.display()))
}

/// The first private key of the PEM file at `path`.
pub fn private_key(path: &Path) -> PrivateKeyDer<'static> {
    twoway::pem::private_key(&read(path))
        .unwrap_or_else(|e| panic!("PEM file {}: {e}", path.display()))
}

/// One PEM block of a file.
#[derive(Clone, Debug)]
pub struct PemBlock {
    /// The label of its BEGIN line (`CERTIFICATE`, `RSA PRIVATE KEY`, ...).
    pub label: String,
    /// The base64 between BEGIN and END with the line breaks removed: the
    /// same for the same block however it is wrapped.
    pub body: String,
    /// Its text as it stands in the file, BEGIN line to END line, each line
    /// ending in `\n`.
    pub text: String,
}

/// The PEM blocks of the file at `path`, in order (text outside blocks is
/// passed over).
pub fn pem_blocks(path: &Path) -> Vec<PemBlock> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("PEM file {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut current: Option<PemBlock> = None;
    for line in text.lines() {
        if let Some(label) = line.strip_prefix("-----BEGIN ") {
            current = Some(PemBlock {
                label: label.trim_end_matches('-').to_string(),
                body: String::new(),
                text: String::new(),
            });
        }
        let Some(block) = current.as_mut() else {
            continue;
        };
        block.text.push_str(line);
        block.text.push('\n');
        if line.starts_with("-----END ") {
            out.extend(current.take());
        } else if !line.starts_with("-----BEGIN ") {
            block.body.push_str(line.trim());
        }
    }
    out
}

/// Runs the `openssl` command line with `args`; panics with its stderr when
/// it fails. Returns its stdout.
pub fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is needed for this test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `path` as text, for command lines.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Writes `parts`, joined, to `dir/name`; returns the path.
pub fn write_parts(dir: &Path, name: &str, parts: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, parts.concat()).expect("write test file");
    path
}

/// The base64 lines (16 characters or more) of every private key block in
/// the files at `paths`: what no output may ever show.
pub fn private_key_lines(paths: &[&Path]) -> Vec<String> {
    let mut lines = Vec::new();
    for path in paths {
        for block in pem_blocks(path) {
            if block.label.contains("PRIVATE KEY") {
                lines.extend(
                    block
                        .text
                        .lines()
                        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                        .map(str::to_string),
                );
            }
        }
    }
    lines
}
