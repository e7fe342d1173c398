//! The store of record: diesel-async over MySQL (production) or SQLite (the
//! embedded default). Query bodies are written once and expanded per backend
//! by `db_run!`, the pattern vaultwarden uses; only DDL differs, so there are
//! two migration folders.

use diesel::connection::SimpleConnection;
use diesel::{ConnectionError, SqliteConnection};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use pool::Manager;

use crate::secret::redact_url;
use crate::tls::ClientTls;
use std::sync::Arc;
use std::time::Duration;

pub mod claims;
pub mod draws;
pub mod errors;
pub mod events;
pub mod groups;
pub mod idempotency;
pub mod join_tries;
pub mod live;
pub mod media;
pub mod models;
pub mod mysql_connection;
pub mod notices;
pub mod ownership;
pub mod participants;
pub mod pool;
pub mod redraws;
pub mod schema;
pub mod types;
pub mod users;

pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
pub type MysqlPool = bb8::Pool<Manager<AsyncMysqlConnection>>;
pub type SqlitePool = bb8::Pool<Manager<SqliteConn>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// How long a request waits for a pooled connection before it gets 503.
const POOL_TIMEOUT: Duration = Duration::from_secs(2);

/// SQLite settings for a server: WAL so readers never block the writer,
/// NORMAL sync (a committed transaction survives a process crash), and a busy
/// timeout so concurrent writers queue (for at most the lock timeout)
/// instead of failing at once.
fn sqlite_pragmas(lock_timeout: Duration) -> String {
    format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON;",
        lock_timeout.as_millis()
    )
}

/// MySQL session settings: a lock wait as long as the lock timeout (whole
/// seconds, at least one: a hot event's batch must not sit behind a lock
/// for InnoDB's default 50 s), and strict modes so a value the column
/// cannot hold is an error, never a silently stored zero date or truncation.
/// REPEATABLE READ (InnoDB's default) whatever the server's setting: the
/// cluster's ownership fence relies on its shared lock (store::ownership).
fn mysql_session(lock_timeout: Duration) -> String {
    format!(
        "SET SESSION innodb_lock_wait_timeout = {}, \
         sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,\
         ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'; \
         SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        lock_timeout.as_secs().max(1)
    )
}

#[derive(Clone)]
pub enum Db {
    Mysql(MysqlPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever
/// backend is configured. The body is expanded once per backend, so each
/// query is type-checked against both.
#[macro_export]
macro_rules! db_run {
    ($db:expr, |$conn:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use diesel::prelude::*;
        #[allow(unused_imports)]
        use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
        match $db {
            $crate::store::Db::Mysql(pool) => $crate::db_run!(@pooled pool, $conn, $body, "mysql"),
            $crate::store::Db::Sqlite(pool) => $crate::db_run!(@pooled pool, $conn, $body, "sqlite"),
        }
    }};
    // One backend's arm: the body on a pooled connection, which is marked
    // broken (so bb8 replaces it) when the body found the connection gone.
    (@pooled $pool:ident, $conn:ident, $body:expr, $system:literal) => {{
        // While traces are exported, each call is a client span named
        // after the store's file (`db lottery::store::participants`).
        let span = $crate::telemetry::traces::child(|| {
            tracing::info_span!(
                "db",
                otel.name = concat!("db ", module_path!()),
                otel.kind = "client",
                db.system.name = $system,
                code.line.number = line!(),
            )
        });
        let mut pooled = tracing::Instrument::instrument($pool.get(), span.clone()).await?;
        let result: $crate::error::AppResult<_> = tracing::Instrument::instrument(
            async {
                let $conn = &mut pooled.conn;
                $body
            },
            span,
        )
        .await;
        if matches!(result, Err($crate::error::AppError::DatabaseLost)) {
            pooled.broken = true;
        }
        result
    }};
}

impl Db {
    /// The file of a `sqlite://<path>` URL; None for any other database.
    pub fn sqlite_file(url: &str) -> Option<&str> {
        url.strip_prefix("sqlite://")
    }

    /// Opens the pool named by the URL (creating the MySQL database if it
    /// does not exist yet) and applies the embedded migrations.
    /// `lock_timeout` bounds how long a statement waits for another
    /// writer's lock before it fails (SQLite's busy timeout, InnoDB's lock
    /// wait).
    pub async fn connect(
        url: &str,
        pool_size: u32,
        lock_timeout: Duration,
    ) -> Result<Self, String> {
        Self::connect_with_tls(url, pool_size, lock_timeout, None).await
    }

    /// As `connect`, with TLS settings for MySQL (`LOTTERY_DATABASE_CA`…).
    pub async fn connect_with_tls(
        url: &str,
        pool_size: u32,
        lock_timeout: Duration,
        tls: Option<ClientTls>,
    ) -> Result<Self, String> {
        if let Some(path) = Self::sqlite_file(url) {
            Self::connect_sqlite(path.to_string(), pool_size, lock_timeout).await
        } else if url.starts_with("mysql://") {
            Self::connect_mysql(url, pool_size, lock_timeout, tls).await
        } else {
            Err(format!(
                "LOTTERY_DATABASE_URL must start with sqlite:// or mysql://, got {:?}",
                redact_url(url)
            ))
        }
    }

