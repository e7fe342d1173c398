//! A drand chain made here, with a key pair of its own: its `/info` and its
//! rounds' signatures, for the stand-in relays of the HTTP tests
//! (tests/api/beacon_standin.rs) and the load tool (`lottery-load
//! beacon-standin`). What it follows (drand/drand `common/chain/info.go`,
//! `crypto/schemes.go`; drand.love, "HTTP API reference"):
//! - scheme `bls-unchained-g1-rfc9380` (quicknet's): the key on G2 (96
//!   bytes compressed), a round's signature on G1 (48 bytes) over the
//!   message sha256(round as u64 BE), hashed to G1 by RFC 9380 with the
//!   DST `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`;
//! - randomness = sha256(signature);
//! - chain hash = sha256(period u32 BE ‖ genesis i64 BE ‖ public key ‖
//!   group hash ‖ beacon id), computed by the server's own function;
//! - round r is published at genesis + (r − 1) × period.

use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DST_G1: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

pub fn random_key() -> Scalar {
    let mut wide = [0u8; 64];
    rand::rng().fill_bytes(&mut wide);
    Scalar::from_bytes_wide(&wide)
}

/// Round `round`'s signature under `key` (compressed G1).
pub fn sign(key: &Scalar, round: u64) -> Vec<u8> {
    let message = Sha256::digest(round.to_be_bytes());
    let point: G1Projective =
        <G1Projective as HashToCurve<ExpandMsgXmd<sha2_09::Sha256>>>::hash_to_curve(
            message.as_slice(),
            DST_G1,
        );
    G1Affine::from(point * key).to_compressed().to_vec()
}

/// A round as a relay answers it.
pub fn round_json(signature: &[u8], round: u64) -> Value {
    json!({
        "round": round,
        "randomness": hex::encode(Sha256::digest(signature)),
        "signature": hex::encode(signature),
    })
}

/// A chain's key, timing and identity.
pub struct MadeChain {
    pub key: Scalar,
    pub genesis: i64,
    pub period: u32,
    /// Hex.
    pub hash: String,
    pub info: Value,
}

impl MadeChain {
    /// A chain with a fresh key, rounds every `period` seconds since
    /// `genesis`.
    pub fn new(period: u32, genesis: i64) -> Self {
        let key = random_key();
        let public_key = G2Affine::from(G2Projective::generator() * key).to_compressed();
        let mut group_hash = [0u8; 32];
        rand::rng().fill_bytes(&mut group_hash);
        let hash = hex::encode(lottery::beacon::chain::chain_hash(
            period,
            genesis,
            &public_key,
            &group_hash,
            "standin",
        ));
        let info = json!({
            "public_key": hex::encode(public_key),
            "period": period,
            "genesis_time": genesis,
            "hash": hash,
            "groupHash": hex::encode(group_hash),
            "schemeID": "bls-unchained-g1-rfc9380",
            "metadata": {"beaconID": "standin"},
        });
        Self {
            key,
            genesis,
            period,
            hash,
            info,
        }
    }

    /// Whether round `round` is out at unix time `now`.
    pub fn published(&self, round: u64, now: i64) -> bool {
        round >= 1 && self.genesis + (round as i64 - 1) * i64::from(self.period) <= now
    }
}
