//! How long this instance trusts a Redis session it has seen without asking
//! Redis again. While the logout subscription is up, logouts published by
//! any instance arrive here and remove their sessions, so a cached session
//! is trusted until it expires (capped at `SUBSCRIBED_TRUST`). While it is
//! down (or was down at some point since the entry was cached) an entry is
//! trusted only for `cache_ttl`. Losing the subscription forgets every
//! entry: a logout may have been missed while it was failing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::tokens::TokenHash;
use super::SWEEP_EVERY;

/// The longest a cached session is trusted while logouts are subscribed.
const SUBSCRIBED_TRUST: Duration = Duration::from_secs(600);

/// Sessions kept at most: a million participants would otherwise keep a
/// million entries (issue 26). Seven eighths of 2^20, so the table stays
/// at 2^20 slots of 41 bytes: about 43 MB when full. Past it, half the
/// entries (chosen by a bit of their hash: at random) are dropped; their
/// next use asks Redis, as a first use here does.
pub const MAX_ENTRIES: usize = 917_504;

/// The first half of a token's SHA-256: a key of 128 bits is as unlikely
/// to be met by another token as the whole hash (finding one is a
/// preimage search of 2^128), in half the room.
type Key = [u8; 16];

fn key_of(token_hash: &TokenHash) -> Key {
    let mut key = [0; 16];
    key.copy_from_slice(&token_hash[..16]);
    key
}

/// A cached session in 24 bytes (times are milliseconds since the cache
/// began): trusted until `long_until` while the subscription it was cached
/// under is still up, and until `long_until - short_gap` otherwise.
#[derive(Clone, Copy)]
struct Cached {
    user_id: i64,
    /// The session's expiry or `SUBSCRIBED_TRUST` after caching, whichever
    /// comes first.
    long_until: u64,
    /// How much earlier the trust ends without the subscription (its
    /// expiry or `cache_ttl` after caching, whichever comes first).
    short_gap: u32,
    /// The subscription epoch it was cached under; `NO_EPOCH`: none was up.
    epoch: u32,
}

const NO_EPOCH: u32 = u32::MAX;

pub struct LocalCache {
    cache_ttl: Duration,
    /// What the entries' times count from.
    began: Instant,
    entries: RwLock<HashMap<Key, Cached>>,
    max_entries: usize,
    inserts: AtomicU64,
    /// Halvings so far (which half goes next).
    evictions: AtomicU64,
    /// Bumped whenever the logout subscription is lost: entries trusted
    /// under an older subscription fall back to `cache_ttl`.
    epoch: AtomicU64,
    subscribed: AtomicBool,
    /// Logout messages handled so far: a lookup that saw one arrive while
    /// it read Redis does not trust its answer for long.
    logouts_seen: AtomicU64,
}

impl LocalCache {
    pub fn new(cache_ttl: Duration) -> Self {
        Self::with_max(cache_ttl, MAX_ENTRIES)
    }