    async fn connect_sqlite(
        path: String,
        pool_size: u32,
        lock_timeout: Duration,
    ) -> Result<Self, String> {
        let pragmas = sqlite_pragmas(lock_timeout);
        let migrate_path = path.clone();
        let migrate_pragmas = pragmas.clone();
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            use diesel::Connection;
            let mut conn = SqliteConnection::establish(&migrate_path)
                .map_err(|e| format!("cannot open SQLite database {migrate_path}: {e}"))?;
            conn.batch_execute(&migrate_pragmas)
                .map_err(|e| e.to_string())?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| format!("SQLite migrations failed: {e}"))?;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())??;

        let establish: Establish<SqliteConn> =
            Arc::new(|url| Box::pin(async move { SqliteConn::establish(&url).await }));
        let pool = pool_with_setup(&path, pragmas, pool_size.clamp(1, 8), establish)
            .await
            .map_err(|e| format!("cannot open SQLite pool: {e}"))?;
        Ok(Self::Sqlite(pool))
    }

    async fn connect_mysql(
        url: &str,
        pool_size: u32,
        lock_timeout: Duration,
        tls: Option<ClientTls>,
    ) -> Result<Self, String> {
        create_mysql_database(url, tls.as_ref()).await?;
        // Migrations run on diesel's synchronous harness: the async
        // connection (TLS and all) wrapped for it, off the runtime's threads.
        let migrate = mysql_connection::establish(url, tls.as_ref())
            .await
            .map_err(|e| format!("cannot connect to MySQL: {e}"))?;
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let mut conn = AsyncConnectionWrapper::<AsyncMysqlConnection>::from(migrate);
            conn.run_pending_migrations(MYSQL_MIGRATIONS)
                .map_err(|e| format!("MySQL migrations failed: {e}"))?;
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())??;

        let tls = tls.map(Arc::new);
        let establish: Establish<AsyncMysqlConnection> = Arc::new(move |url| {
            let tls = tls.clone();
            Box::pin(async move { mysql_connection::establish(&url, tls.as_deref()).await })
        });
        let pool = pool_with_setup(
            url,
            mysql_session(lock_timeout),
            pool_size.max(1),
            establish,
        )
        .await
        .map_err(|e| format!("cannot open MySQL pool: {e}"))?;
        Ok(Self::Mysql(pool))
    }

    /// Starts a write transaction. SQLite takes the write lock up front, so
    /// concurrent writers wait on busy_timeout instead of failing mid-way.
    pub fn begin_write(&self) -> &'static str {
        match self {
            Self::Mysql(_) => "START TRANSACTION",
            Self::Sqlite(_) => "BEGIN IMMEDIATE",
        }
    }

    /// What follows an INSERT into participants so that a row already
    /// there (the unique key on event and user) is skipped, and nothing
    /// else is: MySQL's INSERT IGNORE and SQLite's OR IGNORE would also turn
    /// a missing user (foreign key) or a bad value into a silent no-op.
    pub fn skip_existing_participant(&self) -> &'static str {
        match self {
            Self::Mysql(_) => " ON DUPLICATE KEY UPDATE id = id",
            Self::Sqlite(_) => " ON CONFLICT (event_id, user_id) DO NOTHING",
        }
    }

    /// The same for an INSERT into notices (its unique key on event, user
    /// and kind): a notice already queued is skipped.
    pub fn skip_existing_notice(&self) -> &'static str {
        match self {
            Self::Mysql(_) => " ON DUPLICATE KEY UPDATE id = notices.id",
            Self::Sqlite(_) => " ON CONFLICT (event_id, user_id, kind) DO NOTHING",
        }
    }

    /// The same for an INSERT into users (its unique key on openid): a
    /// user already there is kept as is.
    pub fn skip_existing_user(&self) -> &'static str {
        match self {
            Self::Mysql(_) => " ON DUPLICATE KEY UPDATE id = id",
            Self::Sqlite(_) => " ON CONFLICT (openid) DO NOTHING",
        }
    }

    /// What follows an INSERT into join_tries so that an existing row
    /// counts one more wrong try instead.
    pub fn add_wrong_try(&self) -> &'static str {
        match self {
            Self::Mysql(_) => " ON DUPLICATE KEY UPDATE wrong = wrong + 1",
            Self::Sqlite(_) => " ON CONFLICT (event_id, user_id) DO UPDATE SET wrong = wrong + 1",
        }
    }

    /// The most connections the pool opens (SQLite's pool is capped below
    /// the configured size).
    pub fn max_connections(&self) -> u32 {
        match self {
            Self::Mysql(pool) => pool.config().max_size,
            Self::Sqlite(pool) => pool.config().max_size,
        }
    }

    /// The pool's connections and checkout figures, for `/metrics`.
    pub fn pool_state(&self) -> bb8::State {
        match self {
            Self::Mysql(pool) => pool.state(),
            Self::Sqlite(pool) => pool.state(),
        }
    }

    /// A trivial round trip, for readiness.
    pub async fn ping(&self) -> crate::error::AppResult<()> {
        db_run!(self, |conn| {
            conn.batch_execute("SELECT 1").await?;
            Ok(())
        })
    }
}

