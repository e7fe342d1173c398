//! Limits shared by every instance: one Redis key per (kind, key) holding
//! GCRA's theoretical arrival time, updated by one Lua script so a check
//! is one atomic round trip. The clock is Redis's own (`TIME`), so the
//! instances' clocks never disagree about a cell.
//!
//! A round trip on every request halved the hot-join rate (a Redis call
//! per join on a box where Redis shares the cores), while nearly every
//! key sends a request or two. So each instance lets a key's first
//! `UNSYNCED_MAX` requests of a window through on its own and tells Redis
//! about them with the next one, which is checked there; a key Redis
//! refused is refused here without asking until its wait is over, and a
//! key Redis finds near its limit is asked about sooner. The price: a key
//! spread over several instances can exceed its shared limit by at most
//! `UNSYNCED_MAX` requests per instance per window (docs/OPERATIONS.md).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use bb8_redis::redis::Script;

use super::{Key, LimitKind, LimitSpec};
use crate::cache::redis_pool::{self, RedisPool, RedisTarget};

/// A limit check is on every request's path: Redis slower than this counts
/// as down.
const COMMAND_DEADLINE: Duration = Duration::from_millis(250);
const WARN_EVERY_SECS: u64 = 10;

/// Requests of one key an instance lets through per window before it asks
/// Redis.
pub const UNSYNCED_MAX: u32 = 3;
const SHARDS: usize = 16;

/// KEYS[1]: the cell. ARGV[1]: the emission interval, ARGV[2]: the burst
/// times the interval, both in microseconds; ARGV[3]: requests this
/// instance already let through (counted whatever the verdict). Returns
/// {0, requests that still fit after this one} (allowed, cell advanced) or
/// {microseconds to wait, 0}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local prior = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
tat = tat + prior * interval
local new_tat = tat + interval
local wait = new_tat - tolerance - now
if wait > 0 then
  if prior > 0 then
    redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {math.ceil(wait), 0}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {0, math.floor((tolerance - (new_tat - now)) / interval)}
";

/// What this instance knows of a key Redis has not heard about.
struct Local {
    /// Requests let through since the last check in Redis.
    unsynced: u32,
    /// How many may be: `UNSYNCED_MAX`, or fewer when Redis said the key
    /// is near its limit.
    allowance: u32,
    /// When the current window began.
    since: Instant,
    /// Redis refused the key: refused here until then.
    blocked_until: Option<Instant>,
}

enum Verdict {
    Allow,
    Refuse(Duration),
    /// Ask Redis, counting `prior` requests let through meanwhile.
    Ask {
        prior: u32,
    },
}

/// One lock's share of the keys, and how many new keys it has seen (every
/// `SWEEP_EVERY`-th new key has the next call sweep it).
#[derive(Default)]
struct Shard {
    cells: HashMap<String, Local>,
    new_keys: u64,
    /// The last new key was a `SWEEP_EVERY`-th: the next call sweeps.
    sweep_due: bool,
}

/// A shard drops the keys past their window every this many new keys: a
/// key past its window and not refused is as good as absent (its next
/// request starts a new window), and a million distinct users joining
/// within a minute would otherwise stay until the minute's sweep
/// (issue 26: memory at a million participants). What stays is about the
/// keys of the last window.
const SWEEP_EVERY: u64 = 1024;

