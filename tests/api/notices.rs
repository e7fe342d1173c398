//! Result notices through WeChat subscribe messages, against the local
//! WeChat mock: who gets one, what it says, retries, permanent failures,
//! token expiry, a crash mid-send, two instances on one outbox.

use std::collections::HashMap;
use std::time::Duration;

use lottery::actors::notifier::IN_FLIGHT;
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{execute_sql, fresh_database, in_secs, redis_server, Backend, TestApp};
use crate::wechat_mock::{login, WechatMock, TEMPLATE};

/// A manual event of `creator` with one Gold and two Silver prizes.
async fn manual_event(app: &TestApp, creator: &str, title: &str) -> i64 {
    let event = app
        .create_event(
            creator,
            json!({
                "title": title,
                "draw_at": in_secs(3600),
                "draw_mode": "manual",
                "prizes": [{"name": "Gold", "quantity": 1}, {"name": "Silver", "quantity": 2}]
            }),
        )
        .await;
    event["id"].as_i64().unwrap()
}

/// `n` users `{prefix}{i}` (openid `o_{prefix}{i}`) join, the first
/// `with_notice` of them asking for notice. Their openids, in order; the
/// user ids go to `ids` when given.
async fn join_all(
    app: &TestApp,
    event: i64,
    prefix: &str,
    n: usize,
    with_notice: usize,
) -> Vec<String> {
    join_all_with_ids(app, event, prefix, n, with_notice)
        .await
        .into_iter()
        .map(|(openid, _)| openid)
        .collect()
}