    fn with_max(cache_ttl: Duration, max_entries: usize) -> Self {
        Self {
            cache_ttl,
            began: Instant::now(),
            entries: RwLock::default(),
            max_entries,
            inserts: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            logouts_seen: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.cache_ttl.is_zero()
    }

    fn now_ms(&self) -> u64 {
        self.began.elapsed().as_millis() as u64
    }

    fn current_epoch(&self) -> Option<u64> {
        self.subscribed
            .load(Ordering::Acquire)
            .then(|| self.epoch.load(Ordering::Acquire))
    }

    /// Whether a cached entry may still be trusted at `now` (ms).
    fn trusts(&self, entry: &Cached, now: u64) -> bool {
        let subscribed_throughout =
            entry.epoch != NO_EPOCH && self.current_epoch().map(|e| e as u32) == Some(entry.epoch);
        if subscribed_throughout {
            now < entry.long_until
        } else {
            now < entry.long_until - u64::from(entry.short_gap)
        }
    }

    /// The user of a trusted cached session.
    pub fn get(&self, token_hash: &TokenHash) -> Option<i64> {
        let now = self.now_ms();
        let entries = self.entries.read();
        let entry = entries.get(&key_of(token_hash))?;
        self.trusts(entry, now).then_some(entry.user_id)
    }

    /// A mark to take before reading a session from Redis, for `remember`.
    pub fn logouts_seen(&self) -> u64 {
        self.logouts_seen.load(Ordering::Acquire)
    }

    /// Caches a session read from (or written to) Redis. `seen_before` is
    /// `logouts_seen()` from before that read.
    pub fn remember(
        &self,
        token_hash: TokenHash,
        user_id: i64,
        expires_at: Option<i64>,
        seen_before: u64,
    ) {
        if !self.enabled() {
            return;
        }
        let now = self.now_ms();
        let ms = |d: Duration| d.as_millis() as u64;
        let left = expires_at.map_or(self.cache_ttl, |t| {
            Duration::from_secs((t - chrono::Utc::now().timestamp()).max(0) as u64)
        });
        let long_until = now + ms(left.min(SUBSCRIBED_TRUST));
        let short_until = now + ms(left.min(self.cache_ttl));
        // Under the lock, so a logout message is either handled before
        // this check (and the entry gets only the short trust) or after the
        // insert (and removes it).
        let mut entries = self.entries.write();
        let entry = Cached {
            user_id,
            long_until,
            short_gap: (long_until - short_until).min(u64::from(u32::MAX)) as u32,
            // A logout handled meanwhile may have been this session's.
            epoch: self
                .current_epoch()
                .filter(|_| self.logouts_seen.load(Ordering::Acquire) == seen_before)
                .map_or(NO_EPOCH, |e| e as u32),
        };
        let inserts = self.inserts.fetch_add(1, Ordering::Relaxed);
        if inserts % SWEEP_EVERY == SWEEP_EVERY - 1 || entries.len() >= self.max_entries {
            entries.retain(|_, e| self.trusts(e, now));
        }
        while entries.len() >= self.max_entries {
            // Still full of trusted sessions: half of them go (one bit of
            // the hash, the other bit next time), so the next fill is as
            // far off. Two passes empty it, so this ends.
            let bit = (self.evictions.fetch_add(1, Ordering::Relaxed) & 1) as u8;
            entries.retain(|key, _| key[0] & 1 != bit);
        }
        entries.insert(key_of(&token_hash), entry);
    }

    pub fn forget(&self, token_hash: &TokenHash) {
        self.entries.write().remove(&key_of(token_hash));
    }

    /// A logout published by some instance (`None`: a payload we could not
    /// read, which still counts as a logout seen).
    pub fn logout_received(&self, token_hash: Option<TokenHash>) {
        let mut entries = self.entries.write();
        self.logouts_seen.fetch_add(1, Ordering::AcqRel);
        if let Some(hash) = token_hash {
            entries.remove(&key_of(&hash));
        }
    }

    pub fn subscription_up(&self) {
        self.subscribed.store(true, Ordering::Release);
    }

    /// The subscription failed (or stopped answering its pings): logouts
    /// may have been missed, so nothing cached is trusted any more.
    pub fn subscription_lost(&self) {
        let mut entries = self.entries.write();
        self.subscribed.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    const T: TokenHash = [7; 32];
    const SHORT: Duration = Duration::from_millis(30);

    fn far() -> Option<i64> {
        Some(chrono::Utc::now().timestamp() + 3600)
    }

    #[test]
    fn while_subscribed_an_entry_outlives_the_short_trust() {
        let cache = LocalCache::new(SHORT);
        cache.subscription_up();
        cache.remember(T, 1, far(), cache.logouts_seen());
        std::thread::sleep(SHORT * 2);
        assert_eq!(cache.get(&T), Some(1));
        cache.logout_received(Some(T));
        assert_eq!(cache.get(&T), None, "a published logout removes it");
    }

    #[test]
    fn without_the_subscription_only_the_short_trust_holds() {
        let cache = LocalCache::new(SHORT);
        cache.remember(T, 1, far(), cache.logouts_seen());
        assert_eq!(cache.get(&T), Some(1));
        std::thread::sleep(SHORT * 2);
        assert_eq!(cache.get(&T), None);
    }

    #[test]
    fn losing_the_subscription_forgets_everything() {
        let cache = LocalCache::new(SHORT);
        cache.subscription_up();
        cache.remember(T, 1, far(), cache.logouts_seen());
        cache.subscription_lost();
        assert_eq!(cache.get(&T), None);
        cache.subscription_up();
        assert_eq!(cache.get(&T), None);
    }

    #[test]
    fn a_logout_seen_during_the_read_limits_the_entry_to_the_short_trust() {
        let cache = LocalCache::new(SHORT);
        cache.subscription_up();
        let mark = cache.logouts_seen();
        cache.logout_received(None);
        cache.remember(T, 1, far(), mark);
        std::thread::sleep(SHORT * 2);
        assert_eq!(cache.get(&T), None);
    }

    #[test]
    fn the_cache_keeps_at_most_its_maximum() {
        let cache = LocalCache::with_max(Duration::from_secs(5), 64);
        cache.subscription_up();
        let hash = |i: u32| -> TokenHash {
            let mut h: TokenHash = Sha256::digest(i.to_le_bytes()).into();
            h[31] = 0;
            h
        };
        for i in 0..1000 {
            cache.remember(hash(i), i64::from(i), far(), cache.logouts_seen());
            assert!(cache.entries.read().len() <= 64);
            assert_eq!(
                cache.get(&hash(i)),
                Some(i64::from(i)),
                "the newest is kept"
            );
        }
        let kept = (0..1000).filter(|&i| cache.get(&hash(i)).is_some()).count();
        assert!((16..=64).contains(&kept), "{kept}");
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = LocalCache::new(Duration::ZERO);
        cache.subscription_up();
        cache.remember(T, 1, far(), cache.logouts_seen());
        assert_eq!(cache.get(&T), None);
    }
}
