use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use std::time::Duration;

use lottery::store::Db;

use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    join_and_leave_are_idempotent,
    full_events_refuse_joins,
    participants_are_paged_in_join_order,
    a_join_by_a_user_whose_row_is_gone_is_not_acknowledged
);

/// MySQL's INSERT IGNORE turned the foreign-key failure into a warning and
/// the join into a 200 with no row; only a duplicate may be skipped.
async fn a_join_by_a_user_whose_row_is_gone_is_not_acknowledged(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let (ghost, ghost_id) = app.login("ghost").await;
    let (user, _) = app.login("user").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let db = Db::connect(&url, 1, Duration::from_secs(5)).await.unwrap();
    execute_sql(&db, format!("DELETE FROM users WHERE id = {ghost_id}")).await;

    let r = app.join(&ghost, id).await;
    assert_ne!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"], json!(null));
    assert!(app.participant_items(id, 20).await.is_empty());
    // The event goes on for everyone else.
    let r = app.join(&user, id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["participant_count"], 1);
    assert_eq!(app.participant_items(id, 20).await.len(), 1);
}

async fn join_and_leave_are_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let id = app.create_event(&owner, event_body(60)).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/events/{id}/participants/me");

    let first = app
        .call(
            Method::PUT,
            &path,
            Some(&user),
            Some(json!({"notify": true})),
        )
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.data(),
        &json!({"joined": true, "participant_count": 1})
    );
    let second = app.join(&user, id).await;
    assert_eq!(
        second.data(),
        &json!({"joined": true, "participant_count": 1})
    );
    let view = app.get(&format!("/events/{id}"), Some(&user)).await;
    assert_eq!(view.data()["participant_count"], 1);
    assert_eq!(view.data()["me"]["joined"], true);

    let leave = app.call(Method::DELETE, &path, Some(&user), None).await;
    assert_eq!(
        leave.data(),
        &json!({"joined": false, "participant_count": 0})
    );
    let again = app.call(Method::DELETE, &path, Some(&user), None).await;
    assert_eq!(
        again.data(),
        &json!({"joined": false, "participant_count": 0})
    );
    assert_eq!(
        app.get(&format!("/events/{id}"), Some(&user)).await.data()["me"]["joined"],
        false
    );

    assert_eq!(app.join(&user, 987654).await.code(), 40400);
    assert_eq!(app.call(Method::PUT, &path, None, None).await.code(), 40100);
    let bad = app
        .call(
            Method::PUT,
            &path,
            Some(&user),
            Some(json!({"notify": "yes"})),
        )
        .await;
    assert_eq!(bad.code(), 40000);
}

async fn full_events_refuse_joins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(60);
    body["max_participants"] = json!(2);
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    for name in ["a", "b"] {
        let (t, _) = app.login(name).await;
        assert_eq!(app.join(&t, id).await.status, 200);
    }
    let (late, _) = app.login("c").await;
    let r = app.join(&late, id).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, 40902));
    assert_eq!(
        app.get(&format!("/events/{id}"), None).await.data()["participant_count"],
        2
    );
}

async fn participants_are_paged_in_join_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(60)).await["id"]
        .as_i64()
        .unwrap();
    let mut order = vec![];
    for i in 0..5 {
        let (t, uid) = app.login(&format!("p{i}")).await;
        app.join(&t, id).await;
        order.push(uid);
    }
    let mut seen = vec![];
    for item in app.participant_items(id, 2).await {
        assert!(item["joined_at"].is_string());
        seen.push(item["user"]["id"].as_i64().unwrap());
    }
    assert_eq!(seen, order);
    assert_eq!(
        app.get("/events/31337/participants", None).await.code(),
        40400
    );
}
