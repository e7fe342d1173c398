//! WeChat's fraud check at join (docs/API.md, "Join rules": `risk_check`)
//! against the WeChat mock's getuserriskrank: refused ranks, one call per
//! user however many joins, and what a join gets while WeChat fails.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    fresh_database, in_secs, redis_settings, required_redis, setting_refs, Backend, Reply, TestApp,
};
use crate::wechat_mock::{login, WechatMock, APPID};

crate::both_backends!(
    a_risky_account_is_refused_and_each_user_is_rated_once,
    while_wechat_fails_joins_follow_the_setting,
);

async fn risk_event(app: &TestApp, creator: &str, risk_check: bool) -> i64 {
    app.create_event(
        creator,
        json!({"title": "Risky", "draw_mode": "manual", "draw_at": in_secs(3600),
               "risk_check": risk_check, "prizes": [{"name": "Gold", "quantity": 1}]}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

async fn join(app: &TestApp, token: &str, id: i64) -> Reply {
    app.call(
        Method::PUT,
        &format!("/events/{id}/participants/me"),
        Some(token),
        None,
    )
    .await
}

fn calls_per_user(mock: &WechatMock) -> HashMap<String, usize> {
    let mut calls = HashMap::new();
    for call in mock.risk_calls() {
        *calls
            .entry(call["openid"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    calls
}

/// Ranks 0 to 2 join, 3 and 4 are refused (the default maximum is 3);
/// each user's rank is asked once, for every event and join after.
async fn a_risky_account_is_refused_and_each_user_is_rated_once(backend: Backend) {
    let mock = WechatMock::start(std::time::Duration::ZERO).await;
    let app = mock.app(&fresh_database(backend), &[]).await;
    let (creator, _) = login(&app, "creator").await;
    let first = risk_event(&app, &creator, true).await;
    let second = risk_event(&app, &creator, true).await;
    let plain = risk_event(&app, &creator, false).await;
    assert_eq!(
        app.get(&format!("/events/{first}"), None).await.data()["join_rules"]["risk_check"],
        true
    );
    for (name, rank) in [("r0", 0), ("r2", 2), ("r3", 3), ("r4", 4)] {
        mock.rank(&format!("o_{name}"), rank);
    }
    for (name, allowed) in [("r0", true), ("r2", true), ("r3", false), ("r4", false)] {
        let (token, _) = login(&app, name).await;
        for id in [first, second] {
            let r = join(&app, &token, id).await;
            if allowed {
                assert_eq!(r.status, 200, "{name}: {:?}", r.body);
            } else {
                assert_eq!((r.status.as_u16(), r.code()), (403, 40312), "{name}");
            }
        }
        // A repeat join is answered from what is kept.
        let again = join(&app, &token, first).await;
        assert_eq!(again.status.is_success(), allowed);
        // An event without the check never asks.
        assert_eq!(join(&app, &token, plain).await.status, 200);
    }
    let calls = calls_per_user(&mock);
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(
        calls.values().all(|&n| n == 1),
        "one call per user: {calls:?}"
    );
    let call = &mock.risk_calls()[0];
    assert_eq!(call["appid"], APPID);
    assert_eq!(call["scene"], 1, "scene 1: marketing fraud");
    assert_eq!(call["client_ip"], "127.0.0.1");
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("lottery_join_refusals_total{rule=\"risk\"}"));
    assert!(metrics.contains("lottery_risk_checks_total{result=\"rated\"}"));
}

/// WeChat answering -1: by default the join goes through (counted, not
/// kept, so the user is rated once WeChat is back); with
/// LOTTERY_RISK_ON_ERROR=refuse it is 502 and nothing is stored.
async fn while_wechat_fails_joins_follow_the_setting(backend: Backend) {
    let mock = WechatMock::start(std::time::Duration::ZERO).await;
    let database = fresh_database(backend);
    let app = mock.app(&database, &[]).await;
    let (creator, _) = login(&app, "creator").await;
    let id = risk_event(&app, &creator, true).await;
    mock.rank("o_bot", 4);
    mock.risk_down(true);
    let (bot, _) = login(&app, "bot").await;
    let r = join(&app, &bot, id).await;
    assert_eq!(
        r.status, 200,
        "let through while WeChat fails: {:?}",
        r.body
    );
    let metrics = app.metrics_text().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("lottery_risk_checks_total{")
                && l.contains("result=\"unavailable\"")
                && l.contains("reason=\"-1\"")),
        "the failure is counted"
    );
    mock.risk_down(false);
    let later = risk_event(&app, &creator, true).await;
    let r = join(&app, &bot, later).await;
    assert_eq!(r.code(), 40312, "rated once WeChat answers: {:?}", r.body);
    app.stop().await;

    let strict = mock
        .app(&database, &[("LOTTERY_RISK_ON_ERROR", "refuse")])
        .await;
    let (creator, _) = login(&strict, "creator").await;
    let third = risk_event(&strict, &creator, true).await;
    mock.risk_down(true);
    let (someone, _) = login(&strict, "someone").await;
    let r = join(&strict, &someone, third).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, 50200), "{:?}", r.body);
    let view = strict.get(&format!("/events/{third}"), None).await;
    assert_eq!(view.data()["participant_count"], 0);
}

/// A WeChat that answers later than LOTTERY_WECHAT_TIMEOUT_MS is a
/// failure like an errcode: the join follows the policy (let through by
/// default) without waiting longer, and the time-out is counted.
#[actix_web::test]
async fn a_slow_wechat_times_out_and_follows_the_policy() {
    let mock = WechatMock::start(std::time::Duration::ZERO).await;
    let app = mock
        .app(
            &fresh_database(Backend::Sqlite),
            &[("LOTTERY_WECHAT_TIMEOUT_MS", "300")],
        )
        .await;
    let (creator, _) = login(&app, "creator").await;
    let id = risk_event(&app, &creator, true).await;
    mock.risk_delay(std::time::Duration::from_secs(3));
    let (user, _) = login(&app, "slow").await;
    let started = std::time::Instant::now();
    let r = join(&app, &user, id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let metrics = app.metrics_text().await;
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("lottery_risk_checks_total{") && l.contains("reason=\"timeout\"")));
}

/// Two instances sharing Redis: a user rated on one is not asked again
/// on the other.
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn ranks_are_shared_by_instances_through_redis() {
    let mock = WechatMock::start(std::time::Duration::ZERO).await;
    let database = fresh_database(Backend::Sqlite);
    let redis = redis_settings(&required_redis());
    let one = mock.app(&database, &setting_refs(&redis)).await;
    let two = mock.app(&database, &setting_refs(&redis)).await;
    let (creator, _) = login(&one, "creator").await;
    let a = risk_event(&one, &creator, true).await;
    let b = risk_event(&one, &creator, true).await;
    let (user, _) = login(&one, "shared").await;
    assert_eq!(join(&one, &user, a).await.status, 200);
    assert_eq!(join(&two, &user, b).await.status, 200);
    assert_eq!(calls_per_user(&mock).get("o_shared"), Some(&1));
}

/// Without WeChat a server cannot check: such an event is refused at
/// creation, with the field named.
#[actix_web::test]
async fn risk_check_needs_wechat() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let (creator, _) = app.login("no-wechat").await;
    let r = app
        .post(
            "/events",
            Some(&creator),
            json!({"title": "x", "draw_at": in_secs(3600), "risk_check": true,
                   "prizes": [{"name": "Gold", "quantity": 1}]}),
        )
        .await;
    assert_eq!(r.code(), 40000);
    assert!(r.message().contains("risk_check"), "{}", r.message());
}
