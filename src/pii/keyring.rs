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
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const NONCE_BYTES: usize = 12;
const SALT_BYTES: usize = 16;
/// What a key's digest subkey is derived with: the AES key itself is used
/// for nothing but AES-GCM.
const DIGEST_SUBKEY_LABEL: &[u8] = b"lottery keyed digest subkey v1";

type HmacSha256 = Hmac<Sha256>;

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
    /// Each key's digest subkey, in the same order (`digest`).
    digest_keys: Vec<[u8; 32]>,
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
        let mut digest_keys = Vec::new();
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
            let mut subkey =
                <HmacSha256 as Mac>::new_from_slice(&bytes).expect("HMAC takes any key");
            subkey.update(DIGEST_SUBKEY_LABEL);
            digest_keys.push(subkey.finalize().into_bytes().into());
        }
        Ok(Self { keys, digest_keys })
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

    /// A keyed digest of a secret that is only ever compared, never shown
    /// again (a join password): `<key id>.<base64url(salt ‖ HMAC-SHA-256)>`
    /// under the current key's digest subkey, over a fresh random salt,
    /// the context and the secret. Without the key a leaked digest does
    /// not even allow guessing a 4-digit secret offline; the salt keeps
    /// two equal secrets from having equal digests.
    pub fn digest(&self, context: &[u8], secret: &[u8]) -> String {
        let mut salt = [0u8; SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        let mac = Self::mac(&self.digest_keys[0], &salt, context, secret);
        let mut bytes = salt.to_vec();
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        format!("{}.{}", self.keys[0].0, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Whether `secret` is the one `stored` was made from, compared in
    /// constant time. False for a digest of an unknown key or malformed.
    pub fn verify_digest(&self, context: &[u8], secret: &[u8], stored: &str) -> bool {
        let Some((id, body)) = stored.split_once('.') else {
            return false;
        };
        let Some(at) = self.keys.iter().position(|(known, _)| known == id) else {
            return false;
        };
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(body) else {
            return false;
        };
        if bytes.len() != SALT_BYTES + 32 {
            return false;
        }
        let (salt, tag) = bytes.split_at(SALT_BYTES);
        Self::mac(&self.digest_keys[at], salt, context, secret)
            .verify_slice(tag)
            .is_ok()
    }

    fn mac(subkey: &[u8; 32], salt: &[u8], context: &[u8], secret: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(subkey).expect("HMAC takes any key");
        // Lengths first: no two (context, secret) pairs feed the same bytes.
        mac.update(salt);
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context);
        mac.update(secret);
        mac
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
    fn a_digest_verifies_only_its_secret_under_a_known_key() {
        let k1 = Keyring::new_key_setting("k1");
        let keys = ring(&k1);
        let stored = keys.digest(b"join-password", "1234".as_bytes());
        assert!(stored.starts_with("k1."));
        assert!(!stored.contains("1234"));
        assert!(keys.verify_digest(b"join-password", b"1234", &stored));
        for wrong in ["1235", "", "12345", " 1234"] {
            assert!(!keys.verify_digest(b"join-password", wrong.as_bytes(), &stored));
        }
        assert!(!keys.verify_digest(b"other", b"1234", &stored));
        assert_ne!(
            stored,
            keys.digest(b"join-password", b"1234"),
            "a fresh salt every time"
        );
        // Rotation: a digest made under k1 verifies while k1 is listed.
        let rotated = ring(&format!("{},{k1}", Keyring::new_key_setting("k2")));
        assert!(rotated.verify_digest(b"join-password", b"1234", &stored));
        assert!(rotated.digest(b"join-password", b"1").starts_with("k2."));
        // Another key of the same id, or none: never verifies.
        let other = ring(&Keyring::new_key_setting("k1"));
        assert!(!other.verify_digest(b"join-password", b"1234", &stored));
        for bad in ["", "k1", "k1.", "k9.AAAA", "k1.!!!"] {
            assert!(!keys.verify_digest(b"join-password", b"1234", bad));
        }
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
