//! `Idempotency-Key` on `POST /api/v1/events`: a retry with the same key
//! and body answers the first creation (201, same event); the same key
//! with another body, or while the first is still being created, answers
//! 409 40901 and creates nothing (../API.md "Operations (v1.2)";
//! docs/API-NOTES.md "Retrying a creation").

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{event_body, execute_sql, stored_text, Backend, Reply, TestApp};

both_backends!(
    a_retry_with_the_same_key_and_body_answers_the_first_event,
    racing_retries_make_one_event,
    a_key_held_by_a_failed_or_abandoned_creation_is_free_again
);

/// POST /events with `key` (raw bytes of `body`, as a client retries them).
async fn create(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> Reply {
    let mut req = app
        .client
        .request(Method::POST, format!("{}/api/v1/events", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    Reply {
        status,
        body,
        headers,
    }
}

async fn created_ids(app: &TestApp, token: &str) -> Vec<i64> {
    let page = app
        .get("/me/events?role=created&limit=100", Some(token))
        .await;
    assert_eq!(page.status, 200);
    page.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// The same key and body: 201 with the first event, however often; the
/// same key with another body: 409 40901, nothing made; another user's
/// same key is their own; no key: a new event each time. A malformed key
/// is 40000 before anything is stored. The join password in the body is
/// not stored in clear with the key.
async fn a_retry_with_the_same_key_and_body_answers_the_first_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, _) = app.login("alice").await;
    let (bob, _) = app.login("bob").await;
    let mut body = event_body(3600);
    body["join_password"] = json!("口令 7319");
    let key = "4a0d7c1e-6f5b-4c29-9d1a-0b8e2f6a3c55";

    let first = create(&app, &alice, Some(key), &body).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let id = first.data()["id"].as_i64().unwrap();
    for _ in 0..2 {
        let again = create(&app, &alice, Some(key), &body).await;
        assert_eq!(again.status, 201, "{:?}", again.body);
        assert_eq!(again.data()["id"].as_i64(), Some(id));
        assert_eq!(again.data()["title"], first.data()["title"]);
    }
    let mut other = body.clone();
    other["title"] = json!("Another event");
    let conflict = create(&app, &alice, Some(key), &other).await;
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.code(), 40901);
    assert!(
        conflict.message().contains("another body"),
        "{}",
        conflict.message()
    );
    assert_eq!(created_ids(&app, &alice).await, [id]);

    let bobs = create(&app, &bob, Some(key), &body).await;
    assert_eq!(bobs.status, 201);
    assert_ne!(bobs.data()["id"].as_i64(), Some(id), "keys are per user");

    for bad in ["", "a key with spaces", &"k".repeat(256)] {
        let refused = create(&app, &alice, Some(bad), &other).await;
        assert_eq!(
            (refused.status.as_u16(), refused.code()),
            (400, 40000),
            "{bad:?}"
        );
    }
    // A retry after the draw time passed still gets its event (the body
    // would no longer pass the checks a new creation goes through).
    let mut soon = event_body(2);
    soon["title"] = json!("Soon drawn");
    let made = create(&app, &alice, Some("k-soon"), &soon).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let late = create(&app, &alice, Some("k-soon"), &soon).await;
    assert_eq!(late.status, 201, "{:?}", late.body);
    assert_eq!(late.data()["id"], made.data()["id"]);
    let fresh = create(&app, &alice, Some("k-soon-2"), &soon).await;
    assert_eq!(fresh.code(), 40000, "a new key checks the body");
    let unkeyed = [
        create(&app, &alice, None, &body).await,
        create(&app, &alice, None, &body).await,
    ];
    assert!(unkeyed.iter().all(|r| r.status == 201));
    assert_eq!(created_ids(&app, &alice).await.len(), 4);
    assert!(!stored_text(&app).await.contains("口令 7319"));
}

/// Eight requests with one key at once: every answer is the one event
/// (201) or 409 40901 (the first still being made), and one event exists.
async fn racing_retries_make_one_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (alice, _) = app.login("alice").await;
    let body = event_body(3600);
    let answers =
        futures::future::join_all((0..8).map(|_| create(&app, &alice, Some("race-1"), &body)))
            .await;
    let made = created_ids(&app, &alice).await;
    assert_eq!(made.len(), 1, "one event for one key");
    for answer in &answers {
        match answer.status.as_u16() {
            201 => assert_eq!(answer.data()["id"].as_i64(), Some(made[0])),
            409 => assert_eq!(answer.code(), 40901),
            other => panic!("{other}: {:?}", answer.body),
        }
    }
    assert!(answers.iter().any(|a| a.status == 201));
    let after = create(&app, &alice, Some("race-1"), &body).await;
    assert_eq!(after.data()["id"].as_i64(), Some(made[0]));
}

