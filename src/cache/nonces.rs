//! Nonces of signed requests seen within the replay window: in Redis for
//! every instance when configured, else in the process. A nonce is
//! remembered for twice the allowed clock skew, the longest a request
//! carrying it can stay acceptable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::redis_pool::{self, RedisPool, RedisTarget};
use crate::error::{AppError, AppResult};

const COMMAND_DEADLINE: Duration = Duration::from_millis(500);
/// In-process: expired nonces are swept when this many are held.
const SWEEP_AT: usize = 100_000;

pub enum Nonces {
    InProcess(Mutex<HashMap<String, Instant>>),
    Redis { pool: RedisPool, prefix: String },
}

impl Nonces {
    pub fn new(redis: Option<(&RedisTarget, &str)>) -> Result<Self, String> {
        Ok(match redis {
            Some((url, prefix)) => Self::Redis {
                pool: redis_pool::lazy_pool(url, 8, Duration::from_millis(500))?,
                prefix: prefix.to_string(),
            },
            None => Self::InProcess(Mutex::default()),
        })
    }

    /// True the first time `nonce` is offered within `window`; false for a
    /// replay. Redis unreachable is a 503: without it a replay cannot be
    /// told from a first use.
    pub async fn first_use(&self, nonce: &str, window: Duration) -> AppResult<bool> {
        match self {
            Self::InProcess(seen) => {
                let mut seen = seen.lock();
                let now = Instant::now();
                if seen.len() >= SWEEP_AT {
                    seen.retain(|_, until| *until > now);
                }
                match seen.get(nonce) {
                    Some(until) if *until > now => Ok(false),
                    _ => {
                        seen.insert(nonce.to_string(), now + window);
                        Ok(true)
                    }
                }
            }
            Self::Redis { pool, prefix } => {
                let key = format!("{prefix}nonce:{nonce}");
                let secs = window.as_secs().max(1);
                let stored: Option<String> =
                    redis_pool::run(pool, COMMAND_DEADLINE, |mut c| async move {
                        bb8_redis::redis::cmd("SET")
                            .arg(key)
                            .arg(1)
                            .arg("NX")
                            .arg("EX")
                            .arg(secs)
                            .query_async(&mut c)
                            .await
                    })
                    .await
                    .map_err(|detail| {
                        tracing::warn!(%detail, "nonce store unreachable");
                        AppError::Unavailable(
                            "the signature check is unavailable; try again".into(),
                        )
                    })?;
                Ok(stored.is_some())
            }
        }
    }
}
