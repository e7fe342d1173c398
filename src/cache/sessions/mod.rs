//! Login sessions: tokens (`tokens.rs`), kept in the process (the embedded
//! default, `in_process.rs`) or in Redis, shared by every instance
//! (`redis.rs`), where each instance caches what it has seen under the
//! trust rules of `trust.rs` and follows logouts published by the others
//! (`logouts.rs`). docs/LOGIN.md says what holds for a logout.

mod in_process;
mod logouts;
mod redis;
mod tokens;
mod trust;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use self::in_process::InProcessSessions;
use self::redis::RedisSessions;
use crate::error::{AppError, AppResult};
use crate::secret::Secret;

/// Sweep expired entries from the in-process maps every this many inserts.
const SWEEP_EVERY: u64 = 1024;

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

/// A freshly issued token and how long it lives.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

fn unauthorized() -> AppError {
    AppError::Unauthorized("the token is missing, unknown, expired or revoked".into())
}

impl SessionStore {
    pub fn in_process(ttl: Duration) -> Self {
        Self::InProcess(Arc::new(InProcessSessions::new(ttl)))
    }

    /// A Redis-backed store, following logouts when sessions are cached.
    pub fn redis(
        url: &crate::cache::redis_pool::RedisTarget,
        prefix: &str,
        ttl: Duration,
        cache_ttl: Duration,
    ) -> Result<Self, String> {
        // Logouts are followed on one node at a time: in a Redis Cluster
        // a PUBLISH reaches the subscribers of every node.
        let clients = url.clients()?;
        let store = RedisSessions::new(url, prefix, ttl, cache_ttl)?;
        if store.local.enabled() {
            tokio::spawn(crate::cache::pubsub::follow(
                clients,
                Arc::downgrade(&store),
            ));
        }
        Ok(Self::Redis(store))
    }

    pub async fn create(&self, user_id: i64, session_key: Option<&Secret>) -> AppResult<Issued> {
        let mut issued = self
            .create_many(vec![(user_id, session_key.cloned())])
            .await?;
        issued
            .pop()
            .ok_or_else(|| AppError::internal("no session was issued"))
    }

    /// Sessions for many users at once (a login's one, and the bulk
    /// sessions of load tests), in that order; the Redis writes pipelined
    /// by the thousand, so that a million cost a thousand round trips.
    pub async fn create_many(&self, users: Vec<(i64, Option<Secret>)>) -> AppResult<Vec<Issued>> {
        let minted: Vec<(String, Stored)> = users
            .into_iter()
            .map(|(user_id, session_key)| {
                let stored = Stored {
                    user_id,
                    session_key: session_key.map(|k| k.expose().to_string()),
                    expires_at: None,
                };
                (tokens::mint(), stored)
            })
            .collect();
        let ttl = match self {
            Self::InProcess(store) => {
                for (token, stored) in &minted {
                    store.insert(tokens::hash(token), stored.clone());
                }
                store.ttl
            }
            Self::Redis(store) => {
                for chunk in minted.chunks(1000) {
                    let entries = chunk
                        .iter()
                        .map(|(token, stored)| (tokens::hash(token), stored.clone()))
                        .collect();
                    store.insert_many(entries).await?;
                }
                store.ttl
            }
        };
        Ok(minted
            .into_iter()
            .map(|(token, _)| Issued {
                token,
                expires_in: ttl.as_secs(),
            })
            .collect())
    }

    /// The user a token belongs to; 40100 for anything else.
    pub async fn resolve(&self, token: &str) -> AppResult<i64> {
        match self {
            Self::InProcess(store) => store.resolve(&tokens::hash(token)),
            Self::Redis(store) => store.resolve(token).await,
        }
    }

    pub async fn revoke(&self, token: &str) -> AppResult<()> {
        let token_hash = tokens::hash(token);
        match self {
            Self::InProcess(store) => {
                store.revoke(&token_hash);
                Ok(())
            }
            Self::Redis(store) => store.revoke(token_hash).await,
        }
    }

    /// The WeChat session_key kept with the caller's session, for
    /// decrypting what the mini-program hands over (a group proof).
    pub async fn session_key(&self, token: &str) -> AppResult<Option<Secret>> {
        let key = match self {
            Self::InProcess(store) => store.session_key(&tokens::hash(token))?,
            Self::Redis(store) => store.session_key(token).await?,
        };
        Ok(key.map(Secret::new))
    }

    /// The Redis pool's size and state, when sessions are in Redis.
    pub fn pool_state(&self) -> Option<(u32, bb8::State)> {
        match self {
            Self::InProcess(_) => None,
            Self::Redis(redis) => Some(redis.pool_state()),
        }
    }

    /// Whether the store answers, for readiness.
    pub async fn ping(&self) -> AppResult<()> {
        match self {
            Self::InProcess(_) => Ok(()),
            Self::Redis(store) => store.ping().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
            &crate::cache::redis_pool::RedisTarget::new("redis://127.0.0.1:1/", None),
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
