//! The beacon as draws use it: the chain read once at start and believed
//! only when its fields hash to the configured chain hash, and rounds
//! fetched when due: the draws waiting on one round share its requests
//! (one at a time; a failure is shared for `FAILURE_HOLD`), and once
//! verified it is kept (10,000 events due in one second made one request
//! per round in load-tests/beacon-storm.sh).
//!
//! drand's HTTP API (v1 paths, which every relay serves):
//! `GET {url}/{chain hash}/info` and `GET {url}/{chain hash}/public/{round}`
//! answering `{"round": n, "randomness": hex, "signature": hex}`. A round
//! that is not out yet is not an error a draw gives up on: it is waited for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::chain::{hash32, Chain, InfoJson, QUICKNET_HASH, QUICKNET_INFO};
use super::round;

/// One request to the beacon.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed request for a round, the draws waiting on it hear that
/// failure for this long instead of each asking again.
const FAILURE_HOLD: Duration = Duration::from_millis(500);
/// How often a draw asks again for a round the relay does not have yet.
const NOT_YET_PAUSE: Duration = Duration::from_millis(300);
/// Verified rounds kept (a draw needs its round once; a burst of draws
/// due together shares a handful).
const KEPT_ROUNDS: usize = 256;

/// A round whose signature verified under the chain's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub round: u64,
    pub signature: Vec<u8>,
    /// SHA-256 of the signature.
    pub randomness: [u8; 32],
}

/// Why a round is not available: each is retried by the draw waiting on
/// it, which never goes on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeaconError {
    /// The relay does not have the round yet.
    NotYet,
    /// No answer (connection refused, timeout).
    Unreachable(String),
    /// An HTTP status other than 200 (or a late round's 404).
    Http(u16),
    /// An answer that is not a round of this chain.
    BadAnswer(String),
    /// A signature that does not verify with the chain's key: someone
    /// other than the chain signed it.
    BadSignature(String),
}

impl BeaconError {
    fn label(&self) -> &'static str {
        match self {
            Self::NotYet => "not_yet",
            Self::Unreachable(_) => "unreachable",
            Self::Http(_) => "http_error",
            Self::BadAnswer(_) => "bad_answer",
            Self::BadSignature(_) => "bad_signature",
        }
    }
}

impl std::fmt::Display for BeaconError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotYet => write!(f, "the beacon has not published the round yet"),
            Self::Unreachable(why) => write!(f, "the beacon does not answer: {why}"),
            Self::Http(status) => write!(f, "the beacon answered HTTP {status}"),
            Self::BadAnswer(why) => write!(f, "the beacon's answer is not a round: {why}"),
            Self::BadSignature(why) => write!(f, "the beacon's round is refused: {why}"),
        }
    }
}

#[derive(Deserialize)]
struct RoundJson {
    round: u64,
    signature: String,
    #[serde(default)]
    randomness: Option<String>,
}

#[derive(Default)]
struct Slot {
    verified: OnceCell<Verified>,
    /// The last failed request and when: waiters within `FAILURE_HOLD` of
    /// it share it.
    failed: Mutex<Option<(Instant, BeaconError)>>,
}

pub struct Beacon {
    /// `{url}/{chain hash}`.
    base: String,
    chain: Chain,
    http: reqwest::Client,
    rounds: Mutex<BTreeMap<u64, Arc<Slot>>>,
}

