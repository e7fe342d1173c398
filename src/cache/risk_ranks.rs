//! Users' WeChat risk ranks, kept for `RiskSettings::keep` so a hot event
//! asks WeChat once per user, not once per join: in the process (what a
//! join reads first, without waiting on anything) and, with Redis, under
//! `{prefix}risk_rank:{user}` for every instance.

use std::time::{Duration, Instant};

use bb8_redis::redis::AsyncCommands;
use quick_cache::sync::Cache;

use super::redis_pool::{self, RedisPool, RedisTarget};

const COMMAND_DEADLINE: Duration = Duration::from_millis(500);

pub struct RiskRanks {
    local: Cache<i64, (u8, Instant)>,
    shared: Option<(RedisPool, String)>,
    keep: Duration,
}

impl RiskRanks {
    pub fn new(redis: Option<(&RedisTarget, &str)>, keep: Duration) -> Result<Self, String> {
        let shared = match redis {
            Some((url, prefix)) => Some((
                redis_pool::lazy_pool(url, 4, Duration::from_millis(250))?,
                format!("{prefix}risk_rank:"),
            )),
            None => None,
        };
        Ok(Self {
            local: Cache::new(1_000_000),
            shared,
            keep,
        })
    }

    /// The rank this process knows, if still fresh.
    pub fn known(&self, user_id: i64) -> Option<u8> {
        self.local
            .get(&user_id)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(rank, _)| rank)
    }

    /// The rank this process or Redis knows. A Redis that fails is
    /// treated as knowing nothing (WeChat is asked instead).
    pub async fn lookup(&self, user_id: i64) -> Option<u8> {
        if let Some(rank) = self.known(user_id) {
            return Some(rank);
        }
        let (pool, prefix) = self.shared.as_ref()?;
        let key = format!("{prefix}{user_id}");
        let stored = redis_pool::run(pool, COMMAND_DEADLINE, |mut conn| async move {
            let value: Option<u8> = conn.get(&key).await?;
            let ttl: i64 = conn.pttl(&key).await?;
            Ok((value, ttl))
        })
        .await;
        match stored {
            Ok((Some(rank), ttl)) if ttl > 0 => {
                let left = Duration::from_millis(ttl as u64).min(self.keep);
                self.local.insert(user_id, (rank, Instant::now() + left));
                Some(rank)
            }
            Ok(_) => None,
            Err(err) => {
                tracing::debug!(error = %err, "risk ranks in Redis unreadable");
                None
            }
        }
    }

    pub async fn remember(&self, user_id: i64, rank: u8) {
        self.local
            .insert(user_id, (rank, Instant::now() + self.keep));
        let Some((pool, prefix)) = &self.shared else {
            return;
        };
        let key = format!("{prefix}{user_id}");
        let secs = self.keep.as_secs().max(1);
        let stored = redis_pool::run(pool, COMMAND_DEADLINE, |mut conn| async move {
            conn.set_ex::<_, _, ()>(key, rank, secs).await
        })
        .await;
        if let Err(err) = stored {
            tracing::debug!(error = %err, "a risk rank not kept in Redis");
        }
    }
}
