//! Views of a live event come from the page its actor publishes: they show
//! every acknowledged join at once, cost no query, and give way to the
//! database the moment the event is drawn or cancelled; a finished event is
//! read once and then served from memory.

use lottery::store::Db;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    views_at_the_draw_instant_share_one_read,
    each_viewer_of_a_drawn_event_sees_their_own_result,
    the_first_participant_page_is_cached_until_its_head_changes,
    a_rename_shows_on_every_cached_page,
    a_view_right_after_a_join_or_leave_shows_it,
    live_views_come_from_memory_and_finished_ones_from_the_database,
    concurrent_views_of_a_cold_event_share_one_load
);

/// Fifty viewers open the page of an event no actor holds (it went idle):
/// one actor starts, loads the event once, and answers them all.
async fn concurrent_views_of_a_cold_event_share_one_load(backend: Backend) {
    let app = TestApp::spawn_on(fresh_database(backend), &[("LOTTERY_ACTOR_IDLE_SECS", "1")]).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let viewers: Vec<String> = app
        .joined_users(id, "cold", 5)
        .await
        .into_iter()
        .map(|(token, _)| token)
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.live_actors() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the actor never went idle"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let starts = app.actor_starts();
    let path = format!("/events/{id}");
    let views = futures::future::join_all(
        (0..50).map(|i| app.get(&path, Some(&viewers[i % viewers.len()]))),
    )
    .await;
    for view in &views {
        assert_eq!(view.status, 200, "{:?}", view.body);
        assert_eq!(view.data()["participant_count"], 5);
        assert_eq!(view.data()["me"]["joined"], true);
    }
    assert_eq!(app.actor_starts(), starts + 1, "one load for fifty views");
}

