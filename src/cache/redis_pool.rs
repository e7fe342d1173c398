//! A bb8 pool of Redis connections that drops a connection once a command
//! on it fails. bb8-redis's manager never reports a broken connection, so
//! its pool needs a PING on every checkout to notice one; that doubled the
//! Redis round trips of every session lookup. Here a failed or timed-out
//! command marks its connection broken instead, and bb8 replaces it.

use std::time::Duration;

use bb8_redis::redis::aio::MultiplexedConnection;
use bb8_redis::redis::{RedisError, RedisResult};
use bb8_redis::RedisConnectionManager;

pub struct Manager(RedisConnectionManager);

pub struct Connection {
    pub inner: MultiplexedConnection,
    pub broken: bool,
}

impl Manager {
    pub fn new(url: &str) -> Result<Self, RedisError> {
        RedisConnectionManager::new(url).map(Self)
    }
}

impl bb8::ManageConnection for Manager {
    type Connection = Connection;
    type Error = RedisError;

    async fn connect(&self) -> Result<Connection, RedisError> {
        Ok(Connection {
            inner: self.0.connect().await?,
            broken: false,
        })
    }

    async fn is_valid(&self, conn: &mut Connection) -> Result<(), RedisError> {
        self.0.is_valid(&mut conn.inner).await
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.broken
    }
}

pub type RedisPool = bb8::Pool<Manager>;

/// A pool that connects lazily, so the server starts while Redis is down.
pub fn lazy_pool(url: &str, max_size: u32, checkout: Duration) -> Result<RedisPool, String> {
    let manager = Manager::new(url).map_err(|e| format!("bad LOTTERY_REDIS_URL: {e}"))?;
    Ok(bb8::Pool::builder()
        .max_size(max_size)
        .test_on_check_out(false)
        .connection_timeout(checkout)
        .build_unchecked(manager))
}

/// Runs one command on a pooled connection within `deadline`: a Redis that
/// is down or hung costs the caller an error, never a hang. A connection
/// whose command failed is marked broken, so bb8 drops it. The error is a
/// detail for the log.
pub async fn run<T, F, Fut>(pool: &RedisPool, deadline: Duration, command: F) -> Result<T, String>
where
    F: FnOnce(MultiplexedConnection) -> Fut,
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    let mut pooled = pool.get().await.map_err(|e| e.to_string())?;
    let conn = pooled.inner.clone();
    match tokio::time::timeout(deadline, command(conn)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => {
            pooled.broken = err.is_io_error()
                || err.is_connection_dropped()
                || err.is_connection_refusal()
                || err.is_timeout();
            Err(err.to_string())
        }
        Err(_) => {
            pooled.broken = true;
            Err("no answer in time".into())
        }
    }
}
