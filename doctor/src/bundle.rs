//! `twoway cert bundle`: writes the seed's combined file (`fullcert.pem`:
//! the private key, the client certificate, then the intermediates in issuing
//! order, without the root) from separate files given in any order, after
//! the doctor's checks. Refuses when the checks find errors, and never
//! replaces an existing file unless asked to. The file is created with mode
//! 0600: it holds the key.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::{self as doctor, DoctorError, Options, Report, Status};

/// What to bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    pub key: PathBuf,
    pub cert: PathBuf,
    /// Intermediate (and root) certificate files, any order.
    pub chain: Vec<PathBuf>,
    pub output: PathBuf,
    /// Replace `output` when it exists.
    pub force: bool,
    /// Extra trusted roots for the chain check.
    pub cacert: Vec<PathBuf>,
    pub now: OffsetDateTime,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    /// The blocks in file order: "PRIVATE KEY (from key.pem)", "CERTIFICATE 'CN=leaf'", ...
    pub blocks: Vec<String>,
    /// Subject of the root that was left out, when the input held one.
    pub root_left_out: Option<String>,
    /// The doctor's report on the written file.
    pub check: Report,
}

/// The inputs' report, and the file written or why not.
#[derive(Debug)]
pub struct BundleOutcome {
    pub input: Report,
    pub result: Result<Written, DoctorError>,
}

/// Checks the inputs and, when they have no errors, writes the bundle.
pub fn bundle(options: &BundleOptions) -> BundleOutcome {
    let mut doctor_options = Options::new(&options.cert);
    doctor_options.key = Some(options.key.clone());
    doctor_options.chain = options.chain.clone();
    doctor_options.cacert = options.cacert.clone();
    doctor_options.now = options.now;
    let inspected = doctor::inspect(&doctor_options);
    let input = inspected.report.clone();
    let refuse = |e| BundleOutcome {
        input: input.clone(),
        result: Err(e),
    };
    let ordered = match inspected.ordered() {
        Some(ordered) if input.summary.status != Status::Error => ordered,
        _ => {
            return refuse(DoctorError::ChecksFailed {
                errors: input.summary.error.max(1),
            });
        }
    };
    if !options.force && fs::symlink_metadata(&options.output).is_ok() {
        return refuse(DoctorError::OutputExists {
            path: options.output.clone(),
        });
    }
    let mut text = twoway::pem::encode(ordered.key_format.label(), ordered.key.secret_der());
    let mut blocks = vec![format!(
        "{} (from {})",
        ordered.key_format.label(),
        ordered.key_found_as
    )];
    for (i, cert) in ordered.chain.iter().enumerate() {
        text.push_str(&twoway::pem::encode("CERTIFICATE", &cert.der));
        let role = if i == 0 { "leaf" } else { "intermediate" };
        blocks.push(format!("CERTIFICATE '{}' ({role})", cert.subject));
    }
    let root_left_out = ordered.root.map(|r| r.subject.clone());
    if let Err(source) = write_private(&options.output, text.as_bytes(), options.force) {
        let error = if source.kind() == io::ErrorKind::AlreadyExists {
            DoctorError::OutputExists {
                path: options.output.clone(),
            }
        } else {
            DoctorError::Write {
                path: options.output.clone(),
                source,
            }
        };
        return refuse(error);
    }
    let mut check_options = Options::new(&options.output);
    check_options.cacert = options.cacert.clone();
    check_options.now = options.now;
    let check = doctor::inspect(&check_options).report;
    BundleOutcome {
        input,
        result: Ok(Written {
            path: options.output.clone(),
            blocks,
            root_left_out,
            check,
        }),
    }
}

/// Creates `path` with mode 0600 (never replacing it unless `force`; then via
/// a temporary file renamed over it).
fn write_private(path: &Path, contents: &[u8], force: bool) -> io::Result<()> {
    let target = if force {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        path.with_file_name(name)
    } else {
        path.to_path_buf()
    };
    let mut open = fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut file = open.open(&target)?;
    // From here on the file is ours: a failure removes it again.
    let result = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            if force {
                fs::rename(&target, path)
            } else {
                Ok(())
            }
        });
    if result.is_err() {
        let _ = fs::remove_file(&target);
    }
    result
}

impl BundleOutcome {
    /// 2 when nothing was written; otherwise the written file's own check
    /// (0 all ok, 6 warnings only).
    pub fn exit_code(&self) -> u8 {
        match &self.result {
            Ok(written) => written.check.exit_code(),
            Err(_) => Status::Error.exit_code(),
        }
    }

    /// The inputs' report, then what was written (or why not).
    pub fn to_text(&self) -> String {
        let mut out = self.input.to_text();
        out.push('\n');
        match &self.result {
            Err(e) => out.push_str(&format!("Nothing written: {e}\n")),
            Ok(w) => {
                out.push_str(&format!(
                    "Wrote {} (mode 0600, it holds the key):\n",
                    w.path.display()
                ));
                for (i, block) in w.blocks.iter().enumerate() {
                    out.push_str(&format!("  {}. {block}\n", i + 1));
                }
                if let Some(root) = &w.root_left_out {
                    out.push_str(&format!(
                        "Left out: root CA '{root}' (servers must not be sent the root; it needs no place in the file)\n"
                    ));
                }
                let s = &w.check.summary;
                out.push_str(&format!(
                    "Checked {}: {} ok, {} warning(s), {} error(s)\n",
                    w.path.display(),
                    s.ok,
                    s.warning,
                    s.error
                ));
                for check in w.check.checks.iter().filter(|c| c.status != Status::Ok) {
                    out.push_str(&format!(
                        "  {} {}: {}\n",
                        check.status.as_str(),
                        check.id.as_str(),
                        check.message
                    ));
                }
            }
        }
        out
    }
}
