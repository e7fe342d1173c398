//! Sessions in Redis, shared by every instance: the key is the token's
//! hash, the value the user id, WeChat session_key and expiry, with the
//! session's expiry on the key too. Each instance keeps the sessions it has
//! seen in a `LocalCache`, so the hot path stays off the network; logouts
//! are published on a channel every instance follows (`logouts.rs`).

use std::sync::Arc;
use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};

use super::tokens::{hash, TokenHash};
use super::trust::LocalCache;
use super::{unauthorized, Stored};
use crate::cache::redis_pool::{self, RedisConn, RedisPool};
use crate::error::{AppError, AppResult};

/// Waiting for a pooled connection, then for the command: together under
/// the 2 s within which a request must get its 503 when Redis is down.
const CHECKOUT_DEADLINE: Duration = Duration::from_millis(800);
const COMMAND_DEADLINE: Duration = Duration::from_millis(1000);

pub struct RedisSessions {
    pool: RedisPool,
    prefix: String,
    pub(super) ttl: Duration,
    pub(super) local: LocalCache,
}

/// Redis could not be reached or did not answer in time. The detail goes to
/// the log only.
fn cache_down(detail: impl std::fmt::Display) -> AppError {
    tracing::warn!(%detail, "session cache unavailable");
    AppError::Unavailable("the session cache is unavailable; try again".into())
}

impl RedisSessions {
    /// The pool connects lazily, so the server starts (and says 503 on
    /// /readyz) while Redis is down.
    pub fn new(
        url: &redis_pool::RedisTarget,
        prefix: &str,
        ttl: Duration,
        cache_ttl: Duration,
    ) -> Result<Arc<Self>, String> {
        let pool = redis_pool::lazy_pool(url, 16, CHECKOUT_DEADLINE)?;
        Ok(Arc::new(Self {
            pool,
            prefix: prefix.to_string(),
            ttl,
            local: LocalCache::new(cache_ttl),
        }))
    }

    /// Writes sessions, each with its expiry on the key too: one pipeline on
    /// a single Redis; on a Redis Cluster, whose pipelines cannot span
    /// slots, every command in flight at once on the multiplexed
    /// connection. This instance then knows them valid: their first use
    /// here (a join, typically) need not ask Redis.
    pub(super) async fn insert_many(&self, entries: Vec<(TokenHash, Stored)>) -> AppResult<()> {
        let expires_at = chrono::Utc::now().timestamp() + self.ttl.as_secs() as i64;
        let seconds = self.ttl.as_secs().max(1);
        let mut writes = Vec::with_capacity(entries.len());
        for (token_hash, stored) in &entries {
            let stored = Stored {
                expires_at: Some(expires_at),
                ..stored.clone()
            };
            let value = serde_json::to_string(&stored).map_err(AppError::internal)?;
            writes.push((self.key(token_hash), value));
        }
        self.run(|conn| async move {
            match conn {
                RedisConn::Single(_) => {
                    let mut pipe = redis::pipe();
                    for (key, value) in writes {
                        pipe.set_ex(key, value, seconds).ignore();
                    }
                    let mut conn = conn;
                    pipe.query_async::<()>(&mut conn).await
                }
                RedisConn::Cluster(_) => {
                    futures::future::try_join_all(writes.into_iter().map(|(key, value)| {
                        let mut conn = conn.clone();
                        async move { conn.set_ex::<_, _, ()>(key, value, seconds).await }
                    }))
                    .await
                    .map(|_| ())
                }
            }
        })
        .await?;
        let seen = self.local.logouts_seen();
        for (token_hash, stored) in entries {
            self.local
                .remember(token_hash, stored.user_id, Some(expires_at), seen);
        }
        Ok(())
    }

    pub(super) async fn resolve(&self, token: &str) -> AppResult<i64> {
        let token_hash = hash(token);
        if let Some(user_id) = self.local.get(&token_hash) {
            return Ok(user_id);
        }
        let seen = self.local.logouts_seen();
        let key = self.key(&token_hash);
        let value: Option<String> = self
            .run(|mut conn| async move { conn.get(key).await })
            .await?;
        let Some(value) = value else {
            self.local.forget(&token_hash);
            return Err(unauthorized());
        };
        let stored: Stored = serde_json::from_str(&value).map_err(AppError::internal)?;
        self.local
            .remember(token_hash, stored.user_id, stored.expires_at, seen);
        Ok(stored.user_id)
    }

    /// The session's WeChat session_key, always read from Redis (the
    /// local cache keeps user ids only).
    pub(super) async fn session_key(&self, token: &str) -> AppResult<Option<String>> {
        let key = self.key(&hash(token));
        let value: Option<String> = self
            .run(|mut conn| async move { conn.get(key).await })
            .await?;
        let value = value.ok_or_else(unauthorized)?;
        let stored: Stored = serde_json::from_str(&value).map_err(AppError::internal)?;
        Ok(stored.session_key)
    }

    pub(super) async fn revoke(&self, token_hash: TokenHash) -> AppResult<()> {
        self.local.forget(&token_hash);
        let key = self.key(&token_hash);
        let channel = self.logout_channel();
        let payload = hex::encode(token_hash);
        self.run(|mut conn| async move {
            conn.del::<_, ()>(key).await?;
            conn.publish::<_, _, ()>(channel, payload).await
        })
        .await
    }

    pub(super) async fn ping(&self) -> AppResult<()> {
        self.run(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await?;
        Ok(())
    }

    pub(super) fn logout_channel(&self) -> String {
        format!("{}logouts", self.prefix)
    }

    /// The Redis pool's state and size, for `/metrics`.
    pub fn pool_state(&self) -> (u32, bb8::State) {
        (self.pool.config().max_size, self.pool.state())
    }

    fn key(&self, token_hash: &TokenHash) -> String {
        format!("{}session:{}", self.prefix, hex::encode(token_hash))
    }

    /// Runs one command on a pooled connection, within the deadlines: a
    /// Redis that is down or hung costs a request 503, never a hang. A
    /// connection whose command failed is marked broken, so bb8 drops it.
    async fn run<T, F, Fut>(&self, command: F) -> AppResult<T>
    where
        F: FnOnce(RedisConn) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        redis_pool::run(&self.pool, COMMAND_DEADLINE, command)
            .await
            .map_err(cache_down)
    }
}
