//! Group commits that fail for real: SQLite's write lock held by another
//! connection past the busy timeout, an InnoDB lock held past the lock-wait
//! timeout, and the MySQL connection killed in the middle of a batch. Joins,
//! retries with another `notify` and leaves queue behind the failing batch;
//! afterwards every answer must match the participants table.

use std::collections::HashMap;
use std::time::Duration;

use diesel::sql_types::{BigInt, Bool};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use lottery::store::Db;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

mod lock_held_past_the_timeout {
    use super::*;

    #[actix_web::test]
    async fn sqlite() {
        scenario(Backend::Sqlite, Failure::LockTimeout).await
    }

    #[actix_web::test]
    #[cfg_attr(not(lottery_test_mysql), ignore = "needs LOTTERY_TEST_MYSQL_URL")]
    async fn mysql() {
        scenario(Backend::Mysql, Failure::LockTimeout).await
    }
}

#[actix_web::test]
#[cfg_attr(not(lottery_test_mysql), ignore = "needs LOTTERY_TEST_MYSQL_URL")]
async fn mysql_connection_killed_mid_batch() {
    scenario(Backend::Mysql, Failure::KilledConnection).await
}

crate::both_backends!(a_manual_draw_that_fails_answers_503_and_is_retried);

/// The creator's draw order is answered when its first attempt fails (503
/// with Retry-After, the draw still pending), and the draw is retried on
/// its own until it lands.
async fn a_manual_draw_that_fails_answers_503_and_is_retried(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[("LOTTERY_DB_LOCK_TIMEOUT_MS", "500")]).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    for name in ["a", "b", "c"] {
        let (token, _) = app.login(name).await;
        assert_eq!(app.join(&token, id).await.status, 200);
    }

    let lock = Lock::hold(&url, id).await;
    let started = std::time::Instant::now();
    let r = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let status = app.get(&format!("/events/{id}"), None).await.data()["status"].clone();
    assert_ne!(status, "drawn");

    lock.release().await;
    let drawn = app.wait_status(id, "drawn", 15).await;
    assert_eq!(drawn["participant_count"], 3);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The batch waits on the lock until the timeout fails it.
    LockTimeout,
    /// The batch waits on the lock and its connection is killed.
    KilledConnection,
}

/// Another connection holding the lock a participants insert needs: SQLite's
/// write lock, or on MySQL the event row (an insert's foreign-key check
/// takes a shared lock on it).
enum Lock {
    Sqlite(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>),
    Mysql(AsyncMysqlConnection),
}

impl Lock {
    async fn hold(url: &str, event_id: i64) -> Self {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let (release, released) = std::sync::mpsc::channel();
            let (held, is_held) = std::sync::mpsc::channel();
            let path = path.to_string();
            let thread = std::thread::spawn(move || {
                use diesel::connection::SimpleConnection;
                use diesel::Connection;
                let mut conn = diesel::SqliteConnection::establish(&path).unwrap();
                conn.batch_execute("BEGIN IMMEDIATE").unwrap();
                held.send(()).unwrap();
                released.recv().unwrap();
                conn.batch_execute("ROLLBACK").unwrap();
            });
            is_held.recv().unwrap();
            Self::Sqlite(release, thread)
        } else {
            let mut conn = AsyncMysqlConnection::establish(url).await.unwrap();
            conn.batch_execute(&format!(
                "START TRANSACTION; SELECT id FROM events WHERE id = {event_id} FOR UPDATE"
            ))
            .await
            .unwrap();
            Self::Mysql(conn)
        }
    }

    async fn release(self) {
        match self {
            Self::Sqlite(release, thread) => {
                release.send(()).unwrap();
                thread.join().unwrap();
            }
            Self::Mysql(mut conn) => conn.batch_execute("ROLLBACK").await.unwrap(),
        }
    }
}

