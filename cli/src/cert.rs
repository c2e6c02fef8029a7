//! `twoway cert check` and `twoway cert bundle`: the certificate doctor
//! (docs/cert-check.md). They exit 0 ok, 6 warnings only, 7 errors.

use std::path::PathBuf;

use clap::Subcommand;

use super::exit::{CliError, Reported};

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Check a client identity: every problem with a fix; exit 0 ok, 6 warnings only, 7 errors.
    Check(CertCheckArgs),
    /// Write a combined fullcert.pem (key, leaf, intermediates; no root) after the same checks.
    Bundle(CertBundleArgs),
}

#[derive(Debug, clap::Args)]
pub struct CertCheckArgs {
    /// Combined PEM, a certificate (PEM or DER), or PKCS#12 (.p12/.pfx).
    /// A Java keystore (JKS/JCEKS) is recognised, with how to convert it.
    pub identity: PathBuf,
    /// The private key, when IDENTITY does not hold it.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Intermediate CA certificates (repeatable).
    #[arg(long)]
    pub chain: Vec<PathBuf>,
    /// Environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    pub password_env: Option<String>,
    /// File holding the PKCS#12 password (a trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Try a real mutual-TLS handshake with HOST:PORT (e.g. the instance's port 8443).
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// Extra trusted CA certificates besides the system roots (repeatable).
    #[arg(long, value_name = "CA")]
    pub cacert: Vec<PathBuf>,
    /// Print the report as JSON (schema in docs/cert-check.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CertBundleArgs {
    /// The private key.
    #[arg(long)]
    pub key: PathBuf,
    /// The client certificate.
    #[arg(long)]
    pub cert: PathBuf,
    /// Intermediate CA certificates, any order (a root given here is left out).
    #[arg(long, num_args = 1..)]
    pub chain: Vec<PathBuf>,
    /// The file to write.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Replace OUTPUT when it exists.
    #[arg(long)]
    pub force: bool,
    /// Extra trusted CA certificates besides the system roots (repeatable).
    #[arg(long, value_name = "CA")]
    pub cacert: Vec<PathBuf>,
}

/// `twoway cert ...`: prints the report and exits 0 / 6 / 7.
pub async fn run_cert(command: CertCommand) -> anyhow::Result<()> {
    use twoway_doctor::{self as doctor, bundle};
    let (text, code) = match command {
        CertCommand::Check(args) => {
            let mut options = doctor::Options::new(args.identity);
            options.key = args.key;
            options.chain = args.chain;
            options.password = match &args.password_file {
                Some(file) => Some(twoway::secret::Secret::new(
                    std::fs::read_to_string(file)
                        .map_err(|e| {
                            CliError::Usage(format!("--password-file {}: {e}", file.display()))
                        })?
                        .trim_end_matches(['\r', '\n']),
                )),
                None => args
                    .password_env
                    .as_ref()
                    .and_then(|v| std::env::var(v).ok())
                    .map(twoway::secret::Secret::new),
            };
            options.password_env = args.password_env;
            options.cacert = args.cacert;
            options.connect = args.connect;
            let report = doctor::check(&options).await;
            (
                if args.json {
                    report.to_json() + "\n"
                } else {
                    report.to_text()
                },
                report.exit_code(),
            )
        }
        CertCommand::Bundle(args) => {
            let outcome = bundle::bundle(&bundle::BundleOptions {
                key: args.key,
                cert: args.cert,
                chain: args.chain,
                output: args.output,
                force: args.force,
                cacert: args.cacert,
                now: time::OffsetDateTime::now_utc(),
            });
            (outcome.to_text(), outcome.exit_code())
        }
    };
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if code != 0 {
        return Err(Reported(code).into());
    }
    Ok(())
}
