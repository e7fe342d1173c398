//! Draws with public randomness (docs/FAIRNESS.md, "Beacon draws"): the
//! participant list is fixed and its hash published when the draw starts;
//! the first drand round after that instant, which nobody could know then,
//! is mixed into the committed seed. These are the rules and the checks
//! anyone can make of a published record; fetching rounds is `beacon`'s.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::beacon::chain::Chain;
use crate::beacon::round;
use crate::domain::draw::Seed;

/// The seed a beacon draw runs the algorithm with: SHA-256(seed ‖
/// randomness), 32 + 32 raw bytes in (the contract's formula). Re-draws
/// use it too, with their round numbers.
pub fn mixed_seed(seed: &Seed, randomness: &[u8; 32]) -> Seed {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(randomness);
    hasher.finalize().into()
}

/// SHA-256 of the participants' user ids in ascending order, each 8 bytes
/// big-endian, hex. `ids` must be in canonical order already.
pub fn participants_hash(ids: &[i64]) -> String {
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id.to_be_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The randomness of a round: SHA-256 of its signature (drand's rule; the
/// relay's own `randomness` field is never taken).
pub fn randomness_of(signature: &[u8]) -> [u8; 32] {
    Sha256::digest(signature).into()
}

/// A beacon draw as `/fairness` publishes it (the event view shows the
/// same object with `randomness` and `signature` null until the round is
/// fetched).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BeaconRecord {
    /// The drand chain's hash (hex), which authenticates its key.
    pub chain_hash: String,
    pub round: u64,
    /// Hex: SHA-256 of `signature`.
    #[schema(required)]
    pub randomness: Option<String>,
    /// Hex: the round's BLS signature.
    #[schema(required)]
    pub signature: Option<String>,
    /// Hex: SHA-256 of the participants' ids in ascending order, 8 bytes
    /// big-endian each, published when the draw started.
    pub participants_hash: String,
    /// When the list was fixed (RFC 3339): the round is the first whose
    /// time is after it.
    #[schema(format = DateTime)]
    pub fixed_at: String,
}

impl BeaconRecord {
    /// The record's own consistency: the participants are the ones hashed
    /// and the randomness is the signature's. Returns the randomness.
    pub fn check(&self, participants: &[i64]) -> Result<[u8; 32], String> {
        let listed = participants_hash(participants);
        if !listed.eq_ignore_ascii_case(&self.participants_hash) {
            return Err(format!(
                "the participants hash to {listed}, not the participants_hash published \
                 when the draw started ({})",
                self.participants_hash
            ));
        }
        let signature = self.signature_bytes()?;
        let randomness = randomness_of(&signature);
        let published = self.randomness.as_deref().unwrap_or_default();
        if !hex::encode(randomness).eq_ignore_ascii_case(published) {
            return Err(format!(
                "the randomness {published:?} is not SHA-256 of the round's signature ({})",
                hex::encode(randomness)
            ));
        }
        Ok(randomness)
    }

    fn signature_bytes(&self) -> Result<Vec<u8>, String> {
        let signature = self
            .signature
            .as_deref()
            .ok_or("the beacon round has no signature yet")?;
        hex::decode(signature).map_err(|_| "the round's signature is not hex".to_string())
    }

    /// What only the chain can prove: `chain` is the one named (its hash
    /// was recomputed from its fields), the signature is the round's under
    /// its key, and the round is the first published after `fixed_at`.
    pub fn check_with_chain(&self, chain: &Chain) -> Result<(), String> {
        if !hex::encode(chain.hash).eq_ignore_ascii_case(&self.chain_hash) {
            return Err(format!(
                "the record names chain {}, the chain given is {}",
                self.chain_hash,
                hex::encode(chain.hash)
            ));
        }
        round::verify(
            chain.scheme,
            &chain.public_key,
            self.round,
            &self.signature_bytes()?,
        )?;
        let fixed_at = DateTime::parse_from_rfc3339(&self.fixed_at)
            .map_err(|_| format!("fixed_at {:?} is not an RFC 3339 time", self.fixed_at))?
            .with_timezone(&Utc);
        let first = chain.first_round_after(fixed_at.timestamp());
        if first != self.round {
            return Err(format!(
                "round {} is not the first published after the list was fixed at {} \
                 (that is round {first})",
                self.round, self.fixed_at
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_participants_hash_is_of_8_byte_big_endian_ids() {
        // SHA-256 of no bytes: the empty list.
        assert_eq!(
            participants_hash(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(
            participants_hash(&[1, 256]),
            hex::encode(Sha256::digest(&bytes))
        );
        assert_ne!(participants_hash(&[1, 256]), participants_hash(&[256, 1]));
    }

    #[test]
    fn the_mixed_seed_is_sha256_of_seed_then_randomness() {
        let (seed, randomness) = ([1u8; 32], [2u8; 32]);
        let mut both = seed.to_vec();
        both.extend_from_slice(&randomness);
        let expected: [u8; 32] = Sha256::digest(&both).into();
        assert_eq!(mixed_seed(&seed, &randomness), expected);
        assert_ne!(mixed_seed(&randomness, &seed), expected);
    }

    #[test]
    fn a_record_checks_its_list_and_its_randomness() {
        let signature = vec![9u8; 48];
        let record = BeaconRecord {
            chain_hash: "00".repeat(32),
            round: 7,
            randomness: Some(hex::encode(randomness_of(&signature))),
            signature: Some(hex::encode(&signature)),
            participants_hash: participants_hash(&[1, 2, 3]),
            fixed_at: "2026-12-06T00:00:00Z".into(),
        };
        assert_eq!(record.check(&[1, 2, 3]), Ok(randomness_of(&signature)));
        assert!(record
            .check(&[1, 2, 3, 4])
            .unwrap_err()
            .contains("participants_hash"));
        let mut other = record.clone();
        other.randomness = Some("11".repeat(32));
        assert!(other.check(&[1, 2, 3]).unwrap_err().contains("SHA-256"));
        let mut unsigned = record;
        unsigned.signature = None;
        assert!(unsigned.check(&[1, 2, 3]).is_err());
    }
}
