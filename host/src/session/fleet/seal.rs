//! What keeps the shared session secret in Redis: AES-256-GCM with a random
//! nonce per write, bound to the key it is stored under; and key names
//! derived from the session fingerprint by HMAC (so they reveal nothing
//! about credentials, and a changed config never finds an old session).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;

use super::StoreError;

/// The 32-byte key from `encryption_key_env`/`_file`: 64 hex digits or
/// base64 (padded or not).
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?
    };
    bytes.try_into().ok()
}

/// Seals and opens values; fingerprints tenants.
pub struct Sealer {
    aead: LessSafeKey,
    mac: hmac::Key,
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Result<Self, StoreError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| StoreError::Seal("the encryption key was refused".into()))?;
        // A separate key for fingerprints, derived from the same secret.
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            b"twoway fingerprint",
        );
        Ok(Self {
            aead: LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// `nonce || ciphertext || tag`, base64; `context` (the key name) is
    /// authenticated so a value cannot be moved to another key.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| StoreError::Seal("no random bytes for a nonce".into()))?;
        let mut data = plain.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| StoreError::Seal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// The plaintext of [`Sealer::seal`]'s output for the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, StoreError> {
        let corrupt = || {
            StoreError::Seal(
                "a stored session does not open with this encryption_key (another key, or tampered)"
                    .into(),
            )
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| corrupt())?;
        if raw.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, data) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut data = data.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| corrupt())?;
        Ok(plain.to_vec())
    }

    /// What names a session's keys: an HMAC of
    /// [`SessionSettings::fingerprint`](crate::session::SessionSettings::fingerprint)
    /// (a plain hash of the credentials), so key names allow no offline
    /// guessing; 32 hex digits.
    pub fn key_id(&self, fingerprint: &str) -> String {
        let tag = hmac::sign(&self.mac, fingerprint.as_bytes());
        tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_or_base64_only_at_32_bytes() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_key(&hex).unwrap()[31], 0xff);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(parse_key(&b64), Some([7u8; 32]));
        assert_eq!(parse_key("00ff"), None);
        assert_eq!(parse_key(&"00".repeat(33)), None);
        assert_eq!(parse_key("not a key"), None);
    }

    #[test]
    fn sealed_values_open_only_under_their_key_name() {
        let sealer = Sealer::new(&[1u8; 32]).unwrap();
        let a = sealer.seal(b"00Dxx!secret", "p:t:a:f:session").unwrap();
        let b = sealer.seal(b"00Dxx!secret", "p:t:a:f:session").unwrap();
        assert_ne!(a, b, "a fresh nonce per write");
        assert!(!a.contains("secret"));
        assert_eq!(sealer.open(&a, "p:t:a:f:session").unwrap(), b"00Dxx!secret");
        assert!(sealer.open(&a, "p:t:b:f:session").is_err());
        assert!(
            Sealer::new(&[2u8; 32])
                .unwrap()
                .open(&a, "p:t:a:f:session")
                .is_err()
        );
        assert!(sealer.open("!!", "p:t:a:f:session").is_err());
    }
}
