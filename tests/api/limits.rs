//! Rate limits as clients meet them: 429 42900 with Retry-After for the
//! flooding key only, shared by instances on one Redis, never on the ops
//! endpoints.

use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, fresh_database, two_sharing_redis, Backend, Reply, TestApp};

both_backends!(
    one_user_flooding_is_limited_and_another_is_not,
    addresses_count_forwarded_for_only_from_trusted_proxies,
    logins_are_limited_per_address
);

/// Ten a minute: the eleventh request within the test's few seconds is
/// always refused, whatever the machine's speed.
const TEN_A_MINUTE: &str = "10/m:10";

/// A 429 in the envelope whose Retry-After is at most one interval.
fn assert_limited(reply: &Reply, message_part: &str, interval_secs: u64) {
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.code(), 42900);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains(message_part),
        "{:?}",
        reply.body
    );
    let retry: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=interval_secs).contains(&retry), "Retry-After {retry}");
}

async fn one_user_flooding_is_limited_and_another_is_not(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("LOTTERY_LIMIT_USER", TEN_A_MINUTE)]).await;
    let (flooder, _) = app.login("flooder").await;
    let (calm, _) = app.login("calm").await;
    let event = app.create_event(&calm, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    for _ in 0..9 {
        assert_eq!(app.get("/me", Some(&flooder)).await.status, 200);
    }
    // The tenth passes, the eleventh is refused: a join refused changes nothing.
    assert_eq!(app.get("/me", Some(&flooder)).await.status, 200);
    let refused = app.join(&flooder, event).await;
    assert_limited(&refused, "this user", 6);
    assert_eq!(app.participant_items(event, 10).await.len(), 0);

    // The other user, at the same time, is not limited.
    assert_eq!(app.join(&calm, event).await.status, 200);
    assert_eq!(app.participant_items(event, 10).await.len(), 1);
    // A second session of the flooder shares the flooder's allowance.
    let (again, _) = app.login("flooder").await;
    assert_limited(&app.get("/me", Some(&again)).await, "this user", 6);
    // Anonymous reads and the ops endpoints are not per-user limited.
    assert_eq!(app.get(&format!("/events/{event}"), None).await.status, 200);
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path, None).await.status, 200, "{path}");
    }
    assert!(
        app.metrics_text()
            .await
            .contains("lottery_rate_limited_total{kind=\"user\"}"),
        "refusals are counted"
    );
}

async fn addresses_count_forwarded_for_only_from_trusted_proxies(backend: Backend) {
    let database = fresh_database(backend);
    let behind_proxy = TestApp::spawn_on(
        database.clone(),
        &[
            ("LOTTERY_LIMIT_IP", TEN_A_MINUTE),
            ("LOTTERY_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await;
    let from = |app: &TestApp, client: &str| {
        app.client
            .get(format!("{}/api/v1/events/1", app.base))
            .header("X-Forwarded-For", format!("6.6.6.6, {client}"))
            .send()
    };
    for _ in 0..10 {
        let status = from(&behind_proxy, "198.51.100.1").await.unwrap().status();
        assert_eq!(status, 404, "under the limit the request goes through");
    }
    let res = from(&behind_proxy, "198.51.100.1").await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // Another client behind the same proxy is not limited; the forged
    // left-most entry was never the key.
    assert_eq!(
        from(&behind_proxy, "198.51.100.2").await.unwrap().status(),
        404
    );
    // The client's forged line first, the proxy's own line after: one list
    // (RFC 9110 §5.3), so the proxy's address for it is the key, whatever
    // the forged line says each time.
    let two_lines = |forged: String| {
        behind_proxy
            .client
            .get(format!("{}/api/v1/events/1", behind_proxy.base))
            .header("X-Forwarded-For", forged)
            .header("X-Forwarded-For", "198.51.100.3")
            .send()
    };
    for i in 0..10 {
        let status = two_lines(format!("7.7.7.{i}")).await.unwrap().status();
        assert_eq!(status, 404);
    }
    assert_eq!(two_lines("7.7.7.99".into()).await.unwrap().status(), 429);
    // An IPv6 client is its /64, whichever of its 2^64 addresses it picks;
    // the next /64 is someone else.
    for i in 0..10 {
        let client = format!("2001:db8:5:6::{:x}", i + 1);
        assert_eq!(from(&behind_proxy, &client).await.unwrap().status(), 404);
    }
    let next = from(&behind_proxy, "2001:db8:5:6:ffff::1").await.unwrap();
    assert_eq!(next.status(), 429, "the same /64");
    let other = from(&behind_proxy, "2001:db8:5:7::1").await.unwrap();
    assert_eq!(other.status(), 404, "another /64");
    for path in ["/healthz", "/readyz", "/metrics"] {
        for _ in 0..12 {
            assert_eq!(behind_proxy.get(path, None).await.status, 200, "{path}");
        }
    }

    // Without trusted proxies the header is ignored: every request counts
    // against the connection's own address, whatever it claims.
    let direct = TestApp::spawn_on(database, &[("LOTTERY_LIMIT_IP", TEN_A_MINUTE)]).await;
    for i in 0..10 {
        let status = from(&direct, &format!("198.51.100.{i}"))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404);
    }
    assert_eq!(from(&direct, "198.51.100.99").await.unwrap().status(), 429);
}

async fn logins_are_limited_per_address(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("LOTTERY_LIMIT_LOGIN", "3/m:3")]).await;
    let (token, _) = app.login("a").await;
    app.login("b").await;
    app.login("c").await;
    let fourth = app
        .post("/auth/login", None, json!({"code": "dev:d"}))
        .await;
    assert_limited(&fourth, "logins", 20);
    assert!(
        fourth.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 19,
        "one login comes back every 20 s"
    );
    // Only logins: the logged-in user carries on.
    for _ in 0..5 {
        assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    }
}

/// Two instances on one Redis count one user's requests together: a
/// flood spread over both gets the one limit, give or take the few
/// requests each instance lets through before it asks Redis
/// (`UNSYNCED_MAX` per instance and window, docs/OPERATIONS.md).
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn two_instances_sharing_redis_enforce_one_users_limit_together() {
    let (one, two) = two_sharing_redis(&[("LOTTERY_LIMIT_USER", TEN_A_MINUTE)]).await;
    let (token, _) = one.login("roaming").await;
    let mut allowed = 0;
    for i in 0..40 {
        let app = if i % 2 == 0 { &one } else { &two };
        let reply = app.get("/me", Some(&token)).await;
        match reply.status.as_u16() {
            200 => allowed += 1,
            429 => assert_limited(&reply, "this user", 6 * (1 + 2 * 3)),
            other => panic!("unexpected {other}"),
        }
    }
    eprintln!("{allowed} of 40 requests let through by two instances, limit 10");
    let slack = 2 * lottery::limits::UNSYNCED_MAX as usize;
    assert!(
        (10..=10 + slack).contains(&allowed),
        "{allowed} of 40 let through by two instances for a limit of 10"
    );
    // Alone, each instance would have let 10 through: together they hold
    // the one limit, and both now refuse.
    assert!(allowed < 20);
    // Requests let through beyond the limit count: the wait is longer.
    let longest_wait = 6 * (1 + slack as u64);
    assert_limited(
        &one.get("/me", Some(&token)).await,
        "this user",
        longest_wait,
    );
    assert_limited(
        &two.get("/me", Some(&token)).await,
        "this user",
        longest_wait,
    );
    let (other, _) = two.login("other").await;
    assert_eq!(one.get("/me", Some(&other)).await.status, 200);
}
