//! The actor mechanics clients can observe: backpressure and passivation.

use futures::future::join_all;
use lottery::store::Db;

use crate::both_backends;
use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    a_full_mailbox_is_a_503_that_changes_nothing,
    idle_actors_stop_and_reload_from_the_database,
    a_broken_event_does_not_take_others_down,
    made_up_ids_hold_no_actor,
    the_live_actor_cap_refuses_requests_but_not_due_draws,
    views_fill_the_cap_and_joins_still_get_in
);

/// Orders on ids no event has: each id costs one lookup, then a few
/// seconds of nothing (no actor, no query), and no actor stays behind.
async fn made_up_ids_hold_no_actor(backend: Backend) {
    // One user sends far more than a person would: no per-user limit.
    let app = TestApp::spawn_with(backend, &[("LOTTERY_LIMIT_USER", "off")]).await;
    let (user, _) = app.login("user").await;
    let ids: Vec<i64> = (0..50).map(|i| 1_000_000_000_000 + i).collect();
    let first = join_all(ids.iter().map(|id| app.join(&user, *id))).await;
    assert!(
        first.iter().all(|r| r.code() == 40400),
        "{:?}",
        first[0].body
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(app.live_actors(), 0, "no actor lingers for a missing event");

    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/events/{id}/participants/me"))
        .collect();
    let again = join_all(
        paths
            .iter()
            .map(|path| app.call(reqwest::Method::DELETE, path, Some(&user), None)),
    )
    .await;
    assert!(again.iter().all(|r| r.code() == 40400));
    let view = app.get(&format!("/events/{}", ids[0]), None).await;
    assert_eq!(view.code(), 40400);
    assert_eq!(app.live_actors(), 0, "remembered ids start no actor");
}

/// With `LOTTERY_MAX_LIVE_EVENTS` actors live, a request for another event
/// is a 503 with Retry-After; an event whose draw is due is drawn anyway.
async fn the_live_actor_cap_refuses_requests_but_not_due_draws(backend: Backend) {
    let app = TestApp::spawn_on(fresh_database(backend), &[("LOTTERY_MAX_LIVE_EVENTS", "2")]).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let ids = app.create_events(&owner, &[3600, 3600, 3600, 3]).await;
    assert_eq!(app.join(&user, ids[0]).await.status, 200);
    assert_eq!(app.join(&user, ids[1]).await.status, 200);
    let r = app.join(&user, ids[2]).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(app.participant_items(ids[2], 20).await.is_empty());

    app.wait_status(ids[3], "drawn", 15).await;
}

/// Issue 24, finding 2: anonymous views of open events started their actors
/// until `LOTTERY_MAX_LIVE_EVENTS` was reached, and then every join on an
/// event not yet live got 503. Views may still bring an event live (its
/// page is then served from memory), but a write takes the place of an
/// actor only views reached; views past the cap read the database.
async fn views_fill_the_cap_and_joins_still_get_in(backend: Backend) {
    let app = TestApp::spawn_on(fresh_database(backend), &[("LOTTERY_MAX_LIVE_EVENTS", "3")]).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let ids = app
        .create_events(&owner, &[3600, 3600, 3600, 3600, 3600, 3600])
        .await;
    for id in &ids {
        let view = app.get(&format!("/events/{id}"), None).await;
        assert_eq!(view.status, 200, "a view past the cap reads the database");
    }
    assert_eq!(
        app.live_actors(),
        3,
        "views bring events live up to the cap"
    );

    // Joins on the three events views did not bring live: each takes the
    // slot of an actor only views reached.
    for id in &ids[3..] {
        let r = app.join(&user, *id).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_eq!(app.live_actors(), 3);
    for id in &ids[3..] {
        let view = app.get(&format!("/events/{id}"), None).await;
        assert_eq!(view.data()["participant_count"], 1);
    }

    // Every live actor has had a write now: those are never evicted, and
    // a join on a fourth event is refused as before (nothing stored).
    let r = app.join(&user, ids[0]).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(app.participant_items(ids[0], 20).await.is_empty());
    for id in &ids[..3] {
        let view = app.get(&format!("/events/{id}"), None).await;
        assert_eq!(view.status, 200);
        assert_eq!(view.data()["participant_count"], 0);
    }
    for id in &ids[3..] {
        assert_eq!(app.participant_items(*id, 20).await.len(), 1);
    }
}

async fn a_full_mailbox_is_a_503_that_changes_nothing(backend: Backend) {
    let app = TestApp::spawn_on(fresh_database(backend), &[("LOTTERY_EVENT_MAILBOX", "1")]).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let mut users = vec![];
    for i in 0..200 {
        users.push(app.login(&format!("mb{i}")).await);
    }
    let replies = join_all(users.iter().map(|(t, _)| app.join(t, id))).await;
    let mut accepted = 0;
    let mut refused = 0;
    for r in &replies {
        match r.status.as_u16() {
            200 => accepted += 1,
            503 => {
                assert_eq!(r.code(), 50300);
                assert_eq!(r.headers["retry-after"], "1");
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", r.body),
        }
    }
    assert!(
        refused > 0,
        "a one-message mailbox must refuse some of 200 concurrent joins"
    );
    let event = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(
        event.data()["participant_count"],
        accepted,
        "only the 200s are stored"
    );
    // A refused user was not joined behind their back.
    let (token, _) = users
        .iter()
        .zip(&replies)
        .find(|(_, r)| r.status == 503)
        .map(|(u, _)| u)
        .unwrap();
    let view = app.get(&format!("/events/{id}"), Some(token)).await;
    assert_eq!(view.data()["me"]["joined"], false);
}

async fn idle_actors_stop_and_reload_from_the_database(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[("LOTTERY_ACTOR_IDLE_SECS", "1")]).await;
    let (owner, _) = app.login("owner").await;
    let (a_token, a_id) = app.login("a").await;
    let (b, _) = app.login("b").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.join(&a_token, id).await.data()["participant_count"], 1);

    // Behind the idle actor's back, remove a's row. An actor that stopped
    // and reloads sees it; one that never stopped would still count a.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2500)).await;
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    execute_sql(
        &db,
        format!("DELETE FROM participants WHERE event_id = {id} AND user_id = {a_id}"),
    )
    .await;

    let r = app.join(&b, id).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.data()["participant_count"],
        1,
        "the restarted actor loaded its state from the database"
    );
}

/// One event whose actor cannot start (its stored seed is corrupt) answers
/// 503 while its neighbours carry on; once the row is repaired the next
/// request starts a fresh actor from the database.
async fn a_broken_event_does_not_take_others_down(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let broken = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let healthy = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    run_sql(
        &db,
        &format!("UPDATE events SET seed = X'0102' WHERE id = {broken}"),
    )
    .await
    .unwrap();

    let r = app.join(&user, broken).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert_eq!(
        app.join(&user, healthy).await.status,
        200,
        "the other event is unaffected"
    );

    run_sql(
        &db,
        &format!(
            "UPDATE events SET seed = X'{}' WHERE id = {broken}",
            "00".repeat(32)
        ),
    )
    .await
    .unwrap();
    let r = app.join(&user, broken).await;
    assert_eq!(
        r.status, 200,
        "a fresh actor loads the repaired event: {:?}",
        r.body
    );
}

async fn run_sql(db: &Db, sql: &str) -> lottery::error::AppResult<()> {
    lottery::db_run!(db, |conn| {
        diesel::sql_query(sql).execute(conn).await?;
        Ok(())
    })
}
