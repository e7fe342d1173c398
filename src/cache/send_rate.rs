//! The cap on subscribe messages per second. With Redis it holds for every
//! instance together (one counter per second, taken in one Lua script);
//! without it, or while Redis is unreachable, each process keeps its own.

use std::time::Duration;

use bb8_redis::redis;
use parking_lot::Mutex;

use super::redis_pool::{self, RedisPool};

const COMMAND_DEADLINE: Duration = Duration::from_millis(1000);

/// Grants up to ARGV[1] of the second's ARGV[2] sends.
const TAKE: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIRE', KEYS[1], 2000)
return grant";

pub struct SendRate {
    per_second: u32,
    shared: Option<(RedisPool, String)>,
    /// (second, sends granted in it) of this process.
    local: Mutex<(i64, u32)>,
}

impl SendRate {
    pub fn new(per_second: u32, redis: Option<(&str, &str)>) -> Result<Self, String> {
        let shared = match redis {
            Some((url, prefix)) => Some((
                redis_pool::lazy_pool(url, 2, Duration::from_millis(800))?,
                format!("{prefix}notify:rate:"),
            )),
            None => None,
        };
        Ok(Self {
            per_second,
            shared,
            local: Mutex::new((0, 0)),
        })
    }

    /// Waits until at least one send is allowed; returns how many of
    /// `wanted` may go now (at least one).
    pub async fn take(&self, wanted: u32) -> u32 {
        loop {
            let now = chrono::Utc::now();
            let second = now.timestamp();
            let granted = match &self.shared {
                Some((pool, prefix)) => {
                    let key = format!("{prefix}{second}");
                    let per_second = self.per_second;
                    let shared = redis_pool::run(pool, COMMAND_DEADLINE, |mut c| async move {
                        redis::cmd("EVAL")
                            .arg(TAKE)
                            .arg(1)
                            .arg(key)
                            .arg(wanted)
                            .arg(per_second)
                            .query_async::<u32>(&mut c)
                            .await
                    })
                    .await;
                    match shared {
                        Ok(granted) => granted,
                        Err(err) => {
                            tracing::warn!(error = %err, "shared send rate unavailable; capping this instance alone");
                            self.take_local(second, wanted)
                        }
                    }
                }
                None => self.take_local(second, wanted),
            };
            if granted > 0 {
                return granted;
            }
            let into_second = now.timestamp_subsec_millis() as u64;
            tokio::time::sleep(Duration::from_millis(1000 - into_second.min(999))).await;
        }
    }

    fn take_local(&self, second: i64, wanted: u32) -> u32 {
        let mut window = self.local.lock();
        if window.0 != second {
            *window = (second, 0);
        }
        let grant = wanted.min(self.per_second - window.1);
        window.1 += grant;
        grant
    }
}

#[cfg(test)]
mod tests {
    use super::SendRate;

    #[tokio::test]
    async fn a_second_grants_at_most_the_rate() {
        let rate = SendRate::new(5, None).unwrap();
        let second = chrono::Utc::now().timestamp();
        assert_eq!(rate.take_local(second, 3), 3);
        assert_eq!(rate.take_local(second, 3), 2);
        assert_eq!(rate.take_local(second, 3), 0);
        assert_eq!(rate.take_local(second + 1, 3), 3);
    }
}