/// The rows of a streamed query that decode; the others (a row written by
/// hand with a time that is not one, a status no version knows) are
/// skipped, logged and counted, so one bad row never fails a whole list or
/// the draw schedule. Returns the rows and how many were skipped.
pub(crate) async fn readable_rows<U>(
    rows: impl futures::Stream<Item = diesel::QueryResult<U>>,
    table: &'static str,
) -> crate::error::AppResult<(Vec<U>, usize)> {
    use futures::StreamExt;
    let mut rows = std::pin::pin!(rows);
    let (mut read, mut skipped) = (Vec::new(), 0);
    while let Some(row) = rows.next().await {
        match row {
            Ok(row) => read.push(row),
            Err(diesel::result::Error::DeserializationError(err)) => {
                skipped += 1;
                tracing::error!(table, error = %err, "unreadable row skipped");
                metrics::counter!("lottery_unreadable_rows_total", "table" => table).increment(1);
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok((read, skipped))
}

/// A multi-row INSERT, which diesel-async cannot build for SQLite, ending
/// in `tail` (a conflict clause, or nothing). Callers format in only numbers
/// and `sql_time` values, never client text.
pub(crate) fn multi_row_insert(
    table_and_columns: &str,
    rows: impl Iterator<Item = String>,
    tail: &str,
) -> String {
    let values: Vec<String> = rows.collect();
    format!(
        "INSERT INTO {table_and_columns} VALUES {}{tail}",
        values.join(",")
    )
}

/// A UTC time as a literal both backends parse into their time columns.
pub(crate) fn sql_time(t: chrono::DateTime<chrono::Utc>) -> String {
    models::to_db_time(t)
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// How a pool makes a connection from its URL.
type Establish<C> = Arc<
    dyn Fn(String) -> futures::future::BoxFuture<'static, diesel::ConnectionResult<C>>
        + Send
        + Sync,
>;

/// A pool whose every new connection is made by `establish` and first
/// runs `setup` (the session settings), so a connection bb8 replaces gets
/// them too.
async fn pool_with_setup<C>(
    url: &str,
    setup: String,
    max_size: u32,
    establish: Establish<C>,
) -> Result<bb8::Pool<Manager<C>>, diesel_async::pooled_connection::PoolError>
where
    C: AsyncConnection + SimpleAsyncConnection + Send + 'static,
    AsyncDieselConnectionManager<C>:
        bb8::ManageConnection<Connection = C, Error = diesel_async::pooled_connection::PoolError>,
{
    let mut manager_config = ManagerConfig::<C>::default();
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_string();
        let setup = setup.clone();
        let establish = establish.clone();
        Box::pin(async move {
            let mut conn = establish(url).await?;
            conn.batch_execute(&setup)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = Manager(AsyncDieselConnectionManager::new_with_config(
        url,
        manager_config,
    ));
    bb8::Pool::builder()
        .max_size(max_size)
        .test_on_check_out(false)
        .connection_timeout(POOL_TIMEOUT)
        .build(manager)
        .await
}

/// `mysql://user:pass@host:port/db?opts` → (the server's URL without the
/// database, with the options: `require_ssl` holds for it too; db).
fn split_mysql_url(url: &str) -> Result<(String, String), String> {
    let rest = &url["mysql://".len()..];
    let slash = rest
        .find('/')
        .ok_or("the MySQL URL must name a database: mysql://user:pass@host:port/db")?;
    let (server, path) = rest.split_at(slash);
    let (db, options) = match path[1..].split_once('?') {
        Some((db, options)) => (db.to_string(), format!("/?{options}")),
        None => (path[1..].to_string(), String::new()),
    };
    if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "the MySQL database name must be [A-Za-z0-9_]+, got {db:?}"
        ));
    }
    Ok((format!("mysql://{server}{options}"), db))
}

async fn create_mysql_database(url: &str, tls: Option<&ClientTls>) -> Result<(), String> {
    let (server, db) = split_mysql_url(url)?;
    let mut conn = mysql_connection::establish(&server, tls)
        .await
        .map_err(|e| format!("cannot connect to MySQL at {}: {e}", redact_url(&server)))?;
    conn.batch_execute(&format!(
        "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4"
    ))
    .await
    .map_err(|e| format!("cannot create database {db}: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn mysql_urls_split_into_server_and_database() {
        let (server, db) =
            super::split_mysql_url("mysql://root:pw@127.0.0.1:3306/lottery?require_ssl=true")
                .unwrap();
        assert_eq!(server, "mysql://root:pw@127.0.0.1:3306/?require_ssl=true");
        assert_eq!(db, "lottery");
        let (server, _) = super::split_mysql_url("mysql://root@h:1/lottery").unwrap();
        assert_eq!(server, "mysql://root@h:1");
        assert!(super::split_mysql_url("mysql://root@h:1").is_err());
        assert!(super::split_mysql_url("mysql://root@h:1/a;drop").is_err());
    }
}
