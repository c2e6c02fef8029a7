//! The offline checks of `twoway cert check`: blocks, key and leaf, chain
//! order and completeness, root, validity, key usages, key strength, subject
//! and fingerprint (the leaf and its key are found in [`super::select`]).
//! Each one is judged on its own so that every problem is reported in one
//! run; the chain logic is [`twoway::identity::chain::order`] and
//! [`CertInfo::issued`].

use time::OffsetDateTime;

use super::gather::Gathered;
use super::report::{Check, CheckId, Status};
use super::usage::{self, Usage};
use twoway::identity::chain::{CertInfo, ChainOrder};
use twoway::identity::format_date;
use twoway::identity::key::KeyProblem;

/// A validity window closer to its end than this is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The `blocks` check: what each file held, and what was wrong reading it.
pub fn blocks(g: &Gathered) -> Check {
    let mut message = if g.found.is_empty() {
        "nothing could be read".to_string()
    } else {
        g.found.join("; ")
    };
    if !g.notes.is_empty() {
        message.push_str(&format!(" ({})", g.notes.join("; ")));
    }
    let worst = g.findings.iter().map(|f| f.status).max();
    match worst {
        None | Some(Status::Ok) => Check::ok(CheckId::Blocks, message),
        Some(status) => {
            let problems: Vec<&str> = g.findings.iter().map(|f| f.message.as_str()).collect();
            let fix = g
                .findings
                .iter()
                .find(|f| f.status == status)
                .map(|f| f.fix.clone())
                .unwrap_or_default();
            Check {
                id: CheckId::Blocks,
                status,
                message: format!("{}; found: {message}", problems.join("; ")),
                fix: Some(fix),
            }
        }
    }
}

/// The leaf's checks; `order` is [`chain::order`] of every certificate from the leaf.
pub fn leaf_checks(
    infos: &[CertInfo],
    leaf: usize,
    order: &ChainOrder,
    anchors: &[CertInfo],
    key_problem: Option<&KeyProblem>,
    now: OffsetDateTime,
) -> Vec<Check> {
    let info = &infos[leaf];
    let usage = usage::usage(&info.der);
    vec![
        not_self_signed(info),
        chain_order(infos, order),
        chain_complete(infos, order, anchors),
        root_included(infos, order),
        validity(infos, order, now),
        key_usage(&usage),
        extended_key_usage(&usage),
        key_strength(info, key_problem),
        subject(info, &usage),
        Check::ok(
            CheckId::Fingerprint,
            format!(
                "SHA-256 {} (compare with the certificate uploaded to Salesforce: `openssl x509 -noout -fingerprint -sha256 -in FILE`)",
                info.sha256_fingerprint
            ),
        ),
    ]
}

