//! What `twoway cert check` reports: the checks (id, status, message, fix),
//! a summary of the identity and of the `--connect` handshake, the exit code,
//! and the two renderings (text for people, JSON for scripts). The JSON shape
//! is documented in docs/cert-check.md and only grows: fields are added,
//! never renamed or removed, within one `schema_version`.

use std::fmt::Write as _;

use serde::Serialize;

/// Version of the JSON shape; bumped only for an incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// How a check came out. Ordered: `Ok < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Error,
}

impl Status {
    /// "ok", "warning", "error".
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Error => "error",
        }
    }

    /// The process exit code for a report whose worst check is `self`:
    /// 0, [`EXIT_WARNINGS`] or [`EXIT_ERRORS`].
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => EXIT_WARNINGS,
            Status::Error => EXIT_ERRORS,
        }
    }
}

/// `twoway cert check` / `cert bundle`'s exit code when the worst check is
/// a warning: apart from the program's own codes (1 any other failure,
/// 2 a usage error, 3 to 5), so a script can tell them apart.
pub const EXIT_WARNINGS: u8 = 6;
/// The exit code when at least one check is an error.
pub const EXIT_ERRORS: u8 = 7;

/// The stable identifier of each check (snake_case in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// Which PEM blocks / DER / PKCS#12 bags were found in each file.
    Blocks,
    /// The private key belongs to the leaf certificate.
    KeyMatchesLeaf,
    /// The leaf is not self-signed.
    LeafNotSelfSigned,
    /// Leaf first, each certificate issued by the next; nothing unrelated.
    ChainOrder,
    /// The last certificate is issued by a (trusted) root.
    ChainComplete,
    /// The root CA is not part of what is sent.
    RootIncluded,
    /// Validity windows of leaf and intermediates; days to expiry.
    Validity,
    /// keyUsage allows digitalSignature.
    KeyUsage,
    /// extendedKeyUsage holds clientAuth.
    ExtendedKeyUsage,
    /// Key type and size.
    KeyStrength,
    /// Subject, issuer and subjectAltName summary.
    Subject,
    /// SHA-256 fingerprint of the leaf.
    Fingerprint,
    /// `--connect`: TCP + TLS handshake with the identity.
    TlsHandshake,
    /// `--connect`: the CA names the server asks for, and whether our chain ends at one.
    ServerCaHints,
    /// `--connect`: the server accepted the certificate (no Certificate Error page, no alert).
    CertificateAccepted,
}

impl CheckId {
    /// Every id, in report order.
    pub const ALL: [CheckId; 15] = [
        CheckId::Blocks,
        CheckId::KeyMatchesLeaf,
        CheckId::LeafNotSelfSigned,
        CheckId::ChainOrder,
        CheckId::ChainComplete,
        CheckId::RootIncluded,
        CheckId::Validity,
        CheckId::KeyUsage,
        CheckId::ExtendedKeyUsage,
        CheckId::KeyStrength,
        CheckId::Subject,
        CheckId::Fingerprint,
        CheckId::TlsHandshake,
        CheckId::ServerCaHints,
        CheckId::CertificateAccepted,
    ];

    /// True for the checks of `--connect`; the others read only the files.
    pub fn needs_connect(self) -> bool {
        matches!(
            self,
            CheckId::TlsHandshake | CheckId::ServerCaHints | CheckId::CertificateAccepted
        )
    }

    /// The id as it appears in JSON ("key_matches_leaf").
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Blocks => "blocks",
            CheckId::KeyMatchesLeaf => "key_matches_leaf",
            CheckId::LeafNotSelfSigned => "leaf_not_self_signed",
            CheckId::ChainOrder => "chain_order",
            CheckId::ChainComplete => "chain_complete",
            CheckId::RootIncluded => "root_included",
            CheckId::Validity => "validity",
            CheckId::KeyUsage => "key_usage",
            CheckId::ExtendedKeyUsage => "extended_key_usage",
            CheckId::KeyStrength => "key_strength",
            CheckId::Subject => "subject",
            CheckId::Fingerprint => "fingerprint",
            CheckId::TlsHandshake => "tls_handshake",
            CheckId::ServerCaHints => "server_ca_hints",
            CheckId::CertificateAccepted => "certificate_accepted",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: CheckId,
    pub status: Status,
    /// One line: what was found.
    pub message: String,
    /// One line: what to do; `None` when there is nothing to do.
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn ok(id: CheckId, message: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }

