//! Sessions: shared through Redis by several instances, expiry, and Redis
//! outages. The Redis tests need LOTTERY_TEST_REDIS_URL (and, for the outage,
//! the redis-server binary); built without the URL they are ignored.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::Digest;

use crate::helpers::{
    free_port, fresh_database, redis_settings, required_redis, setting_refs, Backend, TestApp,
};

fn sleep(ms: u64) -> actix_web::rt::time::Sleep {
    actix_web::rt::time::sleep(Duration::from_millis(ms))
}

async fn spawn_with(db: &str, vars: &[(String, String)]) -> TestApp {
    TestApp::spawn_on(db.to_string(), &setting_refs(vars)).await
}

#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn two_instances_share_sessions_and_logouts() {
    let redis = required_redis();
    let db = fresh_database(Backend::Sqlite);
    let shared = redis_settings(&redis);
    let one = spawn_with(&db, &shared).await;
    let two = spawn_with(&db, &shared).await;

    let (token, id) = one.login("roaming").await;
    let me = two.get("/me", Some(&token)).await;
    assert_eq!(
        me.status, 200,
        "a token from one instance works on the other"
    );
    assert_eq!(me.data()["id"], id);

    assert_eq!(
        one.post("/auth/logout", Some(&token), json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        one.get("/me", Some(&token)).await.code(),
        40100,
        "at once where it was revoked"
    );
    let started = Instant::now();
    loop {
        let r = two.get("/me", Some(&token)).await;
        if r.code() == 40100 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "logout not honoured within 5 s"
        );
        sleep(100).await;
    }

    // A third instance with its own prefix does not see these sessions.
    let other = spawn_with(&db, &redis_settings(&redis)).await;
    let (fresh, _) = one.login("roaming").await;
    assert_eq!(other.get("/me", Some(&fresh)).await.code(), 40100);
}

/// While logouts are subscribed, an instance trusts a session it has seen
/// for longer than the short cache, without asking Redis; a logout on
/// another instance still reaches it at once.
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn cached_sessions_skip_redis_until_a_logout_is_published() {
    let redis = required_redis();
    let db = fresh_database(Backend::Sqlite);
    let mut shared = redis_settings(&redis);
    let prefix = shared[1].1.clone();
    shared.push(("LOTTERY_SESSION_CACHE_MS".into(), "200".into()));
    let one = spawn_with(&db, &shared).await;
    let two = spawn_with(&db, &shared).await;
    sleep(300).await; // both subscribed to logouts

    let (token, _) = one.login("cached").await;
    assert_eq!(two.get("/me", Some(&token)).await.status, 200);
    // Remove the session behind both instances' backs, without a logout.
    let key = format!(
        "{prefix}session:{}",
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    );
    // `-c` follows a Redis Cluster's redirection (the URL may list seeds).
    let seed = redis.split(',').next().unwrap_or_default();
    let deleted = Command::new("redis-cli")
        .args(["-c", "-u", seed, "DEL", &key])
        .output();
    let deleted = deleted.expect("redis-cli on the PATH");
    assert_eq!(String::from_utf8_lossy(&deleted.stdout).trim(), "1");
    sleep(1000).await; // well past the 200 ms short trust
    assert_eq!(
        two.get("/me", Some(&token)).await.status,
        200,
        "served from the cache"
    );

    // A logout on one instance is published; the other forgets at once.
    assert_eq!(
        one.post("/auth/logout", Some(&token), json!({}))
            .await
            .status,
        200
    );
    let started = Instant::now();
    while two.get("/me", Some(&token)).await.code() != 40100 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "logout not seen within 5 s"
        );
        sleep(50).await;
    }
}

async fn expired_sessions_are_refused(vars: &[(String, String)]) {
    let mut vars = vars.to_vec();
    vars.push(("LOTTERY_SESSION_TTL_SECS".into(), "1".into()));
    vars.push(("LOTTERY_SESSION_CACHE_MS".into(), "200".into()));
    let app = spawn_with(&fresh_database(Backend::Sqlite), &vars).await;
    let (token, _) = app.login("brief").await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    sleep(2500).await;
    let r = app.get("/me", Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.code()), (401, 40100));
}

#[actix_web::test]
async fn expiry_in_the_process() {
    expired_sessions_are_refused(&[]).await;
}

#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn expiry_in_redis() {
    let redis = required_redis();
    expired_sessions_are_refused(&redis_settings(&redis)).await;
}

