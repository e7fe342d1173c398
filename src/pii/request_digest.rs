//! The digest of a request body kept with an `Idempotency-Key`
//! (`store::idempotency`): keyed and salted (`Keyring::digest`), since a
//! creation's body may hold a join password, and only ever compared with a
//! retry's body.

use super::Keyring;

/// What the digest is bound to: no other digest of the keyring matches.
const CONTEXT: &[u8] = b"idempotent-request";

pub fn digest(keys: &Keyring, body: &[u8]) -> String {
    keys.digest(CONTEXT, body)
}

/// Whether `body` is the one `stored` was made from.
pub fn matches(keys: &Keyring, stored: &str, body: &[u8]) -> bool {
    keys.verify_digest(CONTEXT, body, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_matches_its_digest_only() {
        let keys = Keyring::parse(&Keyring::new_key_setting("k1")).unwrap();
        let stored = digest(&keys, br#"{"title":"a"}"#);
        assert!(matches(&keys, &stored, br#"{"title":"a"}"#));
        assert!(!matches(&keys, &stored, br#"{"title":"b"}"#));
        assert!(!stored.contains("title"));
        let password = super::super::join_password::digest(
            &keys,
            &crate::secret::Secret::new(r#"{"title":"a"}"#),
        );
        assert!(
            !matches(&keys, &password, br#"{"title":"a"}"#),
            "bound to its use"
        );
    }
}
