//! Sealing and opening personal data under named keys.
//!
//! A sealed value is text: `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`,
//! with a fresh 96-bit random nonce per value (AES-GCM's limit of 2^32
//! values per key under random nonces is far beyond one lottery's
//! winners). The caller names what the value belongs to (`context`, e.g.
//! the event, the user and the field): it is authenticated with the value,
//! so a sealed value copied onto another row or field does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

const NONCE_BYTES: usize = 12;

/// A value as stored: never the clear text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed(pub String);

/// Why a sealed value did not open. Carries no part of the value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed with key {0:?}, which is not configured")]
    UnknownKey(String),
    #[error("not a sealed value")]
    Malformed,
    /// Tampered with, sealed for another context, or under another key of
    /// the same id.
    #[error("the sealed value does not authenticate")]
    Forged,
}

pub struct Keyring {
    /// The first seals; all open.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Keyring").field("key_ids", &ids).finish()
    }
}

impl Keyring {
    /// Keys as the setting writes them: `id:base64key` separated by commas,
    /// the first sealing new values. An id is 1 to 16 letters, digits, `_`
    /// or `-`; a key is 32 bytes in standard base64. Errors name the entry
    /// by position, never its key.
    pub fn parse(setting: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for (n, entry) in setting.split(',').map(str::trim).enumerate() {
            let n = n + 1;
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| format!("key {n}: write it as id:base64key"))?;
            let valid_id = (1..=16).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_id {
                return Err(format!(
                    "key {n}: its id must be 1 to 16 letters, digits, _ or -"
                ));
            }
            if keys.iter().any(|(seen, _)| seen == id) {
                return Err(format!("key {n}: the id {id:?} is given twice"));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .map_err(|_| format!("key {n} ({id}): not standard base64"))?;
            if bytes.len() != 32 {
                return Err(format!(
                    "key {n} ({id}): {} bytes; AES-256 needs 32",
                    bytes.len()
                ));
            }
            let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes));
            keys.push((id.to_string(), cipher));
        }
        Ok(Self { keys })
    }

    /// A new key in the setting's form, from the operating system's
    /// randomness (what the key file holds, and what docs tell ops to run).
    pub fn new_key_setting(id: &str) -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        format!("{id}:{}", STANDARD.encode(key))
    }

    /// The id new values are sealed under.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    pub fn seal(&self, context: &[u8], clear: &[u8]) -> Sealed {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: clear,
                    aad: context,
                },
            )
            .expect("AES-GCM seals any value under 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Sealed(format!("{id}.{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn open(&self, context: &[u8], sealed: &Sealed) -> Result<Vec<u8>, OpenError> {
        let (id, body) = sealed.0.split_once('.').ok_or(OpenError::Malformed)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_BYTES + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context,
                },
            )
            .map_err(|_| OpenError::Forged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(setting: &str) -> Keyring {
        Keyring::parse(setting).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_context_and_shows_nothing_in_clear() {
        let keys = ring(&Keyring::new_key_setting("k1"));
        let clear = "张三 +86 138 0013 8000".as_bytes();
        let sealed = keys.seal(b"event 1 user 2 details", clear);
        assert!(sealed.0.starts_with("k1."));
        assert!(!sealed.0.contains("138"));
        assert_eq!(
            keys.open(b"event 1 user 2 details", &sealed).unwrap(),
            clear
        );
        assert_eq!(
            keys.open(b"event 1 user 3 details", &sealed),
            Err(OpenError::Forged),
            "copied onto another row, it does not open"
        );
        let again = keys.seal(b"event 1 user 2 details", clear);
        assert_ne!(again, sealed, "a fresh nonce every time");
    }

    #[test]
    fn keys_rotate_new_values_under_the_first_old_ones_still_open() {
        let (old, new) = (
            Keyring::new_key_setting("old"),
            Keyring::new_key_setting("new"),
        );
        let before = ring(&old).seal(b"c", b"secret");
        let rotated = ring(&format!("{new},{old}"));
        assert_eq!(rotated.current_key_id(), "new");
        assert_eq!(rotated.open(b"c", &before).unwrap(), b"secret");
        assert!(rotated.seal(b"c", b"x").0.starts_with("new."));
        assert_eq!(
            ring(&new).open(b"c", &before),
            Err(OpenError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn tampering_is_refused() {
        let keys = ring(&Keyring::new_key_setting("k"));
        let sealed = keys.seal(b"c", b"address");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed.0[2..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let forged = Sealed(format!("k.{}", URL_SAFE_NO_PAD.encode(bytes)));
        assert_eq!(keys.open(b"c", &forged), Err(OpenError::Forged));
        assert_eq!(
            keys.open(b"c", &Sealed("k.@@".into())),
            Err(OpenError::Malformed)
        );
        assert_eq!(
            keys.open(b"c", &Sealed("k.AAAA".into())),
            Err(OpenError::Malformed)
        );
        assert_eq!(
            keys.open(b"c", &Sealed("nodot".into())),
            Err(OpenError::Malformed)
        );
        // Another key under the same id does not open it either.
        let other = ring(&Keyring::new_key_setting("k"));
        assert_eq!(other.open(b"c", &sealed), Err(OpenError::Forged));
    }

    #[test]
    fn bad_settings_are_refused_without_echoing_a_key() {
        let key = STANDARD.encode([7u8; 32]);
        for (setting, says) in [
            ("", "id:base64key"),
            ("k1", "id:base64key"),
            (":abc", "its id"),
            ("a.b:abc", "its id"),
            ("seventeen-chars-x:abc", "its id"),
            ("k1:!!!", "base64"),
            ("k1:AAAA", "3 bytes"),
        ] {
            let err = Keyring::parse(setting).unwrap_err();
            assert!(err.contains(says), "{setting:?}: {err}");
        }
        let twice = Keyring::parse(&format!("a:{key},a:{key}")).unwrap_err();
        assert!(twice.contains("twice") && !twice.contains(&key), "{twice}");
        let debug = format!("{:?}", ring(&format!("a:{key}")));
        assert!(debug.contains("\"a\"") && !debug.contains(&key), "{debug}");
    }
}