async fn join_all_with_ids(
    app: &TestApp,
    event: i64,
    prefix: &str,
    n: usize,
    with_notice: usize,
) -> Vec<(String, i64)> {
    let mut openids = vec![];
    for i in 0..n {
        let name = format!("{prefix}{i}");
        let (token, user_id) = login(app, &name).await;
        let r = app
            .call(
                Method::PUT,
                &format!("/events/{event}/participants/me"),
                Some(&token),
                Some(json!({"notify": i < with_notice})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        openids.push((format!("o_{name}"), user_id));
    }
    openids
}

async fn draw(app: &TestApp, creator: &str, event: i64) -> Value {
    let r = app
        .post(&format!("/events/{event}/draw"), Some(creator), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().clone()
}

/// user id → prize name of the event's winners.
async fn winners(app: &TestApp, event: i64) -> HashMap<i64, String> {
    let r = app.get(&format!("/events/{event}/winners"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let user = item["user"]["id"].as_i64().unwrap();
            (user, item["prize"]["name"].as_str().unwrap().to_string())
        })
        .collect()
}

/// (state, attempts, error) of every notice of the event, by openid.
async fn outbox(app: &TestApp, event: i64) -> HashMap<String, (i16, i32, Option<String>)> {
    let db = lottery::store::Db::connect(&app.database_url, 1, Duration::from_secs(5))
        .await
        .unwrap();
    let rows: Vec<(String, i16, i32, Option<String>)> = async {
        lottery::db_run!(&db, |conn| {
            use lottery::store::schema::{notices, users};
            Ok(notices::table
                .inner_join(users::table)
                .filter(notices::event_id.eq(event))
                .select((
                    users::openid,
                    notices::state,
                    notices::attempts,
                    notices::error,
                ))
                .load(conn)
                .await?)
        })
    }
    .await
    .unwrap();
    rows.into_iter()
        .map(|(openid, state, attempts, error)| (openid, (state, attempts, error)))
        .collect()
}

/// The mock, an app on a fresh database with `extra` settings, a creator
/// and their manual event titled `title`.
async fn setup(
    backend: Backend,
    title: &str,
    extra: &[(&str, &str)],
) -> (WechatMock, TestApp, String, i64) {
    let mock = WechatMock::start(Duration::ZERO).await;
    let app = mock.app(&fresh_database(backend), extra).await;
    let (creator, _) = login(&app, "creator").await;
    let event = manual_event(&app, &creator, title).await;
    (mock, app, creator, event)
}

both_backends!(
    a_draw_tells_exactly_those_who_asked,
    a_cancellation_tells_exactly_those_who_asked,
    transient_failures_retry_and_permanent_ones_are_recorded,
    an_expired_token_is_replaced_once_mid_batch,
    two_instances_never_send_one_notice_twice,
    a_crash_mid_send_loses_nothing_and_repeats_only_what_was_in_flight,
    sent_notices_are_deleted_after_a_month_and_failed_ones_kept,
    a_graceful_stop_finishes_its_sends_and_gives_the_rest_back,
    a_notice_of_an_unknown_kind_is_recorded_failed_and_the_rest_go,
    too_few_participants_tell_those_who_asked_it_was_cancelled,
    a_fanout_expands_in_pages_once_per_participant_under_races,
);

async fn a_draw_tells_exactly_those_who_asked(backend: Backend) {
    let (mock, app, creator, event) =
        setup(backend, "年终抽奖 Year-end draw for the whole team", &[]).await;
    let joined = join_all_with_ids(&app, event, "p", 30, 25).await;
    let openids: Vec<String> = joined.iter().map(|(o, _)| o.clone()).collect();
    let user_of: HashMap<&String, i64> = joined.iter().map(|(o, id)| (o, *id)).collect();
    let drawn = draw(&app, &creator, event).await;
    assert_eq!(drawn["status"], "drawn");

    let asked: Vec<&String> = openids[..25].iter().collect();
    let delivered = mock.settled(15, 25, Duration::from_millis(1500)).await;
    for openid in &openids[..25] {
        assert_eq!(delivered.get(openid), Some(&1), "{openid}: {delivered:?}");
    }
    for openid in &openids[25..] {
        assert_eq!(delivered.get(openid), None, "{openid} did not ask");
    }
    assert_eq!(delivered.len(), 25);

    // What each says: the template, the page, the title cut to 20
    // characters, and the participant's own result.
    let prizes = winners(&app, event).await;
    assert_eq!(prizes.len(), 3, "{prizes:?}");
    for message in mock.received() {
        let body = &message.body;
        assert_eq!(body["template_id"], TEMPLATE);
        assert_eq!(body["page"], format!("pages/event/index?id={event}"));
        assert_eq!(body["miniprogram_state"], "formal");
        let data = &body["data"];
        let title = data["thing1"]["value"].as_str().unwrap();
        // Cut to 20 characters; the space before the cut goes too.
        assert_eq!(title, "年终抽奖 Year-end draw…");
        assert!(
            title.starts_with("年终抽奖 Year-end") && title.ends_with('…'),
            "{title}"
        );
        assert!(data["time4"]["value"].as_str().unwrap().contains('年'));
        let user = user_of[&message.touser];
        match prizes.get(&user) {
            Some(prize) => {
                assert_eq!(data["phrase2"]["value"], "已中奖");
                assert_eq!(data["thing3"]["value"], prize.as_str());
            }
            None => {
                assert_eq!(data["phrase2"]["value"], "未中奖");
                assert_eq!(data["thing3"]["value"], "未中奖");
            }
        }
        assert!(asked.contains(&&message.touser));
    }

    let rows = outbox(&app, event).await;
    assert_eq!(rows.len(), 25, "one outbox row per participant who asked");
    assert!(
        rows.values()
            .all(|(state, attempts, _)| *state == 1 && *attempts == 1),
        "{rows:?}"
    );
}

async fn a_cancellation_tells_exactly_those_who_asked(backend: Backend) {
    let (mock, app, creator, event) = setup(backend, "Cancelled one", &[]).await;
    let openids = join_all(&app, event, "c", 10, 6).await;
    let r = app
        .post(
            &format!("/events/{event}/cancel"),
            Some(&creator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let delivered = mock.settled(15, 6, Duration::from_millis(1500)).await;
    for (i, openid) in openids.iter().enumerate() {
        let expected = if i < 6 { Some(&1) } else { None };
        assert_eq!(delivered.get(openid), expected, "{openid}");
    }
    for message in mock.received() {
        assert_eq!(message.body["data"]["phrase2"]["value"], "已取消");
        assert_eq!(message.body["data"]["thing3"]["value"], "活动已取消");
    }
}

/// An event that draws with fewer than its minimum is cancelled in the
/// draw's transaction, and those who asked for the result are told it was
/// cancelled, once each; a draw that ran again (the creator asking twice)
/// tells nobody twice.
async fn too_few_participants_tell_those_who_asked_it_was_cancelled(backend: Backend) {
    let (mock, app, creator, _) = setup(backend, "unused", &[]).await;
    let event = app
        .create_event(
            &creator,
            json!({"title": "Not enough", "draw_mode": "manual", "draw_at": in_secs(3600),
                   "min_participants": 10, "prizes": [{"name": "Gold", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let openids = join_all(&app, event, "few", 4, 3).await;
    let drawn = draw(&app, &creator, event).await;
    assert_eq!(drawn["status"], "cancelled");
    assert_eq!(drawn["cancel_reason"], "too_few_participants");
    let again = app
        .post(&format!("/events/{event}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(again.code(), 40901, "{:?}", again.body);

    let delivered = mock.settled(15, 3, Duration::from_millis(1500)).await;
    for (i, openid) in openids.iter().enumerate() {
        let expected = if i < 3 { Some(&1) } else { None };
        assert_eq!(delivered.get(openid), expected, "{openid}");
    }
    for message in mock.received() {
        assert_eq!(message.body["data"]["phrase2"]["value"], "已取消");
    }
    assert_eq!(outbox(&app, event).await.len(), 3);
}

async fn transient_failures_retry_and_permanent_ones_are_recorded(backend: Backend) {
    let (mock, app, creator, event) = setup(backend, "Retries", &[]).await;
    let openids = join_all(&app, event, "r", 4, 4).await;
    // r0: busy, then a 5xx-like errcode, then fine; r1: no subscription left.
    mock.script(&openids[0], &[-1, -1]);
    mock.script(&openids[1], &[43101]);
    draw(&app, &creator, event).await;

    mock.wait_for(20, "r0 after two retries", |d| {
        d.get(&openids[0]) == Some(&1)
            && d.get(&openids[2]) == Some(&1)
            && d.get(&openids[3]) == Some(&1)
    })
    .await;
    // Long enough for a wrong retry of r1 (the first backoff is 1.6–2.4 s).
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let to_r1: Vec<_> = mock
        .received()
        .into_iter()
        .filter(|m| m.touser == openids[1])
        .collect();
    assert_eq!(
        to_r1.len(),
        1,
        "a permanent failure is not retried: {to_r1:?}"
    );
    assert_eq!(to_r1[0].errcode, 43101);
    let to_r0 = mock
        .received()
        .into_iter()
        .filter(|m| m.touser == openids[0])
        .count();
    assert_eq!(to_r0, 3, "two failures, then the message");

    let rows = outbox(&app, event).await;
    let (state, attempts, error) = &rows[&openids[1]];
    assert_eq!((*state, *attempts), (2, 1), "failed after one attempt");
    assert!(error.as_deref().unwrap().contains("43101"), "{error:?}");
    let (state, attempts, error) = &rows[&openids[0]];
    assert_eq!((*state, *attempts, error), (1, 3, &None));
}

async fn an_expired_token_is_replaced_once_mid_batch(backend: Backend) {
    let (mock, app, creator, event) = setup(backend, "Token expiry", &[]).await;
    let openids = join_all(&app, event, "t", 40, 40).await;
    let fetches_before = mock.token_fetches();
    assert_eq!(
        fetches_before, 1,
        "the content check fetched the first token"
    );
    mock.expire_token_after(10);
    draw(&app, &creator, event).await;

    let delivered = mock.settled(20, 40, Duration::from_secs(1)).await;
    assert!(
        openids.iter().all(|o| delivered.get(o) == Some(&1)),
        "{delivered:?}"
    );
    assert_eq!(
        mock.token_fetches() - fetches_before,
        1,
        "one refresh for the whole batch, after the expiry"
    );
}

async fn two_instances_never_send_one_notice_twice(backend: Backend) {
    let mock = WechatMock::start(Duration::from_millis(20)).await;
    let url = fresh_database(backend);
    // One Redis prefix for both, as two instances of one deployment.
    let tag: u64 = rand::rng().random();
    let prefix = format!("lottery_test_{tag:016x}:");
    // Batches of rate × claim / 2 = 20: six of them, so the instance that
    // was not rung finds work at its one-second polls.
    let mut shared = vec![
        ("LOTTERY_NOTIFY_RATE", "20"),
        ("LOTTERY_NOTIFY_CLAIM_SECS", "2"),
    ];
    if backend == Backend::Mysql && redis_server().is_some() {
        shared.push(("LOTTERY_REDIS_PREFIX", prefix.as_str()));
    }
    let mut first = shared.clone();
    first.push(("LOTTERY_WECHAT_RESULT_PAGE", "pages/a?id={id}"));
    let mut second = shared.clone();
    second.push(("LOTTERY_WECHAT_RESULT_PAGE", "pages/b?id={id}"));
    let a = mock.app(&url, &first).await;
    let b = mock.app(&url, &second).await;
    let (creator, _) = login(&a, "creator").await;
    let event = manual_event(&a, &creator, "Two senders").await;
    let openids = join_all(&a, event, "s", 120, 120).await;
    draw(&a, &creator, event).await;

    let delivered = mock.settled(30, 120, Duration::from_millis(2500)).await;
    assert!(
        openids.iter().all(|o| delivered.get(o) == Some(&1)),
        "{delivered:?}"
    );
    let by = |page: &str| {
        mock.received()
            .iter()
            .filter(|m| m.body["page"].as_str().unwrap().starts_with(page))
            .count()
    };
    assert!(
        by("pages/a") > 0 && by("pages/b") > 0,
        "both instances sent: a {} b {}",
        by("pages/a"),
        by("pages/b")
    );
    // With Redis the instances share one token: the one the content check
    // fetched. Without it each fetches its own.
    let shared_token = backend == Backend::Mysql && redis_server().is_some();
    assert_eq!(mock.token_fetches(), if shared_token { 1 } else { 2 });
    b.stop().await;
    a.stop().await;
}

/// 80 participants asking for notice, drawn, the mock answering each send
/// in 100 ms: returns once 20 messages arrived, the rest still to send
/// (the mock, the database URL, the app, the event, the openids).
async fn mid_send(
    backend: Backend,
    settings: &[(&str, &str)],
) -> (WechatMock, String, TestApp, i64, Vec<String>) {
    let mock = WechatMock::start(Duration::from_millis(100)).await;
    let url = fresh_database(backend);
    let app = mock.app(&url, settings).await;
    let (creator, _) = login(&app, "creator").await;
    let event = manual_event(&app, &creator, "Mid-send").await;
    let openids = join_all(&app, event, "m", 80, 80).await;
    draw(&app, &creator, event).await;
    mock.wait_for(20, "a first part sent", |d| d.values().sum::<usize>() >= 20)
        .await;
    (mock, url, app, event, openids)
}

/// A crash in the middle of sending: the restarted app sends the rest,
/// and only the sends in flight at the crash may go twice.
async fn a_crash_mid_send_loses_nothing_and_repeats_only_what_was_in_flight(backend: Backend) {
    let settings = [
        ("LOTTERY_NOTIFY_RATE", "50"),
        ("LOTTERY_NOTIFY_CLAIM_SECS", "2"),
    ];
    let (mock, url, app, event, openids) = mid_send(backend, &settings).await;
    app.stop().await;
    let before_restart = mock.delivered();
    assert!(
        before_restart.len() < 80,
        "the crash came too late to test anything"
    );

    let app = mock.app(&url, &settings).await;
    let delivered = mock
        .wait_for(30, "every notice after the restart", |d| {
            openids.iter().all(|o| d.contains_key(o))
        })
        .await;
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let delivered_now = mock.delivered();
    assert_eq!(delivered, delivered_now);
    let twice: usize = delivered.values().map(|n| n - 1).sum();
    assert!(
        twice <= IN_FLIGHT,
        "{twice} sent twice, more than the {IN_FLIGHT} in flight"
    );
    println!(
        "crash test: {twice} notices sent twice ({} before the crash)",
        before_restart.len()
    );
    let rows = outbox(&app, event).await;
    assert!(rows.values().all(|(state, _, _)| *state == 1), "{rows:?}");
}

async fn sent_notices_are_deleted_after_a_month_and_failed_ones_kept(backend: Backend) {
    let (mock, app, creator, event) = setup(backend, "Retention", &[]).await;
    let openids = join_all(&app, event, "old", 3, 3).await;
    mock.script(&openids[2], &[43101]);
    draw(&app, &creator, event).await;
    mock.settled(15, 2, Duration::from_millis(500)).await;
    let db = lottery::store::Db::connect(&app.database_url, 1, Duration::from_secs(5))
        .await
        .unwrap();
    // The first was sent 40 days ago; the failed one is as old.
    execute_sql(
        &db,
        format!(
            "UPDATE notices SET sent_at = '2000-01-01 00:00:00' \
             WHERE event_id = {event} AND user_id = (SELECT id FROM users WHERE openid = '{}')",
            openids[0]
        ),
    )
    .await;
    execute_sql(
        &db,
        format!("UPDATE notices SET sent_at = '2000-01-01 00:00:00' WHERE event_id = {event} AND state = 2"),
    )
    .await;
    let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
    let deleted = lottery::store::notices::purge_sent(&db, month_ago, 100)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let rows = outbox(&app, event).await;
    assert!(!rows.contains_key(&openids[0]), "{rows:?}");
    assert_eq!(rows[&openids[1]].0, 1, "a recent sent notice stays");
    assert_eq!(rows[&openids[2]].0, 2, "a failed notice stays");
}

/// A graceful stop (SIGTERM's path): the sends in flight finish and are
/// recorded, the rest of the claim goes back at once. Another instance
/// sends it right away (not after the 60 s claim) and nothing goes twice.
async fn a_graceful_stop_finishes_its_sends_and_gives_the_rest_back(backend: Backend) {
    let settings = [("LOTTERY_NOTIFY_RATE", "50")];
    let (mock, url, app, _, openids) = mid_send(backend, &settings).await;
    app.shut_notifier_down().await;
    let before = mock.delivered().values().sum::<usize>();
    assert!(before < 80, "the stop came too late to test anything");

    let other = mock.app(&url, &settings).await;
    // Well inside the 60 s the claim would have held the rest.
    let delivered = mock.settled(15, 80, Duration::from_millis(1500)).await;
    assert!(
        openids.iter().all(|o| delivered.get(o) == Some(&1)),
        "{delivered:?}"
    );
    other.stop().await;
}

/// A row whose kind this version does not know (written by hand, or by a
/// newer version) is marked failed with its number, and the batch it was
/// claimed with still goes.
async fn a_notice_of_an_unknown_kind_is_recorded_failed_and_the_rest_go(backend: Backend) {
    let (mock, app, creator, event) = setup(backend, "Unknown kind", &[]).await;
    let openids = join_all(&app, event, "u", 3, 2).await;
    let db = lottery::store::Db::connect(&app.database_url, 1, Duration::from_secs(5))
        .await
        .unwrap();
    execute_sql(
        &db,
        format!(
            "INSERT INTO notices (event_id, user_id, kind, state, attempts, due_at, created_at) \
             SELECT {event}, id, 7, 0, 0, '2000-01-01 00:00:00', '2000-01-01 00:00:00' \
             FROM users WHERE openid = '{}'",
            openids[2]
        ),
    )
    .await;
    draw(&app, &creator, event).await;

    let delivered = mock.settled(15, 2, Duration::from_millis(1500)).await;
    assert_eq!(delivered.get(&openids[2]), None, "{delivered:?}");
    let rows = outbox(&app, event).await;
    assert_eq!(
        rows[&openids[2]],
        (2, 1, Some("unknown notice kind 7".to_string())),
        "{rows:?}"
    );
    assert!(
        openids[..2].iter().all(|o| rows[o].0 == 1),
        "the known ones are sent: {rows:?}"
    );
}

/// The fan-out a draw records (`store::notices::queue_sql`) expanded a
/// page of 4 participants at a time by two senders at once: every
/// participant who asked gets exactly one outbox row, the others (and one
/// who left, a gap in the join order) none, and the fan-out is gone at the
/// end. Each page commits on its own, so a sender that dies between pages
/// (a crash) leaves the rest to the other, as here.
async fn a_fanout_expands_in_pages_once_per_participant_under_races(backend: Backend) {
    use lottery::domain::notice::NoticeKind;
    use lottery::store::notices::{due_at_least, expand_fanout, queue_sql};
    // No WeChat configured: no notifier, and the draw records no fan-out
    // of its own; the test records one and expands it itself.
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("fan_creator").await;
    let event = manual_event(&app, &creator, "Fan-out").await;
    let mut asked = std::collections::BTreeSet::new();
    for i in 0..23 {
        let (token, user_id) = app.login(&format!("fan{i}")).await;
        let notify = i % 3 != 0;
        let r = app
            .call(
                Method::PUT,
                &format!("/events/{event}/participants/me"),
                Some(&token),
                Some(json!({ "notify": notify })),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if i == 10 {
            let left = app.leave(&token, event).await;
            assert_eq!(left.status, 200, "{:?}", left.body);
        } else if notify {
            asked.insert(user_id);
        }
    }
    draw(&app, &creator, event).await;
    let db = lottery::store::Db::connect(&app.database_url, 4, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        !expand_fanout(&db, chrono::Utc::now(), 4).await.unwrap(),
        "no template, no fan-out"
    );
    execute_sql(
        &db,
        queue_sql(event, NoticeKind::Result, chrono::Utc::now()),
    )
    .await;

    let expand = || async {
        let mut pages = 0;
        while expand_fanout(&db, chrono::Utc::now(), 4).await.unwrap() {
            pages += 1;
        }
        pages
    };
    // Four expanders at once, on four connections: on MySQL they once
    // deadlocked on the fan-out's row (each holding the INSERT ... SELECT's
    // shared lock, each asking for the exclusive one), and one was refused.
    let (a, b, c, d) = futures::join!(expand(), expand(), expand(), expand());
    // 22 participants in pages of 4: 6 pages, the last one deleting the
    // fan-out; a page two read is written by one and skipped by the other.
    assert!(a + b + c + d >= 6, "{a} + {b} + {c} + {d} pages");
    let rows: Vec<(i64, i16)> = async {
        lottery::db_run!(&db, |conn| {
            use lottery::store::schema::notices;
            Ok(notices::table
                .filter(notices::event_id.eq(event))
                .select((notices::user_id, notices::kind))
                .load(conn)
                .await?)
        })
    }
    .await
    .unwrap();
    let mut users: Vec<i64> = rows.iter().map(|r| r.0).collect();
    users.sort_unstable();
    assert_eq!(
        users,
        asked.iter().copied().collect::<Vec<_>>(),
        "one row per participant who asked"
    );
    assert!(rows.iter().all(|r| r.1 == NoticeKind::Result.to_db()));
    assert!(
        !expand_fanout(&db, chrono::Utc::now(), 4).await.unwrap(),
        "the fan-out is gone"
    );
    // How far the expansion is ahead: every expanded row is due now.
    let due = asked.len() as i64;
    let now = chrono::Utc::now();
    assert!(due_at_least(&db, now, due).await.unwrap());
    assert!(!due_at_least(&db, now, due + 1).await.unwrap());
    assert!(
        !due_at_least(&db, now - chrono::Duration::hours(1), 1)
            .await
            .unwrap(),
        "none was due an hour ago"
    );
    app.stop().await;
}