    /// A warning with its fix.
    pub fn warning(id: CheckId, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Warning,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// An error with its fix.
    pub fn error(id: CheckId, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Error,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// One certificate as found in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    /// The file it came from.
    pub file: String,
    /// "CERTIFICATE at line 5", "DER certificate", "certificate bag 1".
    pub found_as: String,
    pub subject: String,
    pub issuer: String,
    /// "leaf", "intermediate", "root" or "unrelated".
    pub role: String,
    /// RFC 3339.
    pub not_after: String,
    pub sha256_fingerprint: String,
}

/// The leaf certificate in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeafReport {
    pub subject: String,
    pub issuer: String,
    /// Uppercase hex, as `openssl x509 -noout -serial`.
    pub serial: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_to_expiry: i64,
    /// "RSA 2048", "ECDSA P-256", ...
    pub key_type: String,
    /// Uppercase hex pairs joined by colons (as `openssl x509 -fingerprint -sha256`).
    pub sha256_fingerprint: String,
    /// subjectAltName entries ("DNS:host", "email:a@b", "IP:1.2.3.4", "URI:...").
    pub subject_alt_names: Vec<String>,
    /// keyUsage bits; empty when the extension is absent.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes ("clientAuth", "codeSigning", dotted OIDs); empty when absent.
    pub extended_key_usage: Vec<String>,
}

/// What was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    /// The IDENTITY argument.
    pub path: String,
    /// "pem", "der", "pkcs12", or "unknown" when it could not be read.
    pub format: String,
    /// `--key`, when given.
    pub key: Option<String>,
    /// `--chain` files, in the order given.
    pub chain: Vec<String>,
    /// Every certificate found, in input order.
    pub certificates: Vec<CertSummary>,
    /// The leaf, when one was found.
    pub leaf: Option<LeafReport>,
}

/// What `--connect` saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectReport {
    /// HOST:PORT as given.
    pub address: String,
    /// "TLSv1.3", "TLSv1.2"; `None` when the handshake failed.
    pub tls_version: Option<String>,
    /// e.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher_suite: Option<String>,
    /// The server sent a CertificateRequest.
    pub client_certificate_requested: bool,
    /// The CA names of the CertificateRequest, RFC 4514 style.
    pub ca_hints: Vec<String>,
    /// Whether our chain ends at (or passes through) one of `ca_hints`;
    /// `None` when the server named no CA or did not ask.
    pub chain_matches_hint: Option<bool>,
    /// Status of the probe request; `None` without an HTTP answer.
    pub http_status: Option<u16>,
    /// Whether the server accepted the certificate; `None` when unknown.
    pub accepted: Option<bool>,
    /// The Certificate Error page's reason or the TLS alert, when rejected.
    pub rejection_reason: Option<String>,
}

/// Counts and the exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The worst status of any check.
    pub status: Status,
    /// 0 all ok, 6 warnings only, 7 errors.
    pub exit_code: u8,
    pub ok: usize,
    pub warning: usize,
    pub error: usize,
}

/// Everything `twoway cert check` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub identity: IdentityReport,
    pub checks: Vec<Check>,
    /// Present with `--connect`.
    pub connect: Option<ConnectReport>,
    pub summary: Summary,
}