pub struct SharedCells {
    pool: RedisPool,
    prefix: String,
    script: Script,
    last_warning: AtomicU64,
    local: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

impl SharedCells {
    pub fn new(url: &RedisTarget, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            pool: redis_pool::lazy_pool(url, 16, Duration::from_millis(250))?,
            prefix: prefix.to_string(),
            script: Script::new(GCRA),
            last_warning: AtomicU64::new(0),
            local: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        })
    }

    /// The Redis pool's size and state, for `/metrics`.
    pub fn pool_state(&self) -> (u32, bb8::State) {
        (self.pool.config().max_size, self.pool.state())
    }

    fn shard(&self, cell: &str) -> &Mutex<Shard> {
        &self.local[self.hasher.hash_one(cell) as usize % SHARDS]
    }

    /// The local decision: let through, refuse, or ask Redis.
    fn decide_locally(&self, cell: &str, window: Duration) -> Verdict {
        let now = Instant::now();
        let mut guard = self.shard(cell).lock();
        let shard = &mut *guard;
        if shard.sweep_due {
            shard.sweep_due = false;
            shard.cells.retain(|_, local| {
                local.blocked_until.is_some_and(|until| until > now)
                    || now.duration_since(local.since) <= window
            });
        }
        // One lookup per request (this is every request's path): a new key
        // is counted as it is inserted, and every `SWEEP_EVERY`-th one
        // makes the next call sweep.
        let (new_keys, sweep_due) = (&mut shard.new_keys, &mut shard.sweep_due);
        let local = shard.cells.entry(cell.to_string()).or_insert_with(|| {
            *new_keys += 1;
            *sweep_due = new_keys.is_multiple_of(SWEEP_EVERY);
            Local {
                unsynced: 0,
                allowance: UNSYNCED_MAX,
                since: now,
                blocked_until: None,
            }
        });
        if let Some(until) = local.blocked_until {
            if until > now {
                return Verdict::Refuse(until - now);
            }
            local.blocked_until = None;
        }
        if now.duration_since(local.since) > window {
            // What went unreported was at most UNSYNCED_MAX - 1 requests
            // a window ago: forgotten, as the bound says.
            local.unsynced = 0;
            local.allowance = UNSYNCED_MAX;
            local.since = now;
        }
        if local.unsynced < local.allowance {
            local.unsynced += 1;
            return Verdict::Allow;
        }
        let prior = local.unsynced;
        local.unsynced = 0;
        local.since = now;
        Verdict::Ask { prior }
    }

    /// Redis's verdict: a refusal holds until its wait is over; an
    /// allowance near the limit makes this instance ask sooner.
    fn remember(&self, cell: &str, wait: Duration, headroom: u64) {
        if let Some(local) = self.shard(cell).lock().cells.get_mut(cell) {
            if wait.is_zero() {
                local.allowance = headroom.min(u64::from(UNSYNCED_MAX)) as u32;
            } else {
                local.blocked_until = Some(Instant::now() + wait);
            }
        }
    }

    /// Drops keys that have been quiet for a minute and are not refused.
    pub fn forget_quiet_keys(&self) {
        let now = Instant::now();
        for shard in &self.local {
            shard.lock().cells.retain(|_, local| {
                local.blocked_until.is_some_and(|until| until > now)
                    || now.duration_since(local.since) < Duration::from_secs(60)
            });
        }
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
        let window = spec.interval() * spec.burst;
        let prior = match self.decide_locally(&cell, window) {
            Verdict::Allow => return Ok(()),
            Verdict::Refuse(wait) => return Err(wait),
            Verdict::Ask { prior } => prior,
        };
        let interval = spec.interval().as_micros() as u64;
        let tolerance = interval * u64::from(spec.burst);
        let script = &self.script;
        let key = cell.clone();
        let answer = redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
            script
                .key(key)
                .arg(interval)
                .arg(tolerance)
                .arg(prior)
                .invoke_async::<(u64, u64)>(&mut c)
                .await
        })
        .await;
        match answer {
            Ok((wait, headroom)) => {
                let wait = Duration::from_micros(wait);
                self.remember(&cell, wait, headroom);
                if wait.is_zero() {
                    Ok(())
                } else {
                    Err(wait)
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of distinct keys leaves about a window's worth behind, not
    /// every key until the minute's sweep; a refused key stays refused.
    #[tokio::test]
    async fn keys_past_their_window_are_swept_as_new_ones_come() {
        let target = RedisTarget::new("redis://127.0.0.1:1/", None);
        let cells = SharedCells::new(&target, "t:").unwrap();
        let window = Duration::from_millis(20);
        cells.decide_locally("blocked", window);
        cells.remember("blocked", Duration::from_secs(60), 0);
        for i in 0..40_000 {
            assert!(matches!(
                cells.decide_locally(&format!("k{i}"), window),
                Verdict::Allow
            ));
            if i % 5_000 == 0 {
                std::thread::sleep(window * 2);
            }
        }
        let kept: usize = cells.local.iter().map(|s| s.lock().cells.len()).sum();
        assert!(kept < 10_000 + SHARDS * SWEEP_EVERY as usize, "{kept} kept");
        assert!(matches!(
            cells.decide_locally("blocked", window),
            Verdict::Refuse(_)
        ));
    }
}
