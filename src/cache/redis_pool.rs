//! A bb8 pool of Redis connections that drops a connection once a command
//! on it fails. bb8-redis's manager never reports a broken connection, so
//! its pool needs a PING on every checkout to notice one; that doubled the
//! Redis round trips of every session lookup. Here a failed or timed-out
//! command marks its connection broken instead, and bb8 replaces it.

use bb8_redis::redis::aio::MultiplexedConnection;
use bb8_redis::redis::RedisError;
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