impl Report {
    /// A report of `checks`, summary computed.
    pub fn new(
        identity: IdentityReport,
        checks: Vec<Check>,
        connect: Option<ConnectReport>,
    ) -> Report {
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            identity,
            checks,
            connect,
            summary: Summary {
                status: Status::Ok,
                exit_code: 0,
                ok: 0,
                warning: 0,
                error: 0,
            },
        };
        report.summarize();
        report
    }

    /// Recomputes the summary after checks were added.
    pub fn summarize(&mut self) {
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let status = self
            .checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok);
        self.summary = Summary {
            status,
            exit_code: status.exit_code(),
            ok: count(Status::Ok),
            warning: count(Status::Warning),
            error: count(Status::Error),
        };
    }

    /// The check with `id`, when it ran.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The status of the check with `id`, when it ran.
    pub fn status(&self, id: CheckId) -> Option<Status> {
        self.check(id).map(|c| c.status)
    }

    /// 0 all ok, 6 warnings only, 7 errors.
    pub fn exit_code(&self) -> u8 {
        self.summary.exit_code
    }

    /// The report as pretty-printed JSON (see docs/cert-check.md).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            format!("{{\"schema_version\":{SCHEMA_VERSION},\"error\":\"cannot serialise the report: {e}\"}}")
        })
    }

    /// The report for people: the identity, one line per check (and its fix), the summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let id = &self.identity;
        let _ = writeln!(out, "identity  {} ({})", id.path, id.format);
        if let Some(key) = &id.key {
            let _ = writeln!(out, "key       {key}");
        }
        for chain in &id.chain {
            let _ = writeln!(out, "chain     {chain}");
        }
        if let Some(leaf) = &id.leaf {
            let _ = writeln!(out, "leaf      {}", leaf.subject);
            let _ = writeln!(out, "issuer    {}", leaf.issuer);
            let _ = writeln!(
                out,
                "expires   {} ({} days)",
                leaf.not_after, leaf.days_to_expiry
            );
            let _ = writeln!(out, "SHA-256   {}", leaf.sha256_fingerprint);
        }
        if let Some(c) = &self.connect {
            let _ = writeln!(out, "server    {}", c.address);
            if let (Some(v), Some(s)) = (&c.tls_version, &c.cipher_suite) {
                let _ = writeln!(out, "TLS       {v}, {s}");
            }
        }
        out.push('\n');
        let width = self
            .checks
            .iter()
            .map(|c| c.id.as_str().len())
            .max()
            .unwrap_or(0);
        for check in &self.checks {
            let status = match check.status {
                Status::Ok => "ok",
                Status::Warning => "WARNING",
                Status::Error => "ERROR",
            };
            let _ = writeln!(
                out,
                "{status:<8} {:<width$}  {}",
                check.id.as_str(),
                check.message
            );
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "{:<8} {:<width$}  fix: {fix}", "", "");
            }
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\n{} ok, {} warning(s), {} error(s): {}",
            s.ok,
            s.warning,
            s.error,
            s.status.as_str()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialise_as_documented() {
        for id in CheckId::ALL {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
        assert_eq!(
            serde_json::to_string(&Status::Warning).unwrap(),
            "\"warning\""
        );
    }

    #[test]
    fn the_worst_status_sets_the_exit_code() {
        let identity = IdentityReport {
            path: "x".into(),
            format: "pem".into(),
            key: None,
            chain: vec![],
            certificates: vec![],
            leaf: None,
        };
        let ok = Check::ok(CheckId::Blocks, "fine");
        let warn = Check::warning(CheckId::RootIncluded, "root", "drop it");
        let err = Check::error(CheckId::Validity, "expired", "renew");
        let report = Report::new(identity.clone(), vec![ok.clone()], None);
        assert_eq!(report.exit_code(), 0);
        let report = Report::new(identity.clone(), vec![ok.clone(), warn.clone()], None);
        assert_eq!(
            (report.exit_code(), report.summary.warning),
            (EXIT_WARNINGS, 1)
        );
        let report = Report::new(identity, vec![err, ok, warn], None);
        assert_eq!(report.exit_code(), EXIT_ERRORS);
        assert!(report.to_text().contains("fix: renew"));
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["summary"]["exit_code"], EXIT_ERRORS);
        assert_eq!(json["checks"][0]["id"], "validity");
        assert_eq!(json["checks"][1]["fix"], serde_json::Value::Null);
    }
}
