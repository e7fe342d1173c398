//! The cap on subscribe messages per second. With Redis it holds for every
//! instance together (one counter per tenth of a second, taken in one Lua
//! script); without it, or while Redis is unreachable, each process keeps
//! its own. Tenths, not whole seconds: a second's allowance granted at its
//! end and the next one's at its start would make a burst of twice the
//! rate; each tenth gets its share of the second (shares that add up to
//! the rate exactly), so sends stay spread.

use std::time::Duration;

use bb8_redis::redis;
use parking_lot::Mutex;

use super::redis_pool::{self, RedisPool, RedisTarget};

const COMMAND_DEADLINE: Duration = Duration::from_millis(1000);

/// Grants up to ARGV[1] of the slice's ARGV[2] sends.
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
    /// (slice, sends granted in it) of this process.
    local: Mutex<(i64, u32)>,
}

impl SendRate {
    pub fn new(per_second: u32, redis: Option<(&RedisTarget, &str)>) -> Result<Self, String> {
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
            let now_ms = chrono::Utc::now().timestamp_millis();
            let slice = now_ms / SLICE_MS;
            let quota = share(self.per_second, slice);
            let granted = match &self.shared {
                Some((pool, prefix)) if quota > 0 => {
                    let key = format!("{prefix}{slice}");
                    let shared = redis_pool::run(pool, COMMAND_DEADLINE, |mut c| async move {
                        redis::cmd("EVAL")
                            .arg(TAKE)
                            .arg(1)
                            .arg(key)
                            .arg(wanted)
                            .arg(quota)
                            .query_async::<u32>(&mut c)
                            .await
                    })
                    .await;
                    match shared {
                        Ok(granted) => granted,
                        Err(err) => {
                            tracing::warn!(error = %err, "shared send rate unavailable; capping this instance alone");
                            self.take_local(slice, quota, wanted)
                        }
                    }
                }
                _ => self.take_local(slice, quota, wanted),
            };
            if granted > 0 {
                return granted;
            }
            let next = (slice + 1) * SLICE_MS;
            tokio::time::sleep(Duration::from_millis(
                (next - now_ms).clamp(1, SLICE_MS) as u64
            ))
            .await;
        }
    }

    fn take_local(&self, slice: i64, quota: u32, wanted: u32) -> u32 {
        let mut window = self.local.lock();
        if window.0 != slice {
            *window = (slice, 0);
        }
        let grant = wanted.min(quota.saturating_sub(window.1));
        window.1 += grant;
        grant
    }
}

const SLICE_MS: i64 = 100;

/// Slice `slice`'s share of a second's `per_second` sends: the ten shares
/// of any second add up to `per_second` exactly.
fn share(per_second: u32, slice: i64) -> u32 {
    let r = i64::from(per_second);
    let k = slice.rem_euclid(10);
    ((k + 1) * r / 10 - k * r / 10) as u32
}

#[cfg(test)]
mod tests {
    use super::SendRate;

    #[test]
    fn a_slice_grants_at_most_its_share() {
        let rate = SendRate::new(50, None).unwrap();
        assert_eq!(rate.take_local(7, 5, 3), 3);
        assert_eq!(rate.take_local(7, 5, 3), 2);
        assert_eq!(rate.take_local(7, 5, 3), 0);
        assert_eq!(rate.take_local(8, 5, 3), 3);
    }

    #[test]
    fn the_shares_of_a_second_add_up_to_the_rate() {
        for rate in [1, 3, 7, 10, 25, 199, 200, 2001] {
            for second in [0i64, 5, 123_456] {
                let total: u32 = (0..10).map(|k| super::share(rate, second * 10 + k)).sum();
                assert_eq!(total, rate, "rate {rate}");
            }
        }
    }
}
