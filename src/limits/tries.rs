//! Wrong join passwords, counted per user and event, so that one user
//! cannot guess a short password (`join_rules::PASSWORD_TRIES`, then 429).
//! A try is taken before the join is decided and given back unless the
//! password was wrong, so racing requests of one user cannot together try
//! more than the limit. With Redis the count is shared by every instance
//! and survives the event's actor stopping; a Redis that fails counts in
//! this process meanwhile (a user then gets at most the limit per instance
//! more), logged and counted, never refusing a join for it. The count lasts
//! `KEEP` after the last wrong try.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bb8_redis::redis::Script;
use parking_lot::Mutex;

use crate::cache::redis_pool::{self, RedisPool};
use crate::domain::join_rules::PASSWORD_TRIES;
use crate::error::{AppError, AppResult};

/// How long a count is kept after its last wrong try.
pub const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
const COMMAND_DEADLINE: Duration = Duration::from_millis(500);

/// Takes a try: the count after it, and the milliseconds it is kept.
const TAKE: &str = r"
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {n, tonumber(ARGV[1])}";

const GIVE_BACK: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n";

pub struct PasswordTries {
    shared: Option<(RedisPool, String)>,
    /// (count, kept until) per (event, user), when Redis is not configured
    /// or did not answer.
    local: Mutex<HashMap<(i64, i64), (u32, Instant)>>,
}

impl PasswordTries {
    pub fn new(redis: Option<(&str, &str)>) -> Result<Self, String> {
        let shared = match redis {
            Some((url, prefix)) => Some((
                redis_pool::lazy_pool(url, 4, Duration::from_millis(250))?,
                format!("{prefix}join_tries:"),
            )),
            None => None,
        };
        Ok(Self {
            shared,
            local: Mutex::default(),
        })
    }

    /// Takes one try of `user` at `event`'s password; 42900 when the
    /// user has none left.
    pub async fn take(&self, event_id: i64, user_id: i64) -> AppResult<()> {
        let count = match self.shared_take(event_id, user_id).await {
            Some(count) => count,
            None => self.local_take(event_id, user_id),
        };
        if count > PASSWORD_TRIES {
            metrics::counter!("lottery_join_refusals_total", "rule" => "password_tries")
                .increment(1);
            return Err(AppError::RateLimited {
                message: format!(
                    "too many wrong passwords for this event: {PASSWORD_TRIES} tries are allowed"
                ),
                retry_after_secs: KEEP.as_secs(),
            });
        }
        Ok(())
    }

    /// Gives back a try whose password was not wrong.
    pub async fn give_back(&self, event_id: i64, user_id: i64) {
        if let Some((pool, prefix)) = &self.shared {
            let key = format!("{prefix}{event_id}:{user_id}");
            let done = redis_pool::run(pool, COMMAND_DEADLINE, |mut conn| async move {
                Script::new(GIVE_BACK)
                    .key(key)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
            if done.is_ok() {
                return;
            }
        }
        if let Some((count, _)) = self.local.lock().get_mut(&(event_id, user_id)) {
            *count = count.saturating_sub(1);
        }
    }

    async fn shared_take(&self, event_id: i64, user_id: i64) -> Option<u32> {
        let (pool, prefix) = self.shared.as_ref()?;
        let key = format!("{prefix}{event_id}:{user_id}");
        let answer = redis_pool::run(pool, COMMAND_DEADLINE, |mut conn| async move {
            Script::new(TAKE)
                .key(key)
                .arg(KEEP.as_millis() as u64)
                .invoke_async::<(u64, u64)>(&mut conn)
                .await
        })
        .await;
        match answer {
            Ok((count, _)) => Some(count.min(u64::from(u32::MAX)) as u32),
            Err(err) => {
                tracing::warn!(error = %err, "join tries not counted in Redis; counting here");
                metrics::counter!("lottery_rate_limit_errors_total").increment(1);
                None
            }
        }
    }

    fn local_take(&self, event_id: i64, user_id: i64) -> u32 {
        let now = Instant::now();
        let mut local = self.local.lock();
        // Old counts go when the map grows: it holds only recent guessers.
        if local.len() > 100_000 {
            local.retain(|_, (_, until)| *until > now);
        }
        let entry = local.entry((event_id, user_id)).or_insert((0, now));
        if entry.1 <= now {
            entry.0 = 0;
        }
        entry.0 += 1;
        entry.1 = now + KEEP;
        entry.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn tries_run_out_and_right_ones_are_given_back() {
        let tries = PasswordTries::new(None).unwrap();
        for _ in 0..PASSWORD_TRIES {
            tries.take(1, 7).await.unwrap();
        }
        let refused = tries.take(1, 7).await.unwrap_err();
        assert_eq!(refused.code(), 42900);
        // Another user, another event: their own counts.
        tries.take(1, 8).await.unwrap();
        tries.take(2, 7).await.unwrap();
        // A try given back (the password was right) costs nothing.
        for _ in 0..3 * PASSWORD_TRIES {
            tries.take(3, 7).await.unwrap();
            tries.give_back(3, 7).await;
        }
    }
}
