//! A drand chain's information (`GET {relay}/{chain hash}/info`) and what
//! follows from it: the chain hash recomputed from its fields, so the key is
//! taken from the configured hash and not from whoever answers; round times.
//!
//! drand's own layout (drand/drand `common/chain/info.go`, `Info::Hash`):
//! sha256(period as u32 BE ‖ genesis time as i64 BE ‖ public key bytes ‖
//! group hash (32 bytes) ‖ beacon id as UTF-8, only when it is neither ""
//! nor "default"). The scheme is not part of it; the `hash` field `/info`
//! carries is never believed (drand's Go client does the same).

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::round::Scheme;

/// drand's quicknet (`bls-unchained-g1-rfc9380`, 3 s rounds), the chain
/// to use in production: its `/info` as drand/drand's
/// `common/chain/info_test.go` records it (public data), so a quicknet
/// draw can be checked offline.
pub const QUICKNET_INFO: &str = r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","groupHash":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","schemeID":"bls-unchained-g1-rfc9380","metadata":{"beaconID":"quicknet"}}"#;
pub const QUICKNET_HASH: &str = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

/// `/info` as relays serve it (v1 names), with drand's v2 names accepted
/// too.
#[derive(Debug, Clone, Deserialize)]
pub struct InfoJson {
    pub public_key: String,
    pub period: u32,
    pub genesis_time: i64,
    #[serde(rename = "groupHash", alias = "genesis_seed")]
    pub group_hash: String,
    #[serde(rename = "schemeID", alias = "scheme")]
    pub scheme: String,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub beacon_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(rename = "beaconID", default)]
    pub beacon_id: Option<String>,
}

/// A chain whose information hashed to the configured chain hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub hash: [u8; 32],
    pub public_key: Vec<u8>,
    pub period: u32,
    pub genesis_time: i64,
    pub scheme: Scheme,
}

impl Chain {
    /// The chain `info` describes, when its fields hash to `expected` and
    /// its scheme is one we verify.
    pub fn authenticate(info: &InfoJson, expected: &[u8; 32]) -> Result<Self, String> {
        let public_key =
            hex::decode(&info.public_key).map_err(|_| "the chain's public_key is not hex")?;
        let group_hash =
            hash32(&info.group_hash).ok_or("the chain's group hash is not 32 bytes of hex")?;
        let beacon_id = info
            .beacon_id
            .clone()
            .or_else(|| info.metadata.as_ref().and_then(|m| m.beacon_id.clone()))
            .unwrap_or_default();
        let hash = chain_hash(
            info.period,
            info.genesis_time,
            &public_key,
            &group_hash,
            &beacon_id,
        );
        if &hash != expected {
            return Err(format!(
                "the beacon's chain information hashes to {}, not the configured chain hash {}",
                hex::encode(hash),
                hex::encode(expected)
            ));
        }
        let scheme = Scheme::from_id(&info.scheme)?;
        if public_key.len() != scheme.public_key_len() {
            return Err(format!(
                "a {} chain has {}-byte public keys, this one {}",
                info.scheme,
                scheme.public_key_len(),
                public_key.len()
            ));
        }
        if info.period == 0 {
            return Err("the chain's period is 0".into());
        }
        Ok(Self {
            hash,
            public_key,
            period: info.period,
            genesis_time: info.genesis_time,
            scheme,
        })
    }

    /// When `round` is published: genesis + (round − 1) × period (round 1
    /// at genesis; drand's `TimeOfRound`).
    pub fn time_of(&self, round: u64) -> i64 {
        self.genesis_time + (round.max(1) as i64 - 1) * i64::from(self.period)
    }

    /// The first round published strictly after `unix_seconds`: the one a
    /// draw that started then uses (nobody, this server included, could
    /// know it when the participant list was fixed).
    pub fn first_round_after(&self, unix_seconds: i64) -> u64 {
        if unix_seconds < self.genesis_time {
            return 1;
        }
        let elapsed = (unix_seconds - self.genesis_time) as u64;
        // Round r is at genesis + (r - 1) * period; the first later than t.
        elapsed / u64::from(self.period) + 2
    }
}

