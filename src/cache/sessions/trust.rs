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

#[derive(Clone, Copy)]
struct Cached {
    user_id: i64,
    cached_at: Instant,
    expires_at: Instant,
    /// The subscription epoch it was cached under, if one was up.
    epoch: Option<u64>,
}

pub struct LocalCache {
    cache_ttl: Duration,
    entries: RwLock<HashMap<TokenHash, Cached>>,
    inserts: AtomicU64,
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
        Self {
            cache_ttl,
            entries: RwLock::default(),
            inserts: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            logouts_seen: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.cache_ttl.is_zero()
    }

    fn current_epoch(&self) -> Option<u64> {
        self.subscribed
            .load(Ordering::Acquire)
            .then(|| self.epoch.load(Ordering::Acquire))
    }

    /// Whether a cached entry may still be trusted now.
    fn trusts(&self, entry: &Cached, now: Instant) -> bool {
        if entry.expires_at <= now {
            return false;
        }
        let subscribed_throughout = entry.epoch.is_some() && entry.epoch == self.current_epoch();
        subscribed_throughout && now < entry.cached_at + SUBSCRIBED_TRUST
            || now < entry.cached_at + self.cache_ttl
    }

    /// The user of a trusted cached session.
    pub fn get(&self, token_hash: &TokenHash) -> Option<i64> {
        let now = Instant::now();
        let entries = self.entries.read();
        let entry = entries.get(token_hash)?;
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
        let now = Instant::now();
        let left = expires_at.map_or(self.cache_ttl, |t| {
            Duration::from_secs((t - chrono::Utc::now().timestamp()).max(0) as u64)
        });
        // Under the lock, so a logout message is either handled before
        // this check (and the entry gets only the short trust) or after the
        // insert (and removes it).
        let mut entries = self.entries.write();
        let entry = Cached {
            user_id,
            cached_at: now,
            expires_at: now + left,
            // A logout handled meanwhile may have been this session's.
            epoch: self
                .current_epoch()
                .filter(|_| self.logouts_seen.load(Ordering::Acquire) == seen_before),
        };
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            entries.retain(|_, e| self.trusts(e, now));
        }
        entries.insert(token_hash, entry);
    }

    pub fn forget(&self, token_hash: &TokenHash) {
        self.entries.write().remove(token_hash);
    }

    /// A logout published by some instance (`None`: a payload we could not
    /// read, which still counts as a logout seen).
    pub fn logout_received(&self, token_hash: Option<TokenHash>) {
        let mut entries = self.entries.write();
        self.logouts_seen.fetch_add(1, Ordering::AcqRel);
        if let Some(hash) = token_hash {
            entries.remove(&hash);
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
    fn a_zero_ttl_caches_nothing() {
        let cache = LocalCache::new(Duration::ZERO);
        cache.subscription_up();
        cache.remember(T, 1, far(), cache.logouts_seen());
        assert_eq!(cache.get(&T), None);
    }
}