/// A creation refused after the key was taken (the open-events quota)
/// lets the key go: the retry, once allowed, creates. A key whose request
/// died before its event was committed (staged: no event, taken two
/// minutes ago) is taken over by a retry with the same body; one taken a
/// moment ago is still in progress (409). A key past its 24 hours is a
/// new key, whatever the body, and the keeper's sweep deletes it.
async fn a_key_held_by_a_failed_or_abandoned_creation_is_free_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("LOTTERY_MAX_OPEN_EVENTS_PER_USER", "1")]).await;
    let (alice, alice_id) = app.login("alice").await;
    let body = event_body(3600);
    let first = create(&app, &alice, Some("k-first"), &body).await;
    assert_eq!(first.status, 201);
    let first_id = first.data()["id"].as_i64().unwrap();
    let mut second = body.clone();
    second["title"] = json!("Second");
    let over = create(&app, &alice, Some("k-second"), &second).await;
    assert_eq!((over.status.as_u16(), over.code()), (409, 40901));
    assert!(over.message().contains("open"), "{}", over.message());
    let cancelled = app
        .post(
            &format!("/events/{first_id}/cancel"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200);
    let retried = create(&app, &alice, Some("k-second"), &second).await;
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    let second_id = retried.data()["id"].as_i64().unwrap();
    app.post(
        &format!("/events/{second_id}/cancel"),
        Some(&alice),
        json!({}),
    )
    .await;

    let db = &app.state.db;
    let at = |secs: i64| {
        (chrono::Utc::now() - chrono::Duration::seconds(secs))
            .naive_utc()
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string()
    };
    // As if the request holding "k-second" had stopped before committing.
    let stage = |secs: i64| {
        format!(
            "UPDATE idempotency_keys SET event_id = NULL, created_at = '{}' WHERE idem_key = 'k-second'",
            at(secs)
        )
    };
    execute_sql(db, stage(1)).await;
    let busy = create(&app, &alice, Some("k-second"), &second).await;
    assert_eq!((busy.status.as_u16(), busy.code()), (409, 40901));
    assert!(
        busy.message().contains("still being handled"),
        "{}",
        busy.message()
    );
    execute_sql(db, stage(120)).await;
    let other = create(&app, &alice, Some("k-second"), &body).await;
    assert_eq!(other.status, 409, "an abandoned key keeps its body");
    let taken = create(&app, &alice, Some("k-second"), &second).await;
    assert_eq!(taken.status, 201, "{:?}", taken.body);
    let third_id = taken.data()["id"].as_i64().unwrap();
    assert!(third_id != second_id && third_id != first_id);
    // A takeover decided on a stale read (the key looked abandoned, but its
    // creation has bound its event since) replaces nothing.
    let (bound, _) = lottery::store::idempotency::get(db, alice_id, "k-second")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bound.event_id, Some(third_id));
    let stale = lottery::domain::idempotency::KeyState {
        event_id: None,
        ..bound
    };
    let replaced = lottery::store::idempotency::take(
        db,
        alice_id,
        "k-second",
        "digest",
        1,
        Some(stale),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert!(!replaced);
    let (after, _) = lottery::store::idempotency::get(db, alice_id, "k-second")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, bound, "the binding stands");
    app.post(
        &format!("/events/{third_id}/cancel"),
        Some(&alice),
        json!({}),
    )
    .await;

    execute_sql(
        db,
        format!(
            "UPDATE idempotency_keys SET created_at = '{}' WHERE idem_key = 'k-first'",
            at(25 * 3600)
        ),
    )
    .await;
    let renewed = create(&app, &alice, Some("k-first"), &second).await;
    assert_eq!(renewed.status, 201, "an expired key is a new key");
    assert!(![first_id, second_id, third_id].contains(&renewed.data()["id"].as_i64().unwrap()));
    execute_sql(
        db,
        format!(
            "UPDATE idempotency_keys SET created_at = '{}' WHERE idem_key = 'k-second'",
            at(25 * 3600)
        ),
    )
    .await;
    let held = |key: &'static str| lottery::store::idempotency::get(db, alice_id, key);
    assert!(held("k-second").await.unwrap().is_some());
    app.sweep_claims().await;
    assert!(
        held("k-second").await.unwrap().is_none(),
        "swept after its 24 hours"
    );
    assert!(
        held("k-first").await.unwrap().is_some(),
        "a key of today is kept"
    );
}
