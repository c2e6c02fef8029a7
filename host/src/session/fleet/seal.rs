//! What keeps the shared store trustworthy: every value and message an
//! instance writes is bound to where it is stored (its key or channel, which
//! names the tenant's key base), a fleet generation and an expiry, under
//! keys derived from `encryption_key`; what does not open or verify under
//! that binding, is past its expiry or expires further ahead than its kind
//! ever does, or is larger than a value ever is, is refused. Two forms:
//! [`Sealer::seal`] (AES-256-GCM, random nonce: for secrets, such as a
//! session) and [`Sealer::sign`] (HMAC-SHA256, readable: for locks, stops,
//! backoffs, budget entries, usage and events). Key names are derived from
//! the session fingerprint by HMAC (so they reveal nothing about
//! credentials, and a changed config never finds an old session).
//!
//! Written as `{sealed}|{expires_ms}` and `{text}|{expires_ms}|{tag}`; the
//! authenticated data is `twoway-fleet-v1`, the key's length and name, the
//! generation and the expiry.

use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;

use super::StoreError;

/// The most a stored value (a sealed session, a stop, a budget entry) may
/// take: a sealed session is about 1 KiB.
pub const MAX_VALUE: usize = 8 * 1024;
/// How far another instance's clock may be ahead of this one's.
pub const SKEW: Duration = Duration::from_secs(10);
/// Where a value is stored and what it belongs to: besides its bytes and
/// expiry, what it is authenticated with.
#[derive(Clone, Copy, Debug)]
pub struct Binding<'a> {
    /// The Redis key (or the events channel) the value is stored under.
    pub key: &'a str,
    /// The fleet generation it belongs to (0: none).
    pub generation: u64,
}

impl<'a> Binding<'a> {
    /// A value of `key` outside any generation.
    pub fn key(key: &'a str) -> Self {
        Self { key, generation: 0 }
    }

    fn data(&self, expires_ms: u64) -> Vec<u8> {
        format!(
            "twoway-fleet-v1\n{}\n{}\n{}\n{}",
            self.key.len(),
            self.key,
            self.generation,
            expires_ms
        )
        .into_bytes()
    }
}

/// A verified readable value: its text and when it expires.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified<'t> {
    pub text: &'t str,
    pub expires_ms: u64,
}

/// Seals, signs, opens and verifies values; names tenants' keys.
pub struct Sealer {
    aead: LessSafeKey,
    sign: hmac::Key,
    names: hmac::Key,
}

/// A key for one use, derived from the encryption key.
fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), label);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn refused(why: &str) -> StoreError {
    StoreError::Refused(why.to_string())
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Result<Self, StoreError> {
        let unbound = UnboundKey::new(&AES_256_GCM, &derive(key, b"twoway fleet v1 seal"))
            .map_err(|_| StoreError::Seal("the encryption key was refused".into()))?;
        Ok(Self {
            aead: LessSafeKey::new(unbound),
            sign: hmac::Key::new(hmac::HMAC_SHA256, &derive(key, b"twoway fleet v1 sign")),
            names: hmac::Key::new(hmac::HMAC_SHA256, &derive(key, b"twoway fleet v1 names")),
        })
    }

    /// `plain` encrypted and bound to `at` until `expires_ms` (unix ms).
    pub fn seal(
        &self,
        at: Binding<'_>,
        expires_ms: u64,
        plain: &[u8],
    ) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| StoreError::Seal("no random bytes for a nonce".into()))?;
        let mut data = plain.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(at.data(expires_ms)),
                &mut data,
            )
            .map_err(|_| StoreError::Seal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{}|{expires_ms}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// The plaintext of [`Sealer::seal`]'s output for the same binding,
    /// when it has not expired at `now_ms` and expires at most `longest`
    /// (plus [`SKEW`]) after it.
    pub fn open(
        &self,
        at: Binding<'_>,
        sealed: &str,
        now_ms: u64,
        longest: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        let (body, expires_ms) = framed(sealed, now_ms, longest)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| refused("not sealed"))?;
        if raw.len() < NONCE_LEN {
            return Err(refused("not sealed"));
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused("not sealed"))?;
        let mut data = data.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(at.data(expires_ms)), &mut data)
            .map_err(|_| {
                refused("does not open under this key name, generation and expiry with this encryption_key (another key, or tampered)")
            })?;
        Ok(plain.to_vec())
    }

    /// `text`, readable, with a tag binding it to `at` until `expires_ms`.
    pub fn sign(&self, at: Binding<'_>, expires_ms: u64, text: &str) -> String {
        format!("{text}|{expires_ms}|{}", self.tag(at, expires_ms, text))
    }

    /// The text of [`Sealer::sign`]'s output for the same binding, under
    /// the same conditions as [`Sealer::open`].
    pub fn verify<'t>(
        &self,
        at: Binding<'_>,
        signed: &'t str,
        now_ms: u64,
        longest: Duration,
    ) -> Result<Verified<'t>, StoreError> {
        let (rest, tag) = signed
            .rsplit_once('|')
            .ok_or_else(|| refused("not signed"))?;
        let (text, expires_ms) = framed(rest, now_ms, longest)?;
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| refused("not signed"))?;
        let mut data = at.data(expires_ms);
        data.extend_from_slice(text.as_bytes());
        hmac::verify(&self.sign, &data, &tag).map_err(|_| {
            refused("its tag does not match this key name, generation and expiry with this encryption_key (another key, or tampered)")
        })?;
        Ok(Verified { text, expires_ms })
    }

    fn tag(&self, at: Binding<'_>, expires_ms: u64, text: &str) -> String {
        let mut data = at.data(expires_ms);
        data.extend_from_slice(text.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac::sign(&self.sign, &data))
    }

    /// What names a session's keys: an HMAC of
    /// [`SessionSettings::fingerprint`](crate::session::SessionSettings::fingerprint)
    /// (a plain hash of the credentials), so key names allow no offline
    /// guessing; 32 hex digits.
    pub fn key_id(&self, fingerprint: &str) -> String {
        let tag = hmac::sign(&self.names, fingerprint.as_bytes());
        hex::encode(&tag.as_ref()[..16])
    }
}

