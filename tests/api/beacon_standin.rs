//! A local stand-in for a drand HTTP relay over a chain made in the test
//! (tests/support/drand_chain.rs says what drand does that it follows), so
//! beacon draws are tested without the internet:
//! - `GET /{chain hash}/info`: the chain's information;
//! - `GET /{chain hash}/public/{round}`: `{"round", "randomness",
//!   "signature"}` once the round's time has come, 404 before (a relay has
//!   no future round); 503 while `Down`; signed with another key in
//!   `WrongKey`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bls12_381::Scalar;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::drand_chain::{random_key, round_json, sign, MadeChain};

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
    made: Arc<MadeChain>,
}

struct Relay {
    state: Arc<Mutex<State>>,
    chain: Arc<MadeChain>,
    other_key: Scalar,
}

impl Respond for Relay {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().trim_start_matches('/').to_string();
        let Some(rest) = path.strip_prefix(&format!("{}/", self.chain.hash)) else {
            return ResponseTemplate::new(404);
        };
        if rest == "info" {
            return ResponseTemplate::new(200).set_body_json(&self.chain.info);
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
        if !self.chain.published(round, chrono::Utc::now().timestamp()) {
            return ResponseTemplate::new(404);
        }
        let key = if mode == Mode::WrongKey {
            &self.other_key
        } else {
            &self.chain.key
        };
        ResponseTemplate::new(200).set_body_json(round_json(&sign(key, round), round))
    }
}

impl StandIn {
    /// A chain with a fresh key, rounds every `period` seconds since a
    /// minute ago.
    pub async fn start(period: u32) -> Self {
        let chain = Arc::new(MadeChain::new(period, chrono::Utc::now().timestamp() - 60));
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Serving,
            asked: HashMap::new(),
        }));
        // A server of its own, not one from wiremock's pool: an app from a
        // test that ended may still be asking its old beacon's address.
        let server = MockServer::builder().start().await;
        Mock::given(method("GET"))
            .and(path_regex(format!("^/{}/", chain.hash)))
            .respond_with(Relay {
                state: state.clone(),
                chain: chain.clone(),
                other_key: random_key(),
            })
            .mount(&server)
            .await;
        Self {
            server,
            state,
            chain_hash: chain.hash.clone(),
            info: chain.info.clone(),
            made: chain,
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
        let hash = lottery::beacon::chain::hash32(&self.chain_hash).unwrap();
        lottery::beacon::chain::Chain::authenticate(&info, &hash).unwrap()
    }

    /// Round `round`'s signature, as the chain signs it.
    pub fn signature(&self, round: u64) -> Vec<u8> {
        sign(&self.made.key, round)
    }
}
