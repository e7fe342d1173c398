use std::collections::HashSet;

use futures::future::join_all;
use lottery::store::Db;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, fresh_database, Backend, TestApp};

both_backends!(
    scheduled_draw_survives_a_restart,
    interrupted_draw_finishes_with_the_same_result
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
    for i in 0..25 {
        let (t, _) = app.login(&format!("i{i}")).await;
        assert_eq!(app.join(&t, id).await.status, 200);
    }
    app.stop().await;

    // A crash right after open → drawing, before the winners were written.
    let db = Db::connect(&url, 1).await.unwrap();
    mark_drawing(&db, id).await;

    let app = TestApp::spawn_on(url, &[]).await;
    let drawn = app.wait_status(id, "drawn", 20).await;
    assert_eq!(drawn["participant_count"], 25);
    let fairness = crate::draw::verify_results(&app, id).await;
    assert_eq!(fairness["winners"].as_array().unwrap().len(), 3);
}

async fn mark_drawing(db: &Db, id: i64) {
    set_status(db, id).await.unwrap();
}

async fn set_status(db: &Db, id: i64) -> lottery::error::AppResult<()> {
    lottery::db_run!(db, |conn| {
        diesel::sql_query(format!("UPDATE events SET status = 1 WHERE id = {id}"))
            .execute(conn)
            .await?;
        Ok(())
    })
}