/// `{body}|{expires_ms}` checked for size and time: the body and expiry.
fn framed(text: &str, now_ms: u64, longest: Duration) -> Result<(&str, u64), StoreError> {
    if text.len() > MAX_VALUE {
        return Err(refused("larger than any value the fleet writes"));
    }
    let (body, expires) = text.rsplit_once('|').ok_or_else(|| refused("no expiry"))?;
    let expires_ms: u64 = expires.parse().map_err(|_| refused("no expiry"))?;
    if expires_ms <= now_ms {
        return Err(refused("past its expiry"));
    }
    let latest = now_ms.saturating_add(ms(longest + SKEW));
    if expires_ms > latest {
        return Err(refused("expires further ahead than any value of its kind"));
    }
    Ok((body, expires_ms))
}

/// `d` in whole milliseconds.
pub fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const HOUR: Duration = Duration::from_secs(3600);

    fn at(key: &str, generation: u64) -> Binding<'_> {
        Binding { key, generation }
    }

    #[test]
    fn sealed_values_open_only_under_their_key_generation_and_expiry() {
        let sealer = Sealer::new(&[1u8; 32]).unwrap();
        let key = "p:t:a:f:session";
        let exp = NOW + 60_000;
        let a = sealer.seal(at(key, 7), exp, b"00Dxx!secret").unwrap();
        let b = sealer.seal(at(key, 7), exp, b"00Dxx!secret").unwrap();
        assert_ne!(a, b, "a fresh nonce per write");
        assert!(!a.contains("secret"));
        assert_eq!(
            sealer.open(at(key, 7), &a, NOW, HOUR).unwrap(),
            b"00Dxx!secret"
        );
        // Another key name, another generation (an old blob replayed under
        // a new one), another encryption key: refused.
        assert!(
            sealer
                .open(at("p:t:b:f:session", 7), &a, NOW, HOUR)
                .is_err()
        );
        assert!(sealer.open(at(key, 8), &a, NOW, HOUR).is_err());
        let other = Sealer::new(&[2u8; 32]).unwrap();
        assert!(other.open(at(key, 7), &a, NOW, HOUR).is_err());
        // The expiry is authenticated: moved later, it no longer opens.
        let moved = a.replace(&exp.to_string(), &(exp + 1).to_string());
        assert!(sealer.open(at(key, 7), &moved, NOW, HOUR).is_err());
        // Past its expiry, or expiring further ahead than its kind does.
        assert!(sealer.open(at(key, 7), &a, exp, HOUR).is_err());
        let soon = sealer.seal(at(key, 7), NOW + 5_000, b"x").unwrap();
        assert!(
            sealer.open(at(key, 7), &soon, NOW, Duration::ZERO).is_ok(),
            "within the skew"
        );
        let far = sealer.seal(at(key, 7), NOW + 2 * 3_600_000, b"x").unwrap();
        assert!(sealer.open(at(key, 7), &far, NOW, HOUR).is_err());
        for bad in [
            "",
            "!!",
            "!!|1",
            &format!("{}|{exp}", "A".repeat(MAX_VALUE)),
        ] {
            assert!(
                sealer.open(at(key, 7), bad, NOW, HOUR).is_err(),
                "{bad:.20}"
            );
        }
    }

    #[test]
    fn signed_values_are_readable_and_verify_only_unchanged() {
        let sealer = Sealer::new(&[1u8; 32]).unwrap();
        let key = "p:t:a:f:stop";
        let exp = NOW + 1000;
        let text = r#"{"code":"INVALID_LOGIN","message":"a|b"}"#;
        let signed = sealer.sign(at(key, 0), exp, text);
        assert!(signed.starts_with(text));
        assert_eq!(
            sealer.verify(at(key, 0), &signed, NOW, HOUR).unwrap(),
            Verified {
                text,
                expires_ms: exp
            }
        );
        for bad in [
            signed.replace("INVALID", "VALID"),
            signed.replace(&exp.to_string(), &(exp + 1).to_string()),
            format!("{text}|{exp}|"),
            text.to_string(),
            format!("{text}|{}|{}", exp, "A".repeat(43)),
        ] {
            assert!(sealer.verify(at(key, 0), &bad, NOW, HOUR).is_err(), "{bad}");
        }
        assert!(
            sealer
                .verify(at("p:t:a:f:backoff", 0), &signed, NOW, HOUR)
                .is_err()
        );
        assert!(sealer.verify(at(key, 1), &signed, NOW, HOUR).is_err());
        assert!(
            sealer.verify(at(key, 0), &signed, exp, HOUR).is_err(),
            "expired"
        );
    }

    #[test]
    fn key_names_reveal_nothing_and_change_with_the_key() {
        let a = Sealer::new(&[1u8; 32]).unwrap().key_id("fingerprint");
        let b = Sealer::new(&[2u8; 32]).unwrap().key_id("fingerprint");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
