//! Salesforce-shaped identifiers: 15/18-character ids, session ids, query locators.

use rand::RngExt;
use rand::distr::Alphanumeric;

/// True for a 15-character org id (`00D` + 12 letters or digits).
pub fn is_org_id(id: &str) -> bool {
    id.len() == 15 && id.starts_with("00D") && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The 18-character, case-insensitive form of a 15-character id.
pub fn to_18(id15: &str) -> String {
    const TABLE: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let mut out = String::with_capacity(18);
    out.push_str(id15);
    for chunk in id15.as_bytes().chunks(5) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        out.push(TABLE[bits] as char);
    }
    out
}

/// A record id: key prefix, the org's pod characters, a counter; 18 characters.
pub fn record_id(key_prefix: &str, org_id: &str, n: u64) -> String {
    let pod = &org_id[3..5];
    to_18(&format!("{key_prefix}{pod}{n:010}"))
}

/// The id of the `n`th user of the simulator (numbered across orgs).
pub fn user_id(org_id: &str, n: usize) -> String {
    record_id("005", org_id, n as u64 + 1)
}

/// The profile id shared by the simulator's users.
pub fn profile_id(org_id: &str) -> String {
    record_id("00e", org_id, 1)
}

/// A fresh session id: `<15-char org id>!<opaque>`, as Salesforce issues them.
pub fn session_id(org_id: &str) -> String {
    format!("{org_id}!AQ{}", random_text(94))
}

/// A fresh query locator (starts with `01g`, like REST's).
pub fn query_locator() -> String {
    format!("01g{}", random_text(15))
}

/// `len` random letters and digits.
pub fn random_text(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_character_ids_match_salesforce() {
        // A documented example: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(to_18("001A0000006Vm9r"), "001A0000006Vm9rIAC");
    }

    #[test]
    fn session_ids_carry_the_org_id() {
        let s = session_id("00D000000000001");
        assert!(s.starts_with("00D000000000001!"));
        assert_ne!(s, session_id("00D000000000001"));
    }
}