fn quoted(infos: &[CertInfo], indices: impl IntoIterator<Item = usize>) -> String {
    indices
        .into_iter()
        .map(|i| format!("'{}'", infos[i].subject))
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_self_signed(info: &CertInfo) -> Check {
    if info.self_signed {
        Check::error(
            CheckId::LeafNotSelfSigned,
            format!(
                "'{}' is self-signed: Salesforce refuses self-signed client certificates (\"self-signed certificate\")",
                info.subject
            ),
            "make a CSR from this key and have a CA that Salesforce trusts issue the certificate",
        )
    } else {
        Check::ok(
            CheckId::LeafNotSelfSigned,
            format!("issued by '{}'", info.issuer),
        )
    }
}

fn chain_order(infos: &[CertInfo], order: &ChainOrder) -> Check {
    let mut expected = order.chain.clone();
    expected.extend(order.root);
    let actual: Vec<usize> = (0..infos.len())
        .filter(|i| !order.unrelated.contains(i))
        .collect();
    let path = expected
        .iter()
        .map(|&i| format!("'{}'", infos[i].subject))
        .collect::<Vec<_>>()
        .join(" -> ");
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    if actual != expected {
        problems.push(format!(
            "certificates out of order: found {}; expected the leaf, then each issuer: {path}",
            quoted(infos, actual.iter().copied())
        ));
        fixes.push("put them in order: key, leaf, then the intermediates from the leaf's issuer upwards (`twoway cert bundle` writes that order)");
    }
    if !order.unrelated.is_empty() {
        problems.push(format!(
            "not in the leaf's chain: {}",
            quoted(infos, order.unrelated.iter().copied())
        ));
        fixes.push("remove the certificates that are not part of the leaf's chain");
    }
    if problems.is_empty() {
        let message = if expected.len() == 1 {
            "one certificate, the leaf".to_string()
        } else {
            format!("leaf first, each certificate issued by the next: {path}")
        };
        Check::ok(CheckId::ChainOrder, message)
    } else {
        Check::warning(CheckId::ChainOrder, problems.join("; "), fixes.join("; "))
    }
}

fn chain_complete(infos: &[CertInfo], order: &ChainOrder, anchors: &[CertInfo]) -> Check {
    let id = CheckId::ChainComplete;
    if let Some(root) = order.root {
        return Check::ok(
            id,
            format!(
                "ends at root '{}' (found in the input)",
                infos[root].subject
            ),
        );
    }
    let Some(&top) = order.chain.last() else {
        return Check::ok(id, "no chain");
    };
    let last = &infos[top];
    if last.self_signed {
        return Check::ok(
            id,
            "the leaf is self-signed, there is no chain to complete (see leaf_not_self_signed)",
        );
    }
    if let Some(anchor) = anchors.iter().find(|a| a.der == last.der || a.issued(last)) {
        return Check::ok(
            id,
            format!(
                "ends at '{}', issued by trusted root '{}' (which need not be sent)",
                last.subject, anchor.subject
            ),
        );
    }
    if order.chain.len() == 1 {
        Check::error(
            id,
            format!(
                "only the leaf, and its issuer '{}' is not a trusted root (system roots, --cacert): the intermediate CA certificate(s) are missing (\"unable to get local issuer certificate\")",
                last.issuer
            ),
            format!(
                "add the intermediate certificate(s) of '{}' after the leaf (--chain FILE); if it is itself a root the server trusts, confirm with --cacert ROOT.pem",
                last.issuer
            ),
        )
    } else {
        Check::warning(
            id,
            format!(
                "ends at '{}', issued by '{}', which is not among the trusted roots (system roots, --cacert)",
                last.subject, last.issuer
            ),
            format!(
                "if '{}' is a root, it must be one the server trusts (Salesforce trusts public CAs): confirm with --cacert ROOT.pem; otherwise add its certificate to the chain",
                last.issuer
            ),
        )
    }
}

fn root_included(infos: &[CertInfo], order: &ChainOrder) -> Check {
    match order.root {
        Some(root) => Check::warning(
            CheckId::RootIncluded,
            format!(
                "root CA '{}' is included: servers must not be sent the root (a fullcert.pem holds the key, the leaf and the intermediates, without the root)",
                infos[root].subject
            ),
            "remove the root's CERTIFICATE block (`twoway cert bundle` leaves it out)",
        ),
        None => Check::ok(CheckId::RootIncluded, "the root is not included"),
    }
}

fn validity(infos: &[CertInfo], order: &ChainOrder, now: OffsetDateTime) -> Check {
    let id = CheckId::Validity;
    let leaf = &infos[order.chain[0]];
    let days = (leaf.not_after - now).whole_days();
    let mut errors = Vec::new();
    if now < leaf.not_before {
        errors.push(format!(
            "'{}' is not valid before {} (now {})",
            leaf.subject,
            format_date(&leaf.not_before),
            format_date(&now)
        ));
    } else if now > leaf.not_after {
        errors.push(format!(
            "'{}' expired on {} ({} days ago)",
            leaf.subject,
            format_date(&leaf.not_after),
            -days
        ));
    }
    for &i in order.chain[1..].iter().chain(order.root.iter()) {
        let ca = &infos[i];
        if !ca.valid_at(now) {
            errors.push(format!(
                "CA certificate '{}' is outside its validity window ({} to {})",
                ca.subject,
                format_date(&ca.not_before),
                format_date(&ca.not_after)
            ));
        }
    }
    if !errors.is_empty() {
        let fix = if now < leaf.not_before {
            "check the system clock, or wait until the certificate becomes valid"
        } else {
            "renew the certificate with your CA (and get its current intermediates), then upload the new leaf to Salesforce"
        };
        return Check::error(id, errors.join("; "), fix);
    }
    let window = format!(
        "valid from {} until {} ({days} days left)",
        format_date(&leaf.not_before),
        format_date(&leaf.not_after)
    );
    if days < EXPIRY_WARNING_DAYS {
        Check::warning(
            id,
            format!("expires in {days} days: {window}"),
            "renew it with your CA now and upload the new certificate to Salesforce before the old one expires",
        )
    } else {
        Check::ok(id, window)
    }
}

fn key_usage(usage: &Usage) -> Check {
    let id = CheckId::KeyUsage;
    match &usage.key_usage {
        None => Check::ok(id, "no keyUsage extension (no restriction)"),
        Some(ku) if ku.digital_signature => {
            Check::ok(id, format!("keyUsage: {}", ku.names.join(", ")))
        }
        Some(ku) => Check::error(
            id,
            format!(
                "keyUsage ({}) lacks Digital Signature, which TLS client authentication needs",
                ku.names.join(", ")
            ),
            "ask your CA for an SSL/TLS client certificate (keyUsage digitalSignature, extendedKeyUsage clientAuth)",
        ),
    }
}

fn extended_key_usage(usage: &Usage) -> Check {
    let id = CheckId::ExtendedKeyUsage;
    let fix = "ask your CA for an SSL/TLS client certificate (extendedKeyUsage clientAuth, \"TLS Web Client Authentication\")";
    match &usage.eku {
        None => Check::warning(
            id,
            "no extendedKeyUsage extension: clientAuth is not stated (RFC 5280 allows any use, but some servers insist on it)",
            fix,
        ),
        Some(eku) if eku.client_auth => {
            Check::ok(id, format!("extendedKeyUsage: {}", eku.names.join(", ")))
        }
        Some(eku) if eku.any => Check::ok(
            id,
            format!(
                "extendedKeyUsage: {} (any purpose, clientAuth included)",
                eku.names.join(", ")
            ),
        ),
        Some(eku) if eku.code_signing && eku.names.len() == 1 => Check::error(
            id,
            "a code-signing certificate (extendedKeyUsage codeSigning only): mutual TLS needs an SSL/TLS client certificate",
            fix,
        ),
        Some(eku) => Check::error(
            id,
            format!(
                "extendedKeyUsage ({}) has no clientAuth: the server will refuse it (\"unsupported certificate purpose\")",
                eku.names.join(", ")
            ),
            fix,
        ),
    }
}

fn key_strength(info: &CertInfo, key_problem: Option<&KeyProblem>) -> Check {
    let id = CheckId::KeyStrength;
    let kind = &info.key_type;
    let new_key = "make a new key (`openssl genrsa -out key.pem 3072` or an ECDSA P-256 key), a CSR from it, and have the CA issue a new certificate";
    if let Some(bits) = kind
        .strip_prefix("RSA ")
        .and_then(|b| b.parse::<usize>().ok())
    {
        return if bits < 2048 {
            Check::error(
                id,
                format!(
                    "{kind}: RSA keys under 2048 bits are too weak; servers (and rustls) refuse them"
                ),
                new_key,
            )
        } else if bits > 8192 {
            Check::error(
                id,
                format!("{kind}: RSA keys over 8192 bits cannot be used"),
                new_key,
            )
        } else {
            Check::ok(id, kind.clone())
        };
    }
    match (kind.as_str(), key_problem) {
        (_, Some(KeyProblem::Unsupported(what))) => Check::error(
            id,
            format!("{kind}: the private key cannot sign ({what})"),
            new_key,
        ),
        ("ECDSA P-256" | "ECDSA P-384" | "ECDSA P-521", _) => Check::ok(id, kind.clone()),
        ("Ed25519", _) => Check::warning(
            id,
            "Ed25519: many servers, Salesforce among them, do not accept Ed25519 client certificates",
            "use an RSA (2048+) or ECDSA P-256 key",
        ),
        _ => Check::error(
            id,
            format!("{kind}: not a key type TLS client authentication uses"),
            new_key,
        ),
    }
}

fn subject(info: &CertInfo, usage: &Usage) -> Check {
    let san = if usage.san.is_empty() {
        "none".to_string()
    } else {
        usage.san.join(", ")
    };
    let mut message = format!(
        "subject '{}', issuer '{}', serial {}, subjectAltName: {san}",
        info.subject, info.issuer, info.serial
    );
    if let Some(problem) = &usage.problem {
        message.push_str(&format!(" (unreadable extension: {problem})"));
        return Check::warning(
            CheckId::Subject,
            message,
            "check the certificate with `openssl x509 -noout -text -in CERT`; ask the CA to reissue it",
        );
    }
    Check::ok(CheckId::Subject, message)
}