impl Beacon {
    /// Reads the chain's `/info` from `url` and keeps it when its fields
    /// hash to `chain_hash` (hex).
    pub async fn connect(url: &str, chain_hash: &str) -> Result<Self, String> {
        let expected =
            hash32(chain_hash.trim()).ok_or("LOTTERY_BEACON_CHAIN_HASH must be 64 hex digits")?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .user_agent(concat!("lottery/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the beacon's HTTP client: {e}"))?;
        let base = format!("{}/{}", url.trim_end_matches('/'), hex::encode(expected));
        let info_url = format!("{base}/info");
        let fetched: Result<InfoJson, String> = async {
            let answer = http.get(&info_url).send().await?.error_for_status()?;
            answer.json().await
        }
        .await
        .map_err(|e| format!("the beacon's chain information ({info_url}): {e}"));
        let info = match fetched {
            Ok(info) => info,
            // Quicknet's information never changes and is checked against
            // the hash like any other: a relay down at start does not stop
            // the server (draws wait for it instead).
            Err(err) if hex::encode(expected) == QUICKNET_HASH => {
                tracing::warn!(error = %err, "beacon relay not reachable at start; using quicknet's known chain information");
                serde_json::from_str(QUICKNET_INFO).map_err(|e| e.to_string())?
            }
            Err(err) => return Err(err),
        };
        let chain = Chain::authenticate(&info, &expected)?;
        Ok(Self {
            base,
            chain,
            http,
            rounds: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The chain hash, hex: what a beacon event records.
    pub fn chain_hex(&self) -> String {
        hex::encode(self.chain.hash)
    }

    /// Round `round`, once its time has come: waits for the time, then
    /// asks (again while the relay does not have it yet, up to two periods
    /// past its time). Any other failure is returned for the draw to
    /// retry later.
    pub async fn when_published(&self, round: u64) -> Result<Verified, BeaconError> {
        let due = self.chain.time_of(round);
        let wait_ms = due * 1000 - Utc::now().timestamp_millis();
        if wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(wait_ms as u64)).await;
        }
        let patience = Instant::now() + Duration::from_secs(2 * u64::from(self.chain.period) + 5);
        loop {
            match self.round(round).await {
                Err(BeaconError::NotYet) if Instant::now() < patience => {
                    tokio::time::sleep(NOT_YET_PAUSE).await;
                }
                Err(BeaconError::NotYet) => {
                    return Err(BeaconError::Unreachable(format!(
                        "round {round} was due at {due} and is still not published"
                    )))
                }
                other => return other,
            }
        }
    }

    /// Round `round`, verified: from memory when a draw already had it,
    /// else one request however many ask at once.
    pub async fn round(&self, round: u64) -> Result<Verified, BeaconError> {
        let slot = {
            let mut rounds = self.rounds.lock();
            let slot = rounds.entry(round).or_default().clone();
            while rounds.len() > KEPT_ROUNDS {
                rounds.pop_first();
            }
            slot
        };
        if let Some(verified) = slot.verified.get() {
            return Ok(verified.clone());
        }
        slot.verified
            .get_or_try_init(|| async {
                if let Some((at, err)) = slot.failed.lock().clone() {
                    if at.elapsed() < FAILURE_HOLD {
                        return Err(err);
                    }
                }
                let result = self.fetch(round).await;
                if let Err(err) = &result {
                    *slot.failed.lock() = Some((Instant::now(), err.clone()));
                }
                result
            })
            .await
            .cloned()
    }

    async fn fetch(&self, round: u64) -> Result<Verified, BeaconError> {
        let started = Instant::now();
        let result = self.fetch_once(round).await;
        let label = match &result {
            Ok(_) => "ok",
            Err(err) => err.label(),
        };
        metrics::counter!("lottery_beacon_requests_total", "result" => label).increment(1);
        metrics::histogram!("lottery_beacon_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(err @ BeaconError::BadSignature(_)) = &result {
            tracing::error!(round, error = %err, "beacon round refused");
        }
        result
    }

    async fn fetch_once(&self, round: u64) -> Result<Verified, BeaconError> {
        let url = format!("{}/public/{round}", self.base);
        let answer = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| BeaconError::Unreachable(e.without_url().to_string()))?;
        let status = answer.status().as_u16();
        if status != 200 {
            // A relay answers a round it does not have yet 404 (drand's
            // own) or 425 (Too Early): only near the round's time is that
            // "not yet"; long after it, something is wrong.
            let late = Utc::now().timestamp()
                - self.chain.time_of(round)
                - 2 * i64::from(self.chain.period);
            return Err(if matches!(status, 404 | 425) && late < 0 {
                BeaconError::NotYet
            } else {
                BeaconError::Http(status)
            });
        }
        let body: RoundJson = answer
            .json()
            .await
            .map_err(|e| BeaconError::BadAnswer(e.without_url().to_string()))?;
        if body.round != round {
            return Err(BeaconError::BadAnswer(format!(
                "asked for round {round}, got round {}",
                body.round
            )));
        }
        let signature = hex::decode(&body.signature)
            .map_err(|_| BeaconError::BadAnswer("the signature is not hex".into()))?;
        let randomness =
            round::verify(self.chain.scheme, &self.chain.public_key, round, &signature)
                .map_err(BeaconError::BadSignature)?;
        if let Some(claimed) = body.randomness.as_deref() {
            // Never used (it is derived), but a relay that disagrees with
            // the derivation is worth a line in the log.
            if !claimed.eq_ignore_ascii_case(&hex::encode(randomness)) {
                tracing::warn!(round, "the beacon's randomness field is not SHA-256 of its signature; the derived value is used");
            }
        }
        Ok(Verified {
            round,
            signature,
            randomness,
        })
    }
}
