//! The certificate doctor behind `twoway cert check`: reads an identity
//! (combined PEM, certificate in PEM or DER plus `--key`/`--chain`, or
//! PKCS#12), runs every check even when an earlier one failed, optionally
//! tries a real handshake (`--connect`), and reports each finding with a
//! one-line fix. Built on the loader's pieces ([`twoway::pem`],
//! [`twoway::identity::chain`], [`twoway::identity::key`],
//! [`twoway::identity::source`]); unlike [`twoway::identity::load`] it
//! never stops at the first problem.
//!
//! Trust for "is the chain complete" and for the server's certificate is
//! the system roots plus `--cacert`. Nothing here prints key bytes or a
//! password. The report's JSON shape is documented in docs/cert-check.md.
//! [`bundle`] is `twoway cert bundle`, which writes the combined file after
//! these checks.
#![forbid(unsafe_code)]

pub mod bundle;
mod checks;
mod connect;
mod gather;
mod pkcs12;
mod probe;
pub mod report;
mod select;
mod usage;

use std::path::PathBuf;
use std::sync::OnceLock;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use checks::EXPIRY_WARNING_DAYS;
pub use probe::{PROBE_BODY, PROBE_PATH};
pub use report::{
    CertSummary, Check, CheckId, ConnectReport, EXIT_ERRORS, EXIT_WARNINGS, IdentityReport,
    LeafReport, Report, Status, Summary,
};

use gather::{Gathered, Inputs};
use twoway::identity::chain::{self, CertInfo, ChainOrder};
use twoway::pem::KeyFormat;
use twoway::secret::Secret;

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// Combined PEM, certificate (PEM or DER), or PKCS#12 (.p12/.pfx).
    pub identity: PathBuf,
    /// The private key, when IDENTITY does not hold it.
    pub key: Option<PathBuf>,
    /// Chain files (intermediates), in any order.
    pub chain: Vec<PathBuf>,
    /// The PKCS#12 password.
    pub password: Option<Secret>,
    /// The environment variable the password came from (for messages only).
    pub password_env: Option<String>,
    /// Extra trusted roots (besides the system's), for the chain and `--connect`.
    pub cacert: Vec<PathBuf>,
    /// HOST:PORT to try a handshake with.
    pub connect: Option<String>,
    /// The moment validity is judged at.
    pub now: OffsetDateTime,
}

impl Options {
    /// Checks of `identity` alone, as of now.
    pub fn new(identity: impl Into<PathBuf>) -> Options {
        Options {
            identity: identity.into(),
            key: None,
            chain: Vec::new(),
            password: None,
            password_env: None,
            cacert: Vec::new(),
            connect: None,
            now: OffsetDateTime::now_utc(),
        }
    }
}

/// The offline findings plus what `bundle` and `--connect` need.
pub struct Inspected {
    /// The report without `--connect`.
    pub report: Report,
    gathered: Gathered,
    infos: Vec<CertInfo>,
    leaf: Option<usize>,
    key: Option<usize>,
    order: Option<ChainOrder>,
}

impl std::fmt::Debug for Inspected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// The pieces of a checked identity, in sending order: the key (with its PEM
/// format), the leaf, the intermediates; the root kept apart.
pub struct Ordered<'a> {
    pub key: &'a PrivateKeyDer<'static>,
    pub key_format: KeyFormat,
    /// Where the key came from ("RSA PRIVATE KEY at line 1 (PKCS#1) in key.pem").
    pub key_found_as: String,
    /// Leaf first, then each issuer, root excluded.
    pub chain: Vec<&'a CertInfo>,
    /// The root, when the input held it.
    pub root: Option<&'a CertInfo>,
}

impl Inspected {
    /// The key and chain in sending order, when a leaf and its key were found.
    pub fn ordered(&self) -> Option<Ordered<'_>> {
        let key = &self.gathered.keys[self.key?];
        let order = self.order.as_ref()?;
        let key_format = match &key.key {
            PrivateKeyDer::Pkcs1(_) => KeyFormat::Pkcs1,
            PrivateKeyDer::Sec1(_) => KeyFormat::Sec1,
            _ => KeyFormat::Pkcs8,
        };
        Some(Ordered {
            key: &key.key,
            key_format,
            key_found_as: format!("{} in {}", key.found_as, key.file.display()),
            chain: order.chain.iter().map(|&i| &self.infos[i]).collect(),
            root: order.root.map(|i| &self.infos[i]),
        })
    }
}

