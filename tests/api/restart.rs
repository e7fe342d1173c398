use std::collections::HashSet;

use futures::future::join_all;
use lottery::store::Db;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    scheduled_draw_survives_a_restart,
    interrupted_draw_finishes_with_the_same_result,
    the_count_is_live_and_the_row_catches_up,
    a_whole_event_is_read_in_pages
);

async fn scheduled_draw_survives_a_restart(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(4)).await["id"]
        .as_i64()
        .unwrap();
    let mut users = vec![];
    for i in 0..40 {
        users.push(app.login(&format!("s{i}")).await);
    }
    let replies = join_all(users.iter().map(|(t, _)| app.join(t, id))).await;
    let acknowledged: HashSet<i64> = users
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == 200)
        .map(|((_, uid), _)| *uid)
        .collect();
    assert_eq!(acknowledged.len(), 40);
    app.stop().await;

    let app = TestApp::spawn_on(url, &[]).await;
    let drawn = app.wait_status(id, "drawn", 20).await;
    assert_eq!(drawn["participant_count"], 40);
    let fairness = crate::draw::verify_results(&app, id).await;
    let considered = crate::draw::considered(&fairness);
    assert_eq!(considered, acknowledged, "nothing acknowledged is missing");
}

async fn interrupted_draw_finishes_with_the_same_result(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "i", 25).await;
    app.stop().await;

    // A crash right after open → drawing, before the winners were written.
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    execute_sql(&db, format!("UPDATE events SET status = 1 WHERE id = {id}")).await;

    let app = TestApp::spawn_on(url, &[]).await;
    let drawn = app.wait_status(id, "drawn", 20).await;
    assert_eq!(drawn["participant_count"], 25);
    let fairness = crate::draw::verify_results(&app, id).await;
    assert_eq!(fairness["winners"].as_array().unwrap().len(), 3);
}

/// The event row's count trails the actor's by up to a second or two (a
/// hot event's batches skip the row update); views show the actor's, and
/// a row left behind by a crash is rewritten at the next start.
async fn the_count_is_live_and_the_row_catches_up(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    app.joined_users(id, "c", 5).await;
    // Well within the actor's first second: the row may still say 0.
    let view = app.get(&format!("/api/v1/events/{id}"), None).await;
    assert_eq!(view.data()["participant_count"], 5);
    wait_for_row_count(&db, id, 5).await;
    app.stop().await;

    // As if the server died before the last joins reached the row.
    execute_sql(
        &db,
        format!("UPDATE events SET participant_count = 2 WHERE id = {id}"),
    )
    .await;
    let app = TestApp::spawn_on(url, &[]).await;
    wait_for_row_count(&db, id, 5).await;
    let view = app.get(&format!("/api/v1/events/{id}"), None).await;
    assert_eq!(view.data()["participant_count"], 5);
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    participant_count: i32,
}

async fn row_count(db: &Db, id: i64) -> lottery::error::AppResult<i32> {
    let rows: Vec<CountRow> = lottery::db_run!(db, |conn| {
        Ok(diesel::sql_query(format!(
            "SELECT participant_count FROM events WHERE id = {id}"
        ))
        .load(conn)
        .await?)
    })?;
    Ok(rows[0].participant_count)
}

async fn wait_for_row_count(db: &Db, id: i64, expected: i32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let count = row_count(db, id).await.unwrap();
        if count == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the event row still says {count} participants, not {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The reload, the draw and the fairness record read an event's
/// participants a page at a time (on SQLite a single read of a million
/// held 335 MB of copied rows). Pages of every size, across the gap a leave
/// leaves and another event's rows in between, give each participant once.
async fn a_whole_event_is_read_in_pages(backend: Backend) {
    use lottery::store::participants::user_ids_in_pages;
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body.clone()).await["id"]
        .as_i64()
        .unwrap();
    let other = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..23 {
        let (token, user_id) = app.login(&format!("p{i}")).await;
        assert_eq!(app.join(&token, id).await.status, 200);
        // Rows of another event between this one's, in the join order.
        assert_eq!(app.join(&token, other).await.status, 200);
        if i == 7 {
            let left = app.leave(&token, id).await;
            assert_eq!(left.status, 200, "{:?}", left.body);
        } else {
            expected.insert(user_id);
        }
    }
    // Each 200 was answered after its commit: the rows are all there.
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    for page in [1, 2, 4, 21, 22, 23, 1000] {
        let ids = user_ids_in_pages(&db, id, page).await.unwrap();
        assert_eq!(ids.len(), expected.len(), "page of {page}: no one twice");
        let read: std::collections::BTreeSet<i64> = ids.into_iter().collect();
        assert_eq!(read, expected, "page of {page}");
    }
    // The actor's reload goes through the same reads: after a restart the
    // event has its 22 participants, and the draw considers all of them.
    app.stop().await;
    let app = TestApp::spawn_on(url, &[]).await;
    let event = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(event.status, 200, "{:?}", event.body);
    assert_eq!(event.data()["participant_count"], 22, "{:?}", event.body);
    let (owner, _) = app.login("owner").await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    let fairness = crate::draw::verify_results(&app, id).await;
    let considered: std::collections::BTreeSet<i64> =
        crate::draw::considered(&fairness).into_iter().collect();
    assert_eq!(
        considered, expected,
        "the draw considered every participant"
    );
}
