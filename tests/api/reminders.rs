//! Claim reminders (docs/NOTIFICATIONS.md, "Claim reminders") against the
//! WeChat mock with one-time subscriptions on: a user who accepted a
//! template once may get exactly one message of it, and any message more
//! is answered 43101 and shows up here as a failure. So these tests prove
//! both that each winner who accepted the reminder gets it and that
//! nobody gets a message they did not accept.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{fresh_database, in_secs, Backend, TestApp};
use crate::wechat_mock::{login, Received, WechatMock, CLAIM_TEMPLATE, TEMPLATE};

both_backends!(
    a_winner_who_accepted_gets_one_reminder_a_day_before_claim_by,
    a_redraws_winner_is_told_at_once_and_a_lapsed_claim_is_not_reminded,
);

/// The mock, and an app sending results and claim reminders through it.
async fn setup(backend: Backend) -> (WechatMock, TestApp) {
    let mock = WechatMock::start(Duration::ZERO).await;
    let app = mock
        .app(
            &fresh_database(backend),
            &[("LOTTERY_WECHAT_CLAIM_TEMPLATE_ID", CLAIM_TEMPLATE)],
        )
        .await;
    (mock, app)
}

/// A manual event with `quantity` Golds and a claim window of `claim_days`.
async fn event(app: &TestApp, creator: &str, claim_days: i64, quantity: i64) -> i64 {
    let event = app
        .create_event(
            creator,
            json!({
                "title": "领奖提醒测试", "draw_mode": "manual", "draw_at": in_secs(3600),
                "claim_days": claim_days,
                "prizes": [{"name": "Gold", "quantity": quantity}]
            }),
        )
        .await;
    event["id"].as_i64().unwrap()
}