/// Every check of `options`, with `--connect` when asked for.
pub async fn check(options: &Options) -> Report {
    let inspected = inspect(options);
    let Some(address) = &options.connect else {
        return inspected.report;
    };
    let mut roots: Vec<CertificateDer<'static>> = system_roots().to_vec();
    roots.extend(inspected.gathered.cacerts.iter().map(|c| c.der.clone()));
    let chain: Vec<CertInfo> = match (&inspected.order, inspected.leaf) {
        (Some(order), _) => order
            .chain
            .iter()
            .map(|&i| inspected.infos[i].clone())
            .collect(),
        (None, Some(leaf)) => vec![inspected.infos[leaf].clone()],
        _ => Vec::new(),
    };
    let key = inspected
        .key
        .map(|k| inspected.gathered.keys[k].key.clone_key());
    let probe = connect::Probe {
        address: address.clone(),
        chain,
        key,
        roots,
    };
    let (connect_checks, connect_report) = connect::run(probe).await;
    let mut report = inspected.report;
    report.checks.extend(connect_checks);
    report.connect = Some(connect_report);
    report.summarize();
    report
}

/// The offline checks of `options` (`--connect` is ignored).
pub fn inspect(options: &Options) -> Inspected {
    let inputs = Inputs {
        identity: &options.identity,
        key: options.key.as_deref(),
        chain: &options.chain,
        password: options.password.as_ref(),
        password_env: options.password_env.as_deref(),
        cacert: &options.cacert,
    };
    let gathered = gather::gather(&inputs);
    let now = options.now;
    let infos: Vec<CertInfo> = gathered.certs.iter().map(|c| c.info.clone()).collect();
    let mut checks = vec![checks::blocks(&gathered)];
    let selection = select::select(&gathered, &infos, now);
    checks.extend(selection.check.clone());
    let mut order = None;
    if let Some(leaf) = selection.leaf {
        let mut anchors: Vec<CertInfo> = system_anchors().to_vec();
        anchors.extend(gathered.cacerts.iter().cloned());
        let chain_order = chain::order(&infos, leaf);
        checks.extend(checks::leaf_checks(
            &infos,
            leaf,
            &chain_order,
            &anchors,
            selection.key_problem.as_ref(),
            now,
        ));
        order = Some(chain_order);
    }
    let identity = identity_report(
        options,
        &gathered,
        &infos,
        selection.leaf,
        order.as_ref(),
        now,
    );
    Inspected {
        report: Report::new(identity, checks, None),
        gathered,
        infos,
        leaf: selection.leaf,
        key: selection.key,
        order,
    }
}

fn rfc3339(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn identity_report(
    options: &Options,
    g: &Gathered,
    infos: &[CertInfo],
    leaf: Option<usize>,
    order: Option<&ChainOrder>,
    now: OffsetDateTime,
) -> IdentityReport {
    let role = |i: usize| -> &'static str {
        match order {
            Some(o) if o.chain.first() == Some(&i) => "leaf",
            Some(o) if o.chain.contains(&i) => "intermediate",
            Some(o) if o.root == Some(i) => "root",
            Some(_) => "unrelated",
            None => "unknown",
        }
    };
    let certificates = g
        .certs
        .iter()
        .enumerate()
        .map(|(i, c)| CertSummary {
            file: c.file.display().to_string(),
            found_as: c.found_as.clone(),
            subject: c.info.subject.clone(),
            issuer: c.info.issuer.clone(),
            role: role(i).to_string(),
            not_after: rfc3339(&c.info.not_after),
            sha256_fingerprint: c.info.sha256_fingerprint.clone(),
        })
        .collect();
    let leaf = leaf.map(|i| {
        let info = &infos[i];
        let usage = usage::usage(&info.der);
        LeafReport {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            not_before: rfc3339(&info.not_before),
            not_after: rfc3339(&info.not_after),
            days_to_expiry: (info.not_after - now).whole_days(),
            key_type: info.key_type.clone(),
            sha256_fingerprint: info.sha256_fingerprint.clone(),
            subject_alt_names: usage.san,
            key_usage: usage.key_usage.map(|k| k.names).unwrap_or_default(),
            extended_key_usage: usage.eku.map(|e| e.names).unwrap_or_default(),
        }
    });
    IdentityReport {
        path: options.identity.display().to_string(),
        format: g.format.as_str().to_string(),
        key: options.key.as_ref().map(|k| k.display().to_string()),
        chain: options
            .chain
            .iter()
            .map(|c| c.display().to_string())
            .collect(),
        certificates,
        leaf,
    }
}

/// The operating system's trusted roots, read once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The system roots parsed (those x509-parser can read).
fn system_anchors() -> &'static [CertInfo] {
    static ANCHORS: OnceLock<Vec<CertInfo>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        system_roots()
            .iter()
            .filter_map(|der| CertInfo::parse(der.clone()).ok())
            .collect()
    })
}

/// Why `twoway cert bundle` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("the checks found {errors} error(s); fix them and run again")]
    ChecksFailed { errors: usize },
    #[error("{}: the file exists; pass --force to replace it", path.display())]
    OutputExists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
