//! Join passwords (口令): kept as a keyed digest under the personal-data
//! keys (`Keyring::digest`), so neither the database nor a backup of it
//! holds the password or anything that allows guessing it offline. The
//! password itself lives only in the request that sets it and in the join
//! that gives it.

use super::Keyring;
use crate::secret::Secret;

/// What the digest is bound to: a digest of anything else never matches.
const CONTEXT: &[u8] = b"join-password";

pub fn digest(keys: &Keyring, password: &Secret) -> String {
    keys.digest(CONTEXT, password.expose().as_bytes())
}

/// Whether `candidate` is the password `digest` was made from (constant
/// time in the candidate's bytes).
pub fn matches(keys: &Keyring, digest: &str, candidate: &Secret) -> bool {
    keys.verify_digest(CONTEXT, candidate.expose().as_bytes(), digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_digest_only() {
        let keys = Keyring::parse(&Keyring::new_key_setting("k1")).unwrap();
        let stored = digest(&keys, &Secret::new("芝麻开门"));
        assert!(matches(&keys, &stored, &Secret::new("芝麻开门")));
        assert!(!matches(&keys, &stored, &Secret::new("芝麻开")));
        // A digest of the same bytes in another context is not a password's.
        let other = keys.digest(b"something else", "芝麻开门".as_bytes());
        assert!(!matches(&keys, &other, &Secret::new("芝麻开门")));
    }
}
