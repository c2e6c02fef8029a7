//! Finding the leaf and its key: the leaf is the certificate of the key
//! (not the first in the file), compared by [`key::matches`], or by RSA
//! modulus when aws-lc-rs will not load the key (too small to sign with);
//! the `key_matches_leaf` check says which key belongs to which
//! certificate, or that none does.

use time::OffsetDateTime;

use super::gather::Gathered;
use super::report::{Check, CheckId};
use super::usage;
use twoway::identity::chain::{self, CertInfo};
use twoway::identity::format_date;
use twoway::identity::key::{self, KeyProblem};

/// Which certificate is the leaf and which key is its key.
pub struct Selection {
    /// Index into `Gathered::certs`; `None` without certificates.
    pub leaf: Option<usize>,
    /// Index into `Gathered::keys` of the leaf's key.
    pub key: Option<usize>,
    /// The `key_matches_leaf` check (`None` without certificates).
    pub check: Option<Check>,
    /// Why the leaf's key cannot sign, when aws-lc-rs refuses it.
    pub key_problem: Option<KeyProblem>,
}

/// Finds the leaf by its key (not its position), as the loader does: with
/// several matches, the one valid now that lasts longest.
pub fn select(g: &Gathered, infos: &[CertInfo], now: OffsetDateTime) -> Selection {
    if infos.is_empty() {
        return Selection {
            leaf: None,
            key: None,
            check: None,
            key_problem: None,
        };
    }
    let guess = || chain::guess_leaf(infos).unwrap_or(0);
    if g.keys.is_empty() {
        let leaf = guess();
        return Selection {
            leaf: Some(leaf),
            key: None,
            check: Some(Check::warning(
                CheckId::KeyMatchesLeaf,
                format!(
                    "no private key given: cannot tell whether it belongs to '{}'",
                    infos[leaf].subject
                ),
                "pass the key with --key KEY (or check the combined PEM that holds key and certificates)",
            )),
            key_problem: None,
        };
    }
    // (key, cert) pairs that belong together, and the first key problem met.
    let mut pairs = Vec::new();
    let mut problems: Vec<(usize, KeyProblem)> = Vec::new();
    for (k, entry) in g.keys.iter().enumerate() {
        match key::signing_key(&entry.key) {
            Ok(signing) => {
                for (c, info) in infos.iter().enumerate() {
                    if key::matches(&signing, &info.der) {
                        pairs.push((k, c));
                    }
                }
            }
            Err(problem) => {
                for (c, info) in infos.iter().enumerate() {
                    if usage::rsa_key_matches(&entry.key, &info.der) {
                        pairs.push((k, c));
                    }
                }
                problems.push((k, problem));
            }
        }
    }
    pairs.sort_by_key(|&(_, c)| {
        (
            !infos[c].valid_at(now),
            std::cmp::Reverse(infos[c].not_after),
        )
    });
    let Some(&(k, leaf)) = pairs.first() else {
        let leaf = guess();
        let others = match infos.len() - 1 {
            0 => String::new(),
            1 => " (nor the other certificate)".to_string(),
            n => format!(" (nor any of the {n} other certificates)"),
        };
        let unreadable = problems.iter().find_map(|(_, p)| match p {
            KeyProblem::Invalid(reason) => Some(reason.clone()),
            KeyProblem::Unsupported(_) => None,
        });
        let check = match unreadable {
            Some(reason) => Check::error(
                CheckId::KeyMatchesLeaf,
                format!("the private key cannot be read: {reason}"),
                "export the key again (`openssl pkey -in KEY -out key.pem`) and check it is the certificate's key",
            ),
            None => Check::error(
                CheckId::KeyMatchesLeaf,
                format!(
                    "the private key ({} in {}) does not belong to certificate '{}'{others}",
                    g.keys[0].found_as,
                    g.keys[0].file.display(),
                    infos[leaf].subject
                ),
                "use the key the certificate was issued for (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)",
            ),
        };
        return Selection {
            leaf: Some(leaf),
            key: None,
            check: Some(check),
            key_problem: problems.into_iter().next().map(|(_, p)| p),
        };
    };
    let mut message = format!(
        "the private key ({} in {}) belongs to '{}'",
        g.keys[k].found_as,
        g.keys[k].file.display(),
        infos[leaf].subject
    );
    for &(_, other) in pairs.iter().skip(1).filter(|&&(_, c)| c != leaf) {
        message.push_str(&format!(
            "; it also matches '{}' (valid until {}), which is not used",
            infos[other].subject,
            format_date(&infos[other].not_after)
        ));
    }
    Selection {
        leaf: Some(leaf),
        key: Some(k),
        check: Some(Check::ok(CheckId::KeyMatchesLeaf, message)),
        key_problem: problems
            .into_iter()
            .find(|(pk, _)| *pk == k)
            .map(|(_, p)| p),
    }
}