/// `name` logs in (openid `o_{name}`), joins accepting `subscribe`, and
/// the mock is told what they accepted. Returns their token.
async fn join(app: &TestApp, mock: &WechatMock, id: i64, name: &str, subscribe: &[&str]) -> String {
    let (token, _) = login(app, name).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/events/{id}/participants/me"),
            Some(&token),
            Some(json!({"subscribe": subscribe})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for kind in subscribe {
        let template = match *kind {
            "result" => TEMPLATE,
            _ => CLAIM_TEMPLATE,
        };
        mock.grant(&format!("o_{name}"), template);
    }
    token
}

async fn draw(app: &TestApp, creator: &str, id: i64) {
    let r = app
        .post(&format!("/events/{id}/draw"), Some(creator), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The messages of `template` WeChat accepted, by openid.
fn accepted(mock: &WechatMock, template: &str) -> Vec<Received> {
    mock.received()
        .into_iter()
        .filter(|m| m.errcode == 0 && m.body["template_id"] == template)
        .collect()
}

/// Nothing was sent that WeChat refused: no message beyond what a user
/// accepted (43101) and no value that breaks its key's rule (47003).
fn nothing_refused(mock: &WechatMock) {
    let refused: Vec<_> = mock
        .received()
        .into_iter()
        .filter(|m| m.errcode != 0)
        .map(|m| (m.touser, m.errcode, m.body["template_id"].clone()))
        .collect();
    assert!(refused.is_empty(), "refused sends: {refused:?}");
}

/// (kind, state, error) of the user's notices of the event.
async fn outbox(app: &TestApp, id: i64, openid: &str) -> Vec<(i16, i16, Option<String>)> {
    let db = lottery::store::Db::connect(&app.database_url, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let openid = openid.to_string();
    async {
        lottery::db_run!(&db, |conn| {
            use lottery::store::schema::{notices, users};
            Ok(notices::table
                .inner_join(users::table)
                .filter(notices::event_id.eq(id))
                .filter(users::openid.eq(&openid))
                .order(notices::kind)
                .select((notices::kind, notices::state, notices::error))
                .load(conn)
                .await?)
        })
    }
    .await
    .unwrap()
}

/// Polls until the user's notice of `kind` is in `state`.
async fn wait_for_state(app: &TestApp, id: i64, openid: &str, kind: i16, state: i16) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = outbox(app, id, openid).await;
        if let Some(row) = rows.iter().find(|r| r.0 == kind && r.1 == state) {
            return json!(row.2);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{openid}'s notice {kind} never reached state {state}: {rows:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `claim_by` as a WeChat `time` value, in China time.
fn wechat_time(claim_by: &str) -> String {
    let at: DateTime<Utc> = claim_by.parse().unwrap();
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y年%m月%d日 %H:%M")
        .to_string()
}

async fn claim_by(app: &TestApp, id: i64, token: &str) -> String {
    let r = app.get(&format!("/events/{id}/claim"), Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["claim_by"].as_str().unwrap().to_string()
}

/// Everyone wins (five Golds, five joiners) with a three-day window: the
/// reminder is due a day before `claim_by`. Only those who accepted it
/// get one, once; one who claimed before it came due is skipped, and
/// nothing more comes when the window closes.
async fn a_winner_who_accepted_gets_one_reminder_a_day_before_claim_by(backend: Backend) {
    let (mock, app) = setup(backend).await;
    let (creator, _) = login(&app, "creator").await;
    let id = event(&app, &creator, 3, 5).await;
    let both = join(&app, &mock, id, "both", &["result", "claim_reminder"]).await;
    join(&app, &mock, id, "result_only", &["result"]).await;
    join(&app, &mock, id, "reminder_only", &["claim_reminder"]).await;
    join(&app, &mock, id, "neither", &[]).await;
    let early = join(&app, &mock, id, "early", &["claim_reminder"]).await;
    draw(&app, &creator, id).await;

    // The results go at once; the reminders wait for their day.
    mock.settled(15, 2, Duration::from_millis(1500)).await;
    assert_eq!(accepted(&mock, TEMPLATE).len(), 2);
    assert!(accepted(&mock, CLAIM_TEMPLATE).is_empty());

    let r = app
        .call(
            Method::PUT,
            &format!("/events/{id}/claim"),
            Some(&early),
            Some(json!({"name": "李四", "phone": "13800000000", "address": "北京"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // A day before claim_by minus a minute: still nothing.
    app.clock
        .advance(chrono::Duration::days(2) - chrono::Duration::minutes(1));
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert!(accepted(&mock, CLAIM_TEMPLATE).is_empty());

    // Two minutes later the reminders are due.
    app.clock.advance(chrono::Duration::minutes(2));
    mock.settled(15, 4, Duration::from_millis(2500)).await;
    let reminders = accepted(&mock, CLAIM_TEMPLATE);
    let mut told: Vec<&str> = reminders.iter().map(|m| m.touser.as_str()).collect();
    told.sort();
    assert_eq!(told, ["o_both", "o_reminder_only"]);
    let message = &reminders
        .iter()
        .find(|m| m.touser == "o_both")
        .unwrap()
        .body;
    assert_eq!(
        message["data"],
        json!({
            "thing1": {"value": "领奖提醒测试"},
            "thing2": {"value": "Gold"},
            "time3": {"value": wechat_time(&claim_by(&app, id, &both).await)},
            "thing4": {"value": lottery::domain::notice::CLAIM_HINT},
        })
    );
    assert_eq!(message["page"], format!("pages/event/index?id={id}"));
    // Claimed before it came due: recorded as not needed, never sent.
    let why = wait_for_state(&app, id, "o_early", 3, 3).await;
    assert_eq!(why, json!("not needed: the claim is claimed"));

    // Past claim_by: the window closes and nobody hears more.
    app.clock.advance(chrono::Duration::days(2));
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(mock.delivered().values().sum::<usize>(), 4);
    nothing_refused(&mock);
}

/// One Gold, two joiners who accepted both kinds, a one-day window. The
/// winner never claims: their reminder (due half a day before claim_by)
/// comes due only after the window closed, so it is skipped. The re-draw's
/// winner already had their result message (they lost round 1), so the
/// reminder goes at once and carries the new window.
async fn a_redraws_winner_is_told_at_once_and_a_lapsed_claim_is_not_reminded(backend: Backend) {
    let (mock, app) = setup(backend).await;
    let (creator, _) = login(&app, "creator").await;
    let id = event(&app, &creator, 1, 1).await;
    let mut tokens = vec![];
    for name in ["x", "y"] {
        let token = join(&app, &mock, id, name, &["result", "claim_reminder"]).await;
        tokens.push((name, token));
    }
    draw(&app, &creator, id).await;
    mock.settled(15, 2, Duration::from_millis(1000)).await;
    let mut first = None;
    for (name, token) in &tokens {
        let r = app.get(&format!("/events/{id}/claim"), Some(token)).await;
        if r.status == 200 {
            first = Some(*name);
        }
    }
    let first = first.expect("one of them won");
    let (second, second_token) = tokens.iter().find(|(n, _)| *n != first).unwrap();

    // The clock jumps past claim_by at once: the reminder is found due
    // with its claim already expired.
    app.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let why = wait_for_state(&app, id, &format!("o_{first}"), 3, 3).await;
    assert_eq!(why, json!("not needed: the claim is expired"));

    let r = app
        .post(&format!("/events/{id}/redraw"), Some(&creator), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_winner = r.data()["winners"][0]["user"]["id"].as_i64().unwrap();
    let (_, second_id) = login(&app, second).await;
    assert_eq!(new_winner, second_id);

    mock.settled(15, 3, Duration::from_millis(2000)).await;
    let reminders = accepted(&mock, CLAIM_TEMPLATE);
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0].touser, format!("o_{second}"));
    assert_eq!(
        reminders[0].body["data"]["time3"]["value"],
        wechat_time(&claim_by(&app, id, second_token).await)
    );
    assert_eq!(
        outbox(&app, id, &format!("o_{second}")).await,
        vec![(1, 1, None), (3, 1, None)],
        "one result, one reminder, both sent"
    );
    nothing_refused(&mock);
}
