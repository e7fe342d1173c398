//! A bb8 pool of Redis connections that drops a connection once a command
//! on it fails. bb8-redis's manager never reports a broken connection, so
//! its pool needs a PING on every checkout to notice one; that doubled the
//! Redis round trips of every session lookup. Here a failed or timed-out
//! command marks its connection broken instead, and bb8 replaces it.
//!
//! `LOTTERY_REDIS_URL` may also list several seed nodes of a Redis Cluster
//! (comma-separated): the connection is then the `redis` crate's cluster
//! client, which routes each command to the master of its key's slot and
//! follows failovers (bb8-redis has no cluster manager). Every command
//! here touches one key, so none needs its keys in one slot.

use std::time::Duration;

use bb8_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use bb8_redis::redis::cluster::{ClusterClient, ClusterClientBuilder};
use bb8_redis::redis::cluster_async::ClusterConnection;
use bb8_redis::redis::{self, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use redis::{ClientTlsConfig, TlsCertificates};

use crate::tls::ClientTls;

/// Where Redis is (`LOTTERY_REDIS_URL`: one URL, or a Redis Cluster's
/// seeds) and how to speak TLS to it: a `rediss://` URL checks the
/// server against the system's roots, or against `LOTTERY_REDIS_CA` when
/// set, and presents `LOTTERY_REDIS_CLIENT_CERT` to a server that asks.
#[derive(Clone)]
pub struct RedisTarget {
    pub url: String,
    pub tls: Option<ClientTls>,
}

/// The URL without its password (it may carry one).
impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &crate::secret::redact_url(&self.url))
            .field("tls", &self.tls)
            .finish()
    }
}

impl RedisTarget {
    pub fn new(url: &str, tls: Option<ClientTls>) -> Self {
        Self {
            url: url.to_string(),
            tls,
        }
    }

    pub fn seeds(&self) -> Vec<&str> {
        seeds(&self.url)
    }

    /// A client of the node at `url` (one of the seeds).
    pub fn client(&self, url: &str) -> RedisResult<redis::Client> {
        match self.certificates() {
            None => redis::Client::open(url),
            Some(certificates) => redis::Client::build_with_tls(url, certificates),
        }
    }

    /// A client of every seed, for the pub/sub followers.
    pub fn clients(&self) -> Result<Vec<redis::Client>, String> {
        self.seeds()
            .into_iter()
            .map(|seed| self.client(seed))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("bad LOTTERY_REDIS_URL: {e}"))
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.tls.as_ref().map(|tls| TlsCertificates {
            client_tls: tls.identity.as_ref().map(|identity| ClientTlsConfig {
                client_cert: identity.cert.clone(),
                client_key: identity.key.clone(),
            }),
            root_cert: tls.ca.clone(),
        })
    }
}

/// Both boxed: either client is hundreds of bytes, the pool keeps one.
pub enum Manager {
    Single(Box<redis::Client>),
    Cluster(Box<ClusterClient>),
}

/// One connection to a single Redis, or the cluster client's.
#[derive(Clone)]
pub enum RedisConn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

pub struct Connection {
    pub inner: RedisConn,
    pub broken: bool,
}

/// The URLs in `LOTTERY_REDIS_URL`: one Redis, or a Redis Cluster's seeds.
pub fn seeds(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

impl Manager {
    pub fn new(target: &RedisTarget) -> Result<Self, RedisError> {
        let seeds = target.seeds();
        if seeds.len() > 1 {
            // Answers within the callers' deadlines; a master's failover
            // shows as errors until the cluster promotes its replica, then
            // the client re-reads the slots.
            let builder = ClusterClientBuilder::new(seeds)
                .connection_timeout(Duration::from_millis(500))
                .response_timeout(Duration::from_millis(900))
                .retries(2);
            let builder = match target.certificates() {
                Some(certificates) => builder.certs(certificates),
                None => builder,
            };
            builder
                .build()
                .map(|client| Self::Cluster(Box::new(client)))
        } else {
            target
                .client(&target.url)
                .map(|client| Self::Single(Box::new(client)))
        }
    }
}

impl bb8::ManageConnection for Manager {
    type Connection = Connection;
    type Error = RedisError;

    async fn connect(&self) -> Result<Connection, RedisError> {
        let inner = match self {
            Self::Single(client) => {
                RedisConn::Single(client.get_multiplexed_async_connection().await?)
            }
            Self::Cluster(client) => RedisConn::Cluster(client.get_async_connection().await?),
        };
        Ok(Connection {
            inner,
            broken: false,
        })
    }

    async fn is_valid(&self, conn: &mut Connection) -> Result<(), RedisError> {
        redis::cmd("PING")
            .query_async::<String>(&mut conn.inner)
            .await
            .map(drop)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.broken
    }
}

pub type RedisPool = bb8::Pool<Manager>;

/// A pool that connects lazily, so the server starts while Redis is down.
pub fn lazy_pool(
    target: &RedisTarget,
    max_size: u32,
    checkout: Duration,
) -> Result<RedisPool, String> {
    let manager = Manager::new(target).map_err(|e| format!("bad LOTTERY_REDIS_URL: {e}"))?;
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
    F: FnOnce(RedisConn) -> Fut,
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    let span = crate::telemetry::traces::child(|| {
        tracing::info_span!("redis", otel.kind = "client", db.system.name = "redis")
    });
    tracing::Instrument::instrument(
        async move {
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
        },
        span,
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn several_urls_name_a_cluster() {
        assert_eq!(super::seeds("redis://a:1"), vec!["redis://a:1"]);
        assert_eq!(
            super::seeds("redis://a:1, redis://b:2,"),
            vec!["redis://a:1", "redis://b:2"]
        );
        assert!(matches!(
            super::Manager::new(&super::RedisTarget::new("redis://a:1,redis://b:2", None)),
            Ok(super::Manager::Cluster(_))
        ));
        assert!(matches!(
            super::Manager::new(&super::RedisTarget::new("redis://a:1", None)),
            Ok(super::Manager::Single(_))
        ));
    }
}