#[derive(QueryableByName)]
struct Thread {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Kills the MySQL connection running the participants insert.
async fn kill_the_batch(url: &str) {
    use diesel_async::RunQueryDsl;
    let database = url.rsplit('/').next().unwrap();
    let mut conn = AsyncMysqlConnection::establish(url).await.unwrap();
    for _ in 0..50 {
        let threads: Vec<Thread> = diesel::sql_query(format!(
            "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
             WHERE DB = '{database}' AND INFO LIKE 'INSERT%INTO participants%'"
        ))
        .load(&mut conn)
        .await
        .unwrap();
        if let Some(thread) = threads.into_iter().next() {
            conn.batch_execute(&format!("KILL {}", thread.id))
                .await
                .unwrap();
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no batch waiting on the lock");
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Bool)]
    notify: bool,
}

/// The participants table, read behind the server's back.
async fn stored(db: &Db, event_id: i64) -> HashMap<i64, bool> {
    let rows: lottery::error::AppResult<Vec<Stored>> = async {
        lottery::db_run!(db, |conn| {
            Ok(diesel::sql_query(format!(
                "SELECT user_id, notify FROM participants WHERE event_id = {event_id}"
            ))
            .load(conn)
            .await?)
        })
    }
    .await;
    rows.unwrap()
        .into_iter()
        .map(|r| (r.user_id, r.notify))
        .collect()
}

/// A request sent now, answered whenever the server answers.
fn send(
    app: &TestApp,
    method: Method,
    event_id: i64,
    token: &str,
    body: Option<Value>,
) -> actix_web::rt::task::JoinHandle<(u16, Value)> {
    let url = format!("{}/api/v1/events/{event_id}/participants/me", app.base);
    let mut request = app.client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    actix_web::rt::spawn(async move {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

async fn scenario(backend: Backend, failure: Failure) {
    let url = fresh_database(backend);
    let timeout = match failure {
        Failure::LockTimeout => "1000",
        Failure::KilledConnection => "20000",
    };
    let app = TestApp::spawn_on(url.clone(), &[("LOTTERY_DB_LOCK_TIMEOUT_MS", timeout)]).await;
    let db = Db::connect(&url, 2, Duration::from_secs(5)).await.unwrap();
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let (u, u_id) = app.login("u").await;
    let (v, v_id) = app.login("v").await;
    let (w, w_id) = app.login("w").await;
    let (p, p_id) = app.login("p").await;
    assert_eq!(app.join(&v, id).await.status, 200);
    // p's row is stored but the actor does not know it: what a commit that
    // applied and still reported an error leaves behind.
    execute_sql(
        &db,
        format!(
            "INSERT INTO participants (event_id, user_id, notify, joined_at) \
             VALUES ({id}, {p_id}, 0, '2026-11-23 00:00:00')"
        ),
    )
    .await;

    let lock = Lock::hold(&url, id).await;
    let first = send(&app, Method::PUT, id, &u, Some(json!({"notify": false})));
    // Batch A (u's join) now waits on the lock; these queue behind it.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let retry = send(&app, Method::PUT, id, &u, Some(json!({"notify": true})));
    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    let v_leaves = send(&app, Method::DELETE, id, &v, None);
    let w_joins = send(&app, Method::PUT, id, &w, None);
    let p_leaves = send(&app, Method::DELETE, id, &p, None);
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    if failure == Failure::KilledConnection {
        kill_the_batch(&url).await;
    }
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 503, "batch A failed: {body:?}");
    lock.release().await;

    let answers = [
        (u_id, retry.await.unwrap()),
        (v_id, v_leaves.await.unwrap()),
        (w_id, w_joins.await.unwrap()),
        (p_id, p_leaves.await.unwrap()),
    ];
    let table = stored(&db, id).await;
    for (user_id, (status, body)) in &answers {
        assert_eq!(*status, 200, "user {user_id}: {body:?}");
        assert_eq!(
            body["data"]["joined"].as_bool().unwrap(),
            table.contains_key(user_id),
            "user {user_id}'s answer {body:?} matches the table {table:?}"
        );
    }
    assert_eq!(
        table,
        HashMap::from([(u_id, true), (w_id, false)]),
        "u is in with the notify of its retry, v and p are out"
    );
    let count = app.get(&format!("/events/{id}"), None).await.data()["participant_count"].clone();
    assert_eq!(count, 2);
    assert_eq!(app.participant_items(id, 20).await.len(), 2);
}
