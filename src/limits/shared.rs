//! Limits shared by every instance: one Redis key per (kind, key) holding
//! GCRA's theoretical arrival time, updated by one Lua script so a check
//! is one atomic round trip. The clock is Redis's own (`TIME`), so the
//! instances' clocks never disagree about a cell.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bb8_redis::redis::Script;

use super::{Key, LimitKind, LimitSpec};
use crate::cache::redis_pool::{self, RedisPool};

/// A limit check is on every request's path: Redis slower than this counts
/// as down.
const COMMAND_DEADLINE: Duration = Duration::from_millis(250);
const WARN_EVERY_SECS: u64 = 10;

/// KEYS[1]: the cell. ARGV[1]: the emission interval, ARGV[2]: the burst
/// times the interval, both in microseconds. Returns 0 (allowed, cell
/// advanced) or the microseconds to wait (cell untouched).
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

pub struct SharedCells {
    pool: RedisPool,
    prefix: String,
    script: Script,
    last_warning: AtomicU64,
}

impl SharedCells {
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            pool: redis_pool::lazy_pool(url, 16, Duration::from_millis(250))?,
            prefix: prefix.to_string(),
            script: Script::new(GCRA),
            last_warning: AtomicU64::new(0),
        })
    }

    /// Ok, or how long until the key may send again. Redis down or slow
    /// lets the request through (limits protect the service; refusing
    /// everyone because the limiter is unreachable would be the outage
    /// they exist to prevent) and is counted and logged.
    pub async fn check(
        &self,
        kind: LimitKind,
        key: &Key,
        spec: &LimitSpec,
    ) -> Result<(), Duration> {
        let cell = format!("{}limit:{}:{key}", self.prefix, kind.label());
        let interval = spec.interval().as_micros() as u64;
        let tolerance = interval * u64::from(spec.burst);
        let script = &self.script;
        let answer = redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
            script
                .key(cell)
                .arg(interval)
                .arg(tolerance)
                .invoke_async::<u64>(&mut c)
                .await
        })
        .await;
        match answer {
            Ok(0) => Ok(()),
            Ok(wait) => Err(Duration::from_micros(wait)),
            Err(detail) => {
                metrics::counter!("lottery_rate_limit_errors_total").increment(1);
                self.warn_now_and_then(&detail);
                Ok(())
            }
        }
    }

    fn warn_now_and_then(&self, detail: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_warning.load(Ordering::Relaxed);
        if now >= last + WARN_EVERY_SECS
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(%detail, "rate limits unchecked: Redis does not answer");
        }
    }
}