async fn rename(app: &TestApp, token: &str, nickname: &str) {
    let r = app
        .call(
            Method::PATCH,
            "/me",
            Some(token),
            Some(json!({ "nickname": nickname })),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The first page of a live event's participants is built once per change
/// of the list's head (a change behind the server's back stays unseen), and
/// every acknowledged change of the head shows at once.
async fn the_first_participant_page_is_cached_until_its_head_changes(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let users = app.joined_users(id, "p", 3).await;
    let first = format!("/events/{id}/participants?limit=2");
    let page = app.get(&first, None).await;
    assert_eq!(page.status, 200);
    let ids = |page: &crate::helpers::Reply| -> Vec<i64> {
        page.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["user"]["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&page), vec![users[0].1, users[1].1]);
    assert!(page.data()["next_cursor"].is_string());

    // Behind the server's back: the cached page does not see it...
    execute_sql(
        &db,
        format!(
            "UPDATE users SET nickname = 'sneaky' WHERE id = {}",
            users[0].1
        ),
    )
    .await;
    assert_eq!(
        app.get(&first, None).await.body,
        page.body,
        "served from the cache"
    );
    // ...while a page after a cursor is read from the database.
    let second = app
        .get(
            &format!(
                "/events/{id}/participants?limit=1&cursor={}",
                app.get(&format!("/events/{id}/participants?limit=1"), None)
                    .await
                    .data()["next_cursor"]
                    .as_str()
                    .unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(ids(&second), vec![users[1].1]);

    // A leave changes the head: the next page is read again.
    let left = app.leave(&users[2].0, id).await;
    assert_eq!(left.status, 200);
    let page = app.get(&first, None).await;
    assert_eq!(ids(&page), vec![users[0].1, users[1].1]);
    assert!(page.data()["next_cursor"].is_null(), "{:?}", page.body);
    assert_eq!(page.data()["items"][0]["user"]["nickname"], "sneaky");

    // A join within the head shows at once.
    let (late, late_id) = app.login("late").await;
    assert_eq!(app.join(&late, id).await.status, 200);
    let page = app.get(&first, None).await;
    assert!(page.data()["next_cursor"].is_string(), "{:?}", page.body);
    let all = app
        .get(&format!("/events/{id}/participants?limit=3"), None)
        .await;
    assert_eq!(ids(&all), vec![users[0].1, users[1].1, late_id]);

    // So does a rename through the API.
    rename(&app, &users[1].0, "renamed").await;
    let page = app.get(&first, None).await;
    assert_eq!(page.data()["items"][1]["user"]["nickname"], "renamed");
}

/// Viewers polling a hot event as its draw time passes: the instant it is
/// drawn, their views wait for one read of the finished event instead of
/// each reading the database.
async fn views_at_the_draw_instant_share_one_read(backend: Backend) {
    // One user sends far more than a person would: no per-user limit.
    let app = TestApp::spawn_with(backend, &[("LOTTERY_LIMIT_USER", "off")]).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(2)).await["id"]
        .as_i64()
        .unwrap();
    let users = app.joined_users(id, "poller", 8).await;
    assert_eq!(app.finished_reads(), 0);
    let path = format!("/events/{id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let pollers = (0..32).map(|i| {
        let (app, path, token) = (&app, &path, &users[i % users.len()].0);
        async move {
            loop {
                let view = app.get(path, Some(token)).await;
                assert_eq!(view.status, 200, "{:?}", view.body);
                if view.data()["status"] == "drawn" {
                    return;
                }
                assert!(std::time::Instant::now() < deadline, "never drawn");
            }
        }
    });
    futures::future::join_all(pollers).await;
    let reads = app.finished_reads();
    assert_eq!(
        reads, 1,
        "{reads} reads of the drawn event from the database"
    );
}

/// A finished event's answers are kept serialized by kind of viewer: each
/// viewer still gets their own `me`, however the views interleave.
async fn each_viewer_of_a_drawn_event_sees_their_own_result(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    body["prizes"] = json!([{"name": "gold", "quantity": 1}, {"name": "silver", "quantity": 1}]);
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let users = app.joined_users(id, "d", 4).await;
    let (outsider, _) = app.login("outsider").await;
    let r = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let won: std::collections::HashMap<i64, String> = winners.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["user"]["id"].as_i64().unwrap(),
                w["prize"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(won.len(), 2);
    let path = format!("/events/{id}");
    for round in 0..2 {
        for (token, user_id) in &users {
            let view = app.get(&path, Some(token)).await;
            assert_eq!(view.data()["status"], "drawn");
            assert_eq!(view.data()["me"]["joined"], true, "round {round}");
            match won.get(user_id) {
                Some(prize) => assert_eq!(view.data()["me"]["prize"]["name"], prize.as_str()),
                None => assert_eq!(view.data()["me"]["prize"], json!(null)),
            }
            let other = app.get(&path, Some(&outsider)).await;
            assert_eq!(other.data()["me"], json!({"joined": false, "prize": null}));
            assert_eq!(app.get(&path, None).await.data()["me"], json!(null));
        }
    }
}

/// Nicknames on cached pages follow a rename at once: a live event's
/// creator, a finished event's creator, a drawn event's winners.
async fn a_rename_shows_on_every_cached_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    rename(&app, &owner, "before").await;
    rename(&app, &user, "winner before").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    assert_eq!(app.join(&user, id).await.status, 200);
    let path = format!("/events/{id}");
    assert_eq!(
        app.get(&path, None).await.data()["creator"]["nickname"],
        "before"
    );
    rename(&app, &owner, "live rename").await;
    assert_eq!(
        app.get(&path, None).await.data()["creator"]["nickname"],
        "live rename"
    );

    let r = app
        .post(&format!("{path}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let winners = format!("{path}/winners");
    assert_eq!(
        app.get(&winners, None).await.data()["items"][0]["user"]["nickname"],
        "winner before"
    );
    assert_eq!(
        app.get(&path, None).await.data()["creator"]["nickname"],
        "live rename"
    );
    rename(&app, &user, "winner after").await;
    rename(&app, &owner, "after").await;
    assert_eq!(
        app.get(&winners, None).await.data()["items"][0]["user"]["nickname"],
        "winner after"
    );
    assert_eq!(
        app.get(&path, None).await.data()["creator"]["nickname"],
        "after"
    );
}

async fn a_view_right_after_a_join_or_leave_shows_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/events/{id}");
    let (outsider, _) = app.login("outsider").await;
    let mut tokens: Vec<String> = vec![];
    for i in 0..20 {
        let (token, _) = app.login(&format!("viewer{i}")).await;
        assert_eq!(app.join(&token, id).await.status, 200);
        let view = app.get(&path, Some(&token)).await;
        assert_eq!(view.data()["participant_count"], i + 1);
        assert_eq!(view.data()["me"]["joined"], true);
        assert_eq!(view.data()["status"], "open");
        // Same count, other viewers: each gets their own `me`.
        let other = app.get(&path, Some(&outsider)).await;
        assert_eq!(other.data()["participant_count"], i + 1);
        assert_eq!(other.data()["me"]["joined"], false);
        let anonymous = app.get(&path, None).await;
        assert_eq!(anonymous.data()["participant_count"], i + 1);
        assert_eq!(anonymous.data()["me"], json!(null));
        if i > 0 {
            let earlier = app.get(&path, Some(&tokens[0])).await;
            assert_eq!(earlier.data()["me"]["joined"], true);
        }
        tokens.push(token);
    }
    let left = app
        .call(
            Method::DELETE,
            &format!("{path}/participants/me"),
            Some(&tokens[0]),
            None,
        )
        .await;
    assert_eq!(left.status, 200);
    let view = app.get(&path, Some(&tokens[0])).await;
    assert_eq!(view.data()["participant_count"], 19);
    assert_eq!(view.data()["me"]["joined"], false);
    assert_eq!(view.data()["me"]["prize"], json!(null));
    let anonymous = app.get(&path, None).await;
    assert_eq!(anonymous.data()["me"], json!(null));
    assert_eq!(
        anonymous.data()["creator"]["id"],
        view.data()["creator"]["id"]
    );
}

async fn live_views_come_from_memory_and_finished_ones_from_the_database(backend: Backend) {
    let url = fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let (user, _) = app.login("user").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let drawn = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let cancelled = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    for id in [drawn, cancelled] {
        assert_eq!(app.join(&user, id).await.status, 200);
    }
    let before = app.get(&format!("/events/{drawn}"), Some(&user)).await;

    // Behind the server's back: the live page does not see it.
    let db = Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    execute_sql(
        &db,
        format!("UPDATE events SET title = 'changed' WHERE id IN ({drawn}, {cancelled})"),
    )
    .await;
    let live = app.get(&format!("/events/{drawn}"), Some(&user)).await;
    assert_eq!(live.body, before.body, "served from the actor's page");

    // Finished: the database's final state, at once, never a stale `open`.
    let r = app
        .post(&format!("/events/{drawn}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(r.data()["status"], "drawn");
    let view = app.get(&format!("/events/{drawn}"), Some(&user)).await;
    assert_eq!(view.data()["status"], "drawn");
    assert_eq!(view.data()["title"], "changed");
    assert!(
        view.data()["me"]["prize"].is_object(),
        "the only participant won"
    );
    // Drawn is final: later views come from memory, `me` included.
    execute_sql(
        &db,
        format!("UPDATE events SET title = 'again' WHERE id = {drawn}"),
    )
    .await;
    let cached = app.get(&format!("/events/{drawn}"), Some(&user)).await;
    assert_eq!(
        cached.body, view.body,
        "served from the finished-events cache"
    );
    let (stranger, _) = app.login("stranger").await;
    let theirs = app.get(&format!("/events/{drawn}"), Some(&stranger)).await;
    assert_eq!(theirs.data()["me"], json!({"joined": false, "prize": null}));
    assert_eq!(theirs.data()["title"], "changed");

    let r = app
        .post(
            &format!("/events/{cancelled}/cancel"),
            Some(&owner),
            json!({}),
        )
        .await;
    assert_eq!(r.data()["status"], "cancelled");
    let view = app.get(&format!("/events/{cancelled}"), Some(&user)).await;
    assert_eq!(view.data()["status"], "cancelled");
    assert_eq!(view.data()["participant_count"], 1);
}
