//! A local stand-in for a drand HTTP relay, with a key pair made here, so
//! beacon draws are tested without the internet. It serves what drand's
//! HTTP API serves (docs: drand.love "HTTP API reference"; drand/drand
//! `common/chain/info.go` and `crypto/schemes.go`, read for this):
//! - `GET /{chain hash}/info`: `public_key`, `period`, `genesis_time`,
//!   `hash`, `groupHash`, `schemeID`, `metadata.beaconID`; the chain hash is
//!   sha256(period u32 BE ‖ genesis i64 BE ‖ public key ‖ group hash ‖
//!   beacon id), computed here as drand does;
//! - `GET /{chain hash}/public/{round}`: `{"round", "randomness",
//!   "signature"}` for a round whose time (genesis + (round − 1) × period)
//!   has come, 404 before (a relay has no future round).
//!
//! The scheme is quicknet's, `bls-unchained-g1-rfc9380`: the key on G2 (96
//! bytes compressed), a round's signature on G1 (48 bytes), over the
//! message sha256(round as u64 BE), hashed to G1 by RFC 9380 with the DST
//! `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`; randomness =
//! sha256(signature).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bls12_381::hash_to_curve::{ExpandMsgXmd, HashToCurve};
use bls12_381::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DST_G1: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// How the stand-in answers rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As a relay does.
    Serving,
    /// 503 for every round (an outage).
    Down,
    /// Rounds signed with a key other than the chain's.
    WrongKey,
}

struct State {
    mode: Mode,
    /// Requests per round asked for.
    asked: HashMap<u64, u32>,
}

pub struct StandIn {
    server: MockServer,
    state: Arc<Mutex<State>>,
    pub chain_hash: String,
    pub info: serde_json::Value,
    pub genesis: i64,
    key: Scalar,
}

fn random_scalar() -> Scalar {
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

struct Relay {
    state: Arc<Mutex<State>>,
    chain_hash: String,
    info: serde_json::Value,
    key: Scalar,
    other_key: Scalar,
    genesis: i64,
    period: u32,
}

impl Respond for Relay {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().trim_start_matches('/').to_string();
        let Some(rest) = path.strip_prefix(&format!("{}/", self.chain_hash)) else {
            return ResponseTemplate::new(404);
        };
        if rest == "info" {
            return ResponseTemplate::new(200).set_body_json(&self.info);
        }
        let Some(round) = rest
            .strip_prefix("public/")
            .and_then(|r| r.parse::<u64>().ok())
        else {
            return ResponseTemplate::new(404);
        };
        let mode = {
            let mut state = self.state.lock().unwrap();
            *state.asked.entry(round).or_default() += 1;
            state.mode
        };
        if mode == Mode::Down {
            return ResponseTemplate::new(503);
        }
        let due = self.genesis + (round as i64 - 1) * i64::from(self.period);
        if round == 0 || due > chrono::Utc::now().timestamp() {
            return ResponseTemplate::new(404);
        }
        let key = if mode == Mode::WrongKey {
            &self.other_key
        } else {
            &self.key
        };
        let signature = sign(key, round);
        ResponseTemplate::new(200).set_body_json(json!({
            "round": round,
            "randomness": hex::encode(Sha256::digest(&signature)),
            "signature": hex::encode(&signature),
        }))
    }
}

impl StandIn {
    /// A chain with a fresh key, rounds every `period` seconds since a
    /// minute ago.
    pub async fn start(period: u32) -> Self {
        let key = random_scalar();
        let public_key = G2Affine::from(G2Projective::generator() * key).to_compressed();
        let mut group_hash = [0u8; 32];
        rand::rng().fill_bytes(&mut group_hash);
        let genesis = chrono::Utc::now().timestamp() - 60;
        let hash = lottery::beacon::chain::chain_hash(
            period,
            genesis,
            &public_key,
            &group_hash,
            "standin",
        );
        let chain_hash = hex::encode(hash);
        let info = json!({
            "public_key": hex::encode(public_key),
            "period": period,
            "genesis_time": genesis,
            "hash": chain_hash,
            "groupHash": hex::encode(group_hash),
            "schemeID": "bls-unchained-g1-rfc9380",
            "metadata": {"beaconID": "standin"},
        });
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Serving,
            asked: HashMap::new(),
        }));
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(Relay {
                state: state.clone(),
                chain_hash: chain_hash.clone(),
                info: info.clone(),
                key,
                other_key: random_scalar(),
                genesis,
                period,
            })
            .mount(&server)
            .await;
        Self {
            server,
            state,
            chain_hash,
            info,
            genesis,
            key,
        }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// The server settings that draw with this beacon.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LOTTERY_BEACON_URL", self.url()),
            ("LOTTERY_BEACON_CHAIN_HASH", self.chain_hash.clone()),
        ]
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Requests for `round` so far.
    pub fn asked(&self, round: u64) -> u32 {
        self.state
            .lock()
            .unwrap()
            .asked
            .get(&round)
            .copied()
            .unwrap_or(0)
    }

    /// The chain as the server authenticates it.
    pub fn chain(&self) -> lottery::beacon::chain::Chain {
        let info = serde_json::from_value(self.info.clone()).unwrap();
        let hash: [u8; 32] = hex::decode(&self.chain_hash).unwrap().try_into().unwrap();
        lottery::beacon::chain::Chain::authenticate(&info, &hash).unwrap()
    }

    /// Round `round`'s signature, as the chain signs it.
    pub fn signature(&self, round: u64) -> Vec<u8> {
        sign(&self.key, round)
    }
}
