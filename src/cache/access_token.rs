//! The WeChat access token in Redis, shared by every instance, with a lock
//! so that one instance at a time refreshes it. `wechat::token` keeps a
//! copy in the process and decides when to refresh.

use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};
use serde::{Deserialize, Serialize};

use super::redis_pool::{self, RedisPool, RedisTarget};

const COMMAND_DEADLINE: Duration = Duration::from_millis(1000);

/// A token and its times (Unix milliseconds). No Debug: it is a credential.
#[derive(Clone, Serialize, Deserialize)]
pub struct CachedToken {
    pub token: String,
    /// When WeChat stops accepting it.
    pub expires_at: i64,
    /// When to ask for the next one.
    pub refresh_at: i64,
}

/// The token in Redis, shared by every instance.
pub struct SharedToken {
    pool: RedisPool,
    key: String,
    lock_key: String,
}

/// Drops the token only if it is still the one that failed: another
/// instance may already have stored its successor.
const DROP_IF_SAME: &str = r"
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Releases the refresh lock only if this instance still holds it.
const UNLOCK_IF_MINE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

impl SharedToken {
    pub fn new(url: &RedisTarget, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            pool: redis_pool::lazy_pool(url, 4, Duration::from_millis(800))?,
            key: format!("{prefix}wechat:access_token"),
            lock_key: format!("{prefix}wechat:access_token:lock"),
        })
    }

    pub async fn get(&self) -> Result<Option<CachedToken>, String> {
        let key = self.key.clone();
        let value: Option<String> =
            redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
                c.get(key).await
            })
            .await?;
        // A value we cannot read is as good as none: fetch anew.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Stores a token until it expires.
    pub async fn put(&self, token: &CachedToken, now_ms: i64) -> Result<(), String> {
        let key = self.key.clone();
        let value = serde_json::to_string(token).map_err(|e| e.to_string())?;
        let ttl = (token.expires_at - now_ms).max(1) as u64;
        redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
            c.pset_ex::<_, _, ()>(key, value, ttl).await
        })
        .await
    }

    /// Forgets `token` if it is the one kept.
    pub async fn drop_if_same(&self, token: &str) -> Result<(), String> {
        self.script(DROP_IF_SAME, &self.key, token).await
    }

    /// Takes the refresh lock for `hold` under `owner`.
    pub async fn try_lock(&self, owner: &str, hold: Duration) -> Result<bool, String> {
        let (key, owner) = (self.lock_key.clone(), owner.to_string());
        let set: Option<String> =
            redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(hold.as_millis() as u64)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    pub async fn unlock(&self, owner: &str) -> Result<(), String> {
        self.script(UNLOCK_IF_MINE, &self.lock_key, owner).await
    }

    /// Runs one of the compare-and-delete scripts on `key` with `arg`.
    async fn script(&self, script: &'static str, key: &str, arg: &str) -> Result<(), String> {
        let (key, arg) = (key.to_string(), arg.to_string());
        redis_pool::run(&self.pool, COMMAND_DEADLINE, |mut c| async move {
            redis::cmd("EVAL")
                .arg(script)
                .arg(1)
                .arg(key)
                .arg(arg)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }
}
