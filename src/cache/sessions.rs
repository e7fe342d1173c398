//! Login sessions. A token is 256 random bits shown to the client once; the
//! store keeps only its SHA-256, so a leaked store does not leak tokens.
//!
//! With Redis (`LOTTERY_REDIS_URL`) sessions are shared by every instance:
//! the key is the token's hash, the value the user id, WeChat session_key
//! and expiry, with the session's expiry on the key too. Each instance keeps
//! the sessions it has seen in a local cache, so the hot path stays off the
//! network. A logout deletes the key and is published on a Redis channel
//! every instance listens to; while that subscription is up, a cached
//! session is trusted until it expires. When the subscription is down (or
//! was down since the entry was cached), an entry is trusted only for
//! `session_cache_ttl` (≤ 5 s), so a logout elsewhere is always honoured
//! within that time. Without Redis sessions live in the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bb8_redis::redis::aio::MultiplexedConnection;
use bb8_redis::redis::{self, AsyncCommands};
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::redis_pool::Manager;
use crate::config::Secret;
use crate::error::{AppError, AppResult};

type TokenHash = [u8; 32];

/// Waiting for a pooled connection, then for the command: together under
/// the 2 s within which a request must get its 503 when Redis is down.
const CHECKOUT_DEADLINE: Duration = Duration::from_millis(800);
const COMMAND_DEADLINE: Duration = Duration::from_millis(1000);
/// Sweep expired entries from the in-process maps every this many inserts.
const SWEEP_EVERY: u64 = 1024;
/// The longest a cached session is trusted while logouts are subscribed.
const SUBSCRIBED_TRUST: Duration = Duration::from_secs(600);
/// Pause before the logout subscription is tried again.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// What a session remembers. No Debug: it holds the session_key.
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    user_id: i64,
    /// WeChat's key for decrypting user data later; never sent to clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_key: Option<String>,
    /// Unix seconds; absent in records written before it existed.
    #[serde(default)]
    expires_at: Option<i64>,
}

#[derive(Clone)]
pub enum SessionStore {
    InProcess(Arc<InProcessSessions>),
    Redis(Arc<RedisSessions>),
}

pub struct InProcessSessions {
    ttl: Duration,
    sessions: RwLock<HashMap<TokenHash, (Stored, Instant)>>,
    inserts: AtomicU64,
}

pub struct RedisSessions {
    pool: bb8::Pool<Manager>,
    prefix: String,
    ttl: Duration,
    cache_ttl: Duration,
    cache: RwLock<HashMap<TokenHash, Cached>>,
    inserts: AtomicU64,
    /// Bumped whenever the logout subscription is lost: entries trusted
    /// under an older subscription fall back to `cache_ttl`.
    epoch: AtomicU64,
    subscribed: std::sync::atomic::AtomicBool,
    /// Logout messages handled so far: a lookup that saw one arrive while
    /// it read Redis does not trust its answer for long.
    logouts_seen: AtomicU64,
}

#[derive(Clone, Copy)]
struct Cached {
    user_id: i64,
    cached_at: Instant,
    expires_at: Instant,
    /// The subscription epoch it was cached under, if one was up.
    epoch: Option<u64>,
}

/// A freshly issued token and how long it lives.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn unauthorized() -> AppError {
    AppError::Unauthorized("the token is missing, unknown, expired or revoked".into())
}

fn cache_down(detail: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("the session cache is unavailable: {detail}"))
}

impl SessionStore {
    pub fn in_process(ttl: Duration) -> Self {
        Self::InProcess(Arc::new(InProcessSessions {
            ttl,
            sessions: RwLock::new(HashMap::new()),
            inserts: AtomicU64::new(0),
        }))
    }

    /// A Redis-backed store. The pool connects lazily, so the server starts
    /// (and says 503 on /readyz) while Redis is down.
    pub fn redis(
        url: &str,
        prefix: &str,
        ttl: Duration,
        cache_ttl: Duration,
    ) -> Result<Self, String> {
        let manager = Manager::new(url).map_err(|e| format!("bad LOTTERY_REDIS_URL: {e}"))?;
        let client = redis::Client::open(url).map_err(|e| format!("bad LOTTERY_REDIS_URL: {e}"))?;
        let pool = bb8::Pool::builder()
            .max_size(16)
            .test_on_check_out(false)
            .connection_timeout(CHECKOUT_DEADLINE)
            .build_unchecked(manager);
        let store = Arc::new(RedisSessions {
            pool,
            prefix: prefix.to_string(),
            ttl,
            cache_ttl,
            cache: RwLock::new(HashMap::new()),
            inserts: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            subscribed: Default::default(),
            logouts_seen: AtomicU64::new(0),
        });
        if !cache_ttl.is_zero() {
            tokio::spawn(follow_logouts(client, Arc::downgrade(&store)));
        }
        Ok(Self::Redis(store))
    }

