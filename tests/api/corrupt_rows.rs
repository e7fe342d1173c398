//! Times that are not instants never reach the database, and a row that
//! does not decode (planted behind the server's back) costs only itself:
//! the draw schedule, the lists and the other events' pages go on, before
//! and after a restart.

use std::time::Duration;

use lottery::store::Db;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    impossible_draw_times_change_nothing,
    an_unreadable_event_row_stops_nothing_else
);

async fn impossible_draw_times_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    for draw_at in [
        format!("{tomorrow}T23:59:60Z"),
        format!("{tomorrow}T23:59:60.5+08:00"),
        "2027-02-30T12:00:00Z".to_string(),
        format!("{tomorrow}T24:00:00Z"),
    ] {
        let mut body = event_body(3600);
        body["draw_at"] = json!(draw_at);
        let r = app.post("/events", Some(&owner), body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, 40000),
            "{draw_at}: {:?}",
            r.body
        );
        assert!(r.body["message"].as_str().unwrap().contains("draw_at"));
    }
    let mine = app.get("/me/events?role=created", Some(&owner)).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.data()["items"], json!([]), "nothing was stored");
}

/// Makes event `id`'s row undecodable: a draw time that is not a time (a
/// zero date on MySQL, an hour 25 on SQLite), the event still open and due.
async fn corrupt_draw_at(db: &Db, backend: Backend, id: i64) {
    match backend {
        Backend::Mysql => {
            // One pooled connection: the session setting reaches the update.
            execute_sql(db, "SET SESSION sql_mode = ''".into()).await;
            execute_sql(
                db,
                format!("UPDATE events SET draw_at = '0000-00-00 00:00:00' WHERE id = {id}"),
            )
            .await;
        }
        Backend::Sqlite => {
            execute_sql(
                db,
                format!("UPDATE events SET draw_at = '2026-01-01 25:61:00' WHERE id = {id}"),
            )
            .await
        }
    }
}

async fn an_unreadable_event_row_stops_nothing_else(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let ids = app.create_events(&owner, &[3600, 3600, 3600, 3]).await;
    let [bad_time, bad_status, healthy, due] = ids[..] else {
        unreachable!()
    };
    assert_eq!(app.join(&user, due).await.status, 200);
    let db = Db::connect(&url, 1, Duration::from_secs(5)).await.unwrap();
    corrupt_draw_at(&db, backend, bad_time).await;
    execute_sql(
        &db,
        format!("UPDATE events SET status = 7 WHERE id = {bad_status}"),
    )
    .await;

    // The schedule read the broken row and still drew the due event.
    app.wait_status(due, "drawn", 20).await;
    check_the_rest(&app, &owner, &user, &[due, healthy], bad_time).await;
    assert!(
        app.metrics_text()
            .await
            .contains("lottery_unreadable_rows_total"),
        "skipped rows are counted"
    );

    // After a restart the first schedule read meets the broken row at once.
    app.stop().await;
    let app = TestApp::spawn_on(url, &[]).await;
    // Sessions do not outlive a restart of an instance without shared Redis.
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let next = app.create_event(&owner, event_body(2)).await["id"]
        .as_i64()
        .unwrap();
    app.wait_status(next, "drawn", 20).await;
    check_the_rest(&app, &owner, &user, &[next, due, healthy], bad_time).await;
    let r = app
        .call(
            reqwest::Method::PUT,
            &format!("/events/{healthy}/participants/me"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Lists skip the unreadable rows; the readable events' pages answer; the
/// broken event itself answers an error, not a made-up page.
async fn check_the_rest(app: &TestApp, owner: &str, user: &str, readable: &[i64], broken: i64) {
    let mine = app.get("/me/events?role=created", Some(owner)).await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    let listed: Vec<i64> = mine.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, readable, "the unreadable rows are skipped");
    let page = app
        .get(&format!("/events/{}", readable[readable.len() - 1]), None)
        .await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    let joined = app.get("/me/events?role=joined", Some(user)).await;
    assert_eq!(joined.data()["items"].as_array().unwrap().len(), 1);
    let broken = app.get(&format!("/events/{broken}"), None).await;
    assert_eq!(broken.status, 500, "{:?}", broken.body);
}
