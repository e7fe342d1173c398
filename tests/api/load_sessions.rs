//! `POST /load-test/sessions`: bulk sessions for load tests, served only
//! with `LOTTERY_LOAD_TEST_SESSIONS=true` (the prod profile refuses the
//! setting: `config::tests::bulk_load_test_sessions_are_never_on_in_prod`).

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(bulk_sessions_log_users_in_as_a_login_would);

async fn bulk(app: &TestApp, body: Value) -> (u16, Value) {
    let reply = app
        .client
        .post(format!("{}/load-test/sessions", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

async fn bulk_sessions_log_users_in_as_a_login_would(backend: Backend) {
    let off = TestApp::spawn(backend).await;
    let (status, body) = bulk(&off, json!({"prefix": "m", "count": 2})).await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (404, Some(40400)),
        "{body}"
    );
    off.stop().await;

    let app = TestApp::spawn_with(backend, &[("LOTTERY_LOAD_TEST_SESSIONS", "true")]).await;
    let (status, body) = bulk(&app, json!({"prefix": "m", "first": 10, "count": 3})).await;
    assert_eq!(status, 200, "{body}");
    let sessions = body["data"]["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    let mut ids = Vec::new();
    for session in &sessions {
        let me = app.get("/me", session["token"].as_str()).await;
        assert_eq!(me.status, 200, "{:?}", me.body);
        assert_eq!(me.data()["id"], session["user_id"]);
        ids.push(session["user_id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct users");

    // The same names again: the same users (as a second login), new tokens.
    let (_, again) = bulk(&app, json!({"prefix": "m", "first": 11, "count": 2})).await;
    let again = again["data"]["sessions"].as_array().unwrap().clone();
    assert_eq!(again[0]["user_id"], sessions[1]["user_id"]);
    assert_eq!(again[1]["user_id"], sessions[2]["user_id"]);
    assert_ne!(again[0]["token"], sessions[1]["token"]);
    // A bulk user joins like anyone else.
    let (owner, _) = app.login("bulk_owner").await;
    let event = app.create_events(&owner, &[3600]).await[0];
    let join = app.join(again[0]["token"].as_str().unwrap(), event).await;
    assert_eq!(join.status, 200, "{:?}", join.body);

    for bad in [
        json!({"prefix": "", "count": 1}),
        json!({"prefix": "a b", "count": 1}),
        json!({"prefix": "m", "count": 0}),
        json!({"prefix": "m", "count": 10_001}),
        json!({"prefix": "m", "count": 1, "extra": 1}),
    ] {
        let (status, body) = bulk(&app, bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_i64()),
            (400, Some(40000)),
            "{bad}: {body}"
        );
    }
    app.stop().await;
}