    pub async fn create(&self, user_id: i64, session_key: Option<&Secret>) -> AppResult<Issued> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let stored = Stored {
            user_id,
            session_key: session_key.map(|k| k.expose().to_string()),
            expires_at: None,
        };
        let ttl = match self {
            Self::InProcess(store) => {
                let now = Instant::now();
                let mut sessions = store.sessions.write();
                if store.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    sessions.retain(|_, (_, until)| *until > now);
                }
                sessions.insert(hash(&token), (stored, now + store.ttl));
                store.ttl
            }
            Self::Redis(store) => {
                let expires_at = chrono::Utc::now().timestamp() + store.ttl.as_secs() as i64;
                let stored = Stored {
                    expires_at: Some(expires_at),
                    ..stored
                };
                let value = serde_json::to_string(&stored).map_err(AppError::internal)?;
                let token_hash = hash(&token);
                let key = store.key(&token_hash);
                let seconds = store.ttl.as_secs().max(1);
                store
                    .run(|mut conn| async move { conn.set_ex::<_, _, ()>(key, value, seconds).await })
                    .await?;
                // This instance knows the session is valid: its first use
                // here (a join, typically) need not ask Redis.
                let seen = store.logouts_seen.load(Ordering::Acquire);
                store.remember(token_hash, user_id, Some(expires_at), seen);
                store.ttl
            }
        };
        Ok(Issued {
            token,
            expires_in: ttl.as_secs(),
        })
    }

    /// The user a token belongs to; 40100 for anything else.
    pub async fn resolve(&self, token: &str) -> AppResult<i64> {
        let key_hash = hash(token);
        match self {
            Self::InProcess(store) => match store.sessions.read().get(&key_hash) {
                Some((stored, until)) if *until > Instant::now() => Ok(stored.user_id),
                _ => Err(unauthorized()),
            },
            Self::Redis(store) => {
                if let Some(user_id) = store.cached(&key_hash) {
                    return Ok(user_id);
                }
                let seen = store.logouts_seen.load(Ordering::Acquire);
                let key = store.key(&key_hash);
                let value: Option<String> = store
                    .run(|mut conn| async move { conn.get(key).await })
                    .await?;
                let stored: Stored = match value {
                    Some(v) => serde_json::from_str(&v).map_err(AppError::internal)?,
                    None => {
                        store.cache.write().remove(&key_hash);
                        return Err(unauthorized());
                    }
                };
                store.remember(key_hash, stored.user_id, stored.expires_at, seen);
                Ok(stored.user_id)
            }
        }
    }

    pub async fn revoke(&self, token: &str) -> AppResult<()> {
        let key_hash = hash(token);
        match self {
            Self::InProcess(store) => {
                store.sessions.write().remove(&key_hash);
            }
            Self::Redis(store) => {
                store.cache.write().remove(&key_hash);
                let key = store.key(&key_hash);
                let channel = store.logout_channel();
                let payload = hex::encode(key_hash);
                store
                    .run(|mut conn| async move {
                        conn.del::<_, ()>(key).await?;
                        conn.publish::<_, _, ()>(channel, payload).await
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the store answers, for readiness.
    pub async fn ping(&self) -> AppResult<()> {
        match self {
            Self::InProcess(_) => Ok(()),
            Self::Redis(store) => {
                store
                    .run(|mut conn| async move {
                        redis::cmd("PING").query_async::<String>(&mut conn).await
                    })
                    .await?;
                Ok(())
            }
        }
    }
}

impl RedisSessions {
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

    fn cached(&self, token_hash: &TokenHash) -> Option<i64> {
        let now = Instant::now();
        let cache = self.cache.read();
        let entry = cache.get(token_hash)?;
        self.trusts(entry, now).then_some(entry.user_id)
    }

    fn remember(
        &self,
        token_hash: TokenHash,
        user_id: i64,
        expires_at: Option<i64>,
        logouts_seen_before: u64,
    ) {
        if self.cache_ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let left = expires_at.map_or(self.cache_ttl, |t| {
            Duration::from_secs((t - chrono::Utc::now().timestamp()).max(0) as u64)
        });
        // Under the lock, so a logout message is either handled before
        // this check (and the entry gets only the short trust) or after the
        // insert (and removes it).
        let mut cache = self.cache.write();
        let entry = Cached {
            user_id,
            cached_at: now,
            expires_at: now + left,
            // A logout handled meanwhile may have been this session's.
            epoch: self
                .current_epoch()
                .filter(|_| self.logouts_seen.load(Ordering::Acquire) == logouts_seen_before),
        };
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            cache.retain(|_, e| self.trusts(e, now));
        }
        cache.insert(token_hash, entry);
    }

    fn logout_channel(&self) -> String {
        format!("{}logouts", self.prefix)
    }

    fn key(&self, token_hash: &TokenHash) -> String {
        format!("{}session:{}", self.prefix, hex::encode(token_hash))
    }

    /// Runs one command on a pooled connection, within the deadlines: a
    /// Redis that is down or hung costs a request 503, never a hang. A
    /// connection whose command failed is marked broken, so bb8 drops it.
    async fn run<T, F, Fut>(&self, command: F) -> AppResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut pooled = self.pool.get().await.map_err(cache_down)?;
        let conn = pooled.inner.clone();
        match tokio::time::timeout(COMMAND_DEADLINE, command(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                pooled.broken = err.is_io_error()
                    || err.is_connection_dropped()
                    || err.is_connection_refusal()
                    || err.is_timeout();
                Err(cache_down(err))
            }
            Err(_) => {
                pooled.broken = true;
                Err(cache_down("no answer in time"))
            }
        }
    }
}

/// Listens for logouts published by any instance and forgets those
/// sessions here. Runs until the store is dropped; a lost subscription
/// bumps the epoch (so entries fall back to the short trust) and is retried.
async fn follow_logouts(client: redis::Client, store: std::sync::Weak<RedisSessions>) {
    use futures::StreamExt;
    loop {
        let Some(channel) = store.upgrade().map(|s| s.logout_channel()) else {
            return;
        };
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub.subscribe(&channel).await.is_ok() {
                match store.upgrade() {
                    Some(s) => s.subscribed.store(true, Ordering::Release),
                    None => return,
                }
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let Some(s) = store.upgrade() else { return };
                    let hash = message
                        .get_payload::<String>()
                        .ok()
                        .and_then(|p| hex::decode(p).ok())
                        .and_then(|b| TokenHash::try_from(b.as_slice()).ok());
                    let mut cache = s.cache.write();
                    s.logouts_seen.fetch_add(1, Ordering::AcqRel);
                    if let Some(hash) = hash {
                        cache.remove(&hash);
                    }
                }
            }
        }
        match store.upgrade() {
            Some(s) => {
                s.subscribed.store(false, Ordering::Release);
                s.epoch.fetch_add(1, Ordering::AcqRel);
            }
            None => return,
        }
        tracing::warn!(
            "the logout subscription is down; sessions are re-checked every few seconds"
        );
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_resolve_until_revoked_or_expired() {
        let store = SessionStore::in_process(Duration::from_secs(60));
        let issued = store.create(7, None).await.unwrap();
        assert!(issued.token.len() >= 43);
        assert_eq!(store.resolve(&issued.token).await.unwrap(), 7);
        store.revoke(&issued.token).await.unwrap();
        assert_eq!(
            store.resolve(&issued.token).await.unwrap_err().code(),
            40100
        );

        let short = SessionStore::in_process(Duration::from_millis(1));
        let t = short.create(1, None).await.unwrap().token;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.resolve(&t).await.unwrap_err().code(), 40100);
    }

    #[tokio::test]
    async fn a_closed_redis_port_is_a_fast_503() {
        // Port 1 on loopback: nothing listens there.
        let store = SessionStore::redis(
            "redis://127.0.0.1:1/",
            "t:",
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .unwrap();
        let started = Instant::now();
        assert_eq!(store.resolve("x").await.unwrap_err().code(), 50300);
        assert_eq!(store.ping().await.unwrap_err().code(), 50300);
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