/// 32 bytes written as 64 hex digits (a chain hash, a group hash).
pub fn hash32(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// drand's chain hash of these fields.
pub fn chain_hash(
    period: u32,
    genesis_time: i64,
    public_key: &[u8],
    group_hash: &[u8; 32],
    beacon_id: &str,
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(period.to_be_bytes());
    hasher.update(genesis_time.to_be_bytes());
    hasher.update(public_key);
    hasher.update(group_hash);
    if !(beacon_id.is_empty() || beacon_id == "default") {
        hasher.update(beacon_id.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The League of Entropy's unchained testnet (`pedersen-bls-unchained`),
    /// as thibmeu/drand-rs records it.
    const UNCHAINED_TESTNET_INFO: &str = r#"{"public_key":"8200fc249deb0148eb918d6e213980c5d01acd7fc251900d9260136da3b54836ce125172399ddc69c4e3e11429b62c11","period":3,"genesis_time":1651677099,"hash":"7672797f548f3f4748ac4bf3352fc6c6b6468c9ad40ad456a397545c6e2df5bf","groupHash":"65083634d852ae169e21b6ce5f0410be9ed4cc679b9970236f7875cff667e13d","schemeID":"pedersen-bls-unchained","metadata":{"beaconID":"testnet-unchained-3s"}}"#;
    const UNCHAINED_TESTNET_HASH: &str =
        "7672797f548f3f4748ac4bf3352fc6c6b6468c9ad40ad456a397545c6e2df5bf";

    fn hash32(text: &str) -> [u8; 32] {
        super::hash32(text).unwrap()
    }

    fn quicknet() -> Chain {
        let info: InfoJson = serde_json::from_str(QUICKNET_INFO).unwrap();
        Chain::authenticate(&info, &hash32(QUICKNET_HASH)).unwrap()
    }

    #[test]
    fn the_real_chains_hash_to_their_published_hashes() {
        assert_eq!(quicknet().scheme, Scheme::G1Rfc9380);
        let info: InfoJson = serde_json::from_str(UNCHAINED_TESTNET_INFO).unwrap();
        let chain = Chain::authenticate(&info, &hash32(UNCHAINED_TESTNET_HASH)).unwrap();
        assert_eq!(chain.scheme, Scheme::PedersenUnchained);
    }

    #[test]
    fn the_hash_field_is_never_believed() {
        // Another key under quicknet's claimed hash: refused, whatever the
        // `hash` field says.
        let forged = QUICKNET_INFO.replace("83cf0f28", "93cf0f28");
        let info: InfoJson = serde_json::from_str(&forged).unwrap();
        let err = Chain::authenticate(&info, &hash32(QUICKNET_HASH)).unwrap_err();
        assert!(err.contains("not the configured chain hash"), "{err}");
        // The right information against another configured hash: refused.
        let info: InfoJson = serde_json::from_str(QUICKNET_INFO).unwrap();
        assert!(Chain::authenticate(&info, &hash32(UNCHAINED_TESTNET_HASH)).is_err());
    }

    #[test]
    fn v2_field_names_read_the_same() {
        let v2 = r#"{"public_key":"83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a","period":3,"genesis_time":1692803367,"genesis_seed":"f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e","chain_hash":"52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971","scheme":"bls-unchained-g1-rfc9380","beacon_id":"quicknet"}"#;
        let info: InfoJson = serde_json::from_str(v2).unwrap();
        assert_eq!(
            Chain::authenticate(&info, &hash32(QUICKNET_HASH)).unwrap(),
            quicknet()
        );
    }

    #[test]
    fn round_times_start_at_genesis() {
        let chain = quicknet();
        // Published times of quicknet rounds 1, 42 and 1000.
        assert_eq!(chain.time_of(1), 1692803367);
        assert_eq!(chain.time_of(42), 1692803490);
        assert_eq!(chain.time_of(1000), 1692806364);
        // A draw that starts at a round's time uses the next one; a draw
        // a second later too; the first after is always later.
        assert_eq!(chain.first_round_after(1692806364), 1001);
        assert_eq!(chain.first_round_after(1692806365), 1001);
        assert_eq!(chain.first_round_after(1692806366), 1001);
        assert_eq!(chain.first_round_after(1692806367), 1002);
        for t in 1692806000..1692806400 {
            let round = chain.first_round_after(t);
            assert!(chain.time_of(round) > t);
            assert!(chain.time_of(round - 1) <= t);
        }
        assert_eq!(chain.first_round_after(0), 1);
    }
}