fn start_redis(port: u16) -> Option<Child> {
    Command::new("redis-server")
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn redis_down_is_a_fast_503_and_recovers_by_itself() {
    let port = free_port();
    let mut redis = start_redis(port).expect("redis-server on the PATH");
    let url = format!("redis://127.0.0.1:{port}/");
    let mut vars = redis_settings(&url);
    vars.push(("LOTTERY_SESSION_CACHE_MS".into(), "0".into()));
    let app = spawn_with(&fresh_database(Backend::Sqlite), &vars).await;
    let mut ready = false;
    for _ in 0..50 {
        if app.get("/readyz", None).await.status == 200 {
            ready = true;
            break;
        }
        sleep(100).await;
    }
    assert!(ready, "ready once Redis answers");
    let (token, _) = app.login("outage").await;

    redis.kill().unwrap();
    redis.wait().unwrap();
    let started = Instant::now();
    let r = app.get("/me", Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    let login = app
        .post("/auth/login", None, json!({"code": "dev:outage"}))
        .await;
    assert_eq!(login.code(), 50300);
    // Readiness is asked at most once a second (src/api/readiness.rs).
    let mut readyz = app.get("/readyz", None).await;
    for _ in 0..30 {
        if readyz.status == 503 {
            break;
        }
        sleep(100).await;
        readyz = app.get("/readyz", None).await;
    }
    assert_eq!(readyz.status, 503);
    assert_eq!(readyz.body["cache"], "unavailable");

    let mut redis = start_redis(port).unwrap();
    let started = Instant::now();
    loop {
        let r = app
            .post("/auth/login", None, json!({"code": "dev:outage"}))
            .await;
        if r.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never recovered: {:?}",
            r.body
        );
        sleep(200).await;
    }
    let mut ready = false;
    for _ in 0..30 {
        if app.get("/readyz", None).await.status == 200 {
            ready = true;
            break;
        }
        sleep(100).await;
    }
    assert!(ready, "ready again");
    redis.kill().unwrap();
    let _ = redis.wait();
}

/// A TCP proxy to Redis that can turn the connections that subscribed into
/// black holes: open, but carrying nothing either way, as after a network
/// partition that no FIN or RST reports.
struct Blackhole {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Blackhole {
    fn to(redis_url: &str) -> Self {
        use std::io::{Read, Write};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let upstream = redis_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let all_frozen = frozen.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let subscriber = Arc::new(AtomicBool::new(false));
                let pumps = [
                    (
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        true,
                    ),
                    (server, client, false),
                ];
                for (mut from, mut to, from_client) in pumps {
                    let (frozen, subscriber) = (all_frozen.clone(), subscriber.clone());
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            let upper = buf[..n].to_ascii_uppercase();
                            if from_client && upper.windows(9).any(|w| w == b"SUBSCRIBE") {
                                subscriber.store(true, Ordering::SeqCst);
                            }
                            let drop_it =
                                frozen.load(Ordering::SeqCst) && subscriber.load(Ordering::SeqCst);
                            if !drop_it && to.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Self { port, frozen }
    }

    fn freeze_subscribers(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The logout subscription's connection dies without a word (a half-open
/// TCP connection). Its pings go unanswered, the instance stops trusting
/// what it cached, and a logout made on another instance is honoured
/// within a few seconds instead of the subscribed trust's ten minutes.
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn a_silently_dead_logout_subscription_is_noticed() {
    let redis = required_redis();
    let proxy = Blackhole::to(&redis);
    let db = fresh_database(Backend::Sqlite);
    let direct = redis_settings(&redis);
    let mut proxied = direct.clone();
    proxied[0].1 = format!("redis://127.0.0.1:{}/", proxy.port);
    let one = spawn_with(&db, &proxied).await;
    let two = spawn_with(&db, &direct).await;

    let (token, _) = one.login("partitioned").await;
    sleep(500).await; // the subscription is up
    assert_eq!(one.get("/me", Some(&token)).await.status, 200);
    proxy.freeze_subscribers();
    sleep(100).await;
    assert_eq!(
        two.post("/auth/logout", Some(&token), json!({}))
            .await
            .status,
        200
    );
    let started = Instant::now();
    loop {
        let r = one.get("/me", Some(&token)).await;
        if r.code() == 40100 {
            break;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the logout was still not honoured after {:?}",
            started.elapsed()
        );
        sleep(100).await;
    }
}
