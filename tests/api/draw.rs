use std::collections::{HashMap, HashSet};

use lottery::domain::fairness::{self as draw, FairnessRecord};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{event_body, Backend, TestApp};

both_backends!(
    manual_draw_and_results,
    fewer_participants_than_prizes,
    when_full_draws_on_the_last_join,
    at_time_draws_at_draw_at,
    published_results_are_built_once,
    published_results_revalidate_by_etag,
    verify_draw_checks_the_hash_recorded_before_the_draw
);

/// `verify-draw --seed-hash <hash noted while the event was open>` accepts
/// the published record and refuses it against any other hash.
async fn verify_draw_checks_the_hash_recorded_before_the_draw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let event = app.create_event(&owner, body).await;
    let id = event["id"].as_i64().unwrap();
    let recorded = event["fairness"]["seed_hash"].as_str().unwrap().to_string();
    app.joined_users(id, "v", 4).await;
    app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    let record = app.get(&format!("/events/{id}/fairness"), None).await.body;
    let run = |args: &[&str]| run_verify_draw(&record.to_string(), args);
    let ok = run(&["--seed-hash", &recorded]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let other = lottery::domain::draw::seed_hash(b"another seed");
    let refused = run(&["--seed-hash", &other]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("recorded before the draw"));
}

/// `/winners` and `/fairness` carry an ETag and `Cache-Control: public,
/// no-cache`; the tag in `If-None-Match` gets 304 without a body, another
/// the answer. A winner's new nickname changes `/winners` (a new tag, the
/// old one answered in full) and leaves `/fairness` as it was.
async fn published_results_revalidate_by_etag(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let users = app.joined_users(id, "e", 4).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200);
    let tagged = |path: String, held: Option<String>| {
        let app = &app;
        async move {
            let mut req = app.client.get(format!("{}/api/v1{path}", app.base));
            if let Some(tag) = held {
                req = req.header("If-None-Match", tag);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let etag = res
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            let cache = res
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string());
            (status, etag, cache, res.bytes().await.unwrap().len())
        }
    };
    for what in ["winners", "fairness"] {
        let path = format!("/events/{id}/{what}");
        let (status, etag, cache, len) = tagged(path.clone(), None).await;
        assert_eq!(status, 200);
        assert!(len > 0);
        assert_eq!(cache.as_deref(), Some("public, no-cache"));
        let etag = etag.expect("an ETag");
        let (status, again, _, len) = tagged(path.clone(), Some(etag.clone())).await;
        assert_eq!((status, len), (304, 0), "{what}");
        assert_eq!(again.as_deref(), Some(etag.as_str()));
        let weak_list = format!("\"other\", W/{etag}");
        assert_eq!(tagged(path.clone(), Some(weak_list)).await.0, 304);
        assert_eq!(tagged(path.clone(), Some("\"other\"".into())).await.0, 200);
    }
    let (_, winners_tag, _, _) = tagged(format!("/events/{id}/winners"), None).await;
    let (_, fairness_tag, _, _) = tagged(format!("/events/{id}/fairness"), None).await;
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let winner = winners.data()["items"][0]["user"]["id"].as_i64().unwrap();
    let token = &users.iter().find(|(_, u)| *u == winner).unwrap().0;
    let renamed = app
        .call(
            reqwest::Method::PATCH,
            "/me",
            Some(token),
            Some(json!({"nickname": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    let (status, new_tag, _, _) =
        tagged(format!("/events/{id}/winners"), winners_tag.clone()).await;
    assert_eq!(status, 200, "the winners changed");
    assert_ne!(new_tag, winners_tag);
    assert_eq!(
        tagged(format!("/events/{id}/fairness"), fairness_tag)
            .await
            .0,
        304,
        "the fairness record did not"
    );
}

/// A drawn event's winners and fairness record never change: the first
/// request builds them and later ones are served from memory (here proven
/// by removing the winners behind the server's back). Before the draw the
/// refusal is not remembered.
async fn published_results_are_built_once(backend: Backend) {
    let url = crate::helpers::fresh_database(backend);
    let app = TestApp::spawn_on(url.clone(), &[]).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "p", 5).await;
    let early = app.get(&format!("/events/{id}/winners"), None).await;
    assert_eq!(early.code(), 40901);
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200);
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    assert_eq!(winners.data()["items"].as_array().unwrap().len(), 3);
    let fairness = verify_results(&app, id).await;

    let db = lottery::store::Db::connect(&url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    crate::helpers::execute_sql(&db, format!("DELETE FROM claims WHERE event_id = {id}")).await;
    crate::helpers::execute_sql(&db, format!("DELETE FROM winners WHERE event_id = {id}")).await;
    let again = app.get(&format!("/events/{id}/winners"), None).await;
    assert_eq!(again.body, winners.body);
    assert_eq!(
        app.get(&format!("/events/{id}/fairness"), None)
            .await
            .data(),
        &fairness
    );
}

/// `verify-draw` with `args`, `record` (JSON) on its stdin.
pub fn run_verify_draw(record: &str, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verify-draw"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(record.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The participants a published fairness record says the draw took.
pub fn considered(fairness: &Value) -> HashSet<i64> {
    fairness["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// Checks a drawn event's published results against each other and
/// against an independent re-run of the algorithm.
pub async fn verify_results(app: &TestApp, id: i64) -> Value {
    let fairness = app.get(&format!("/events/{id}/fairness"), None).await;
    assert_eq!(fairness.status, 200, "{:?}", fairness.body);
    let record: FairnessRecord = serde_json::from_value(fairness.data().clone()).unwrap();
    let winners_count = draw::verify(&record, None).expect("the record verifies");
    let participants = &record.participants;
    let prizes = &record.prizes;

    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let items = winners.data()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), winners_count);
    let users: HashSet<i64> = items
        .iter()
        .map(|w| w["user"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(users.len(), items.len(), "one prize per user");
    assert!(
        users.iter().all(|u| participants.contains(u)),
        "winners are participants"
    );
    let mut per_prize: HashMap<i64, u32> = HashMap::new();
    for w in &items {
        *per_prize
            .entry(w["prize"]["id"].as_i64().unwrap())
            .or_default() += 1;
    }
    for p in prizes {
        assert!(per_prize.get(&p.id).copied().unwrap_or(0) <= p.quantity);
    }
    fairness.data().clone()
}

async fn manual_draw_and_results(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let (guest, _) = app.login("guest").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "m", 10).await;
    for path in ["winners", "fairness"] {
        let r = app.get(&format!("/events/{id}/{path}"), None).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, 40901),
            "{path} before the draw"
        );
    }
    let r = app
        .post(&format!("/events/{id}/draw"), Some(&guest), json!({}))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, 40300));

    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    assert_eq!(drawn.data()["status"], "drawn");
    assert!(drawn.data()["drawn_at"].is_string());
    assert!(drawn.data()["fairness"]["seed"].is_string());
    let f = verify_results(&app, id).await;
    assert_eq!(f["participants"].as_array().unwrap().len(), 10);
    assert_eq!(f["winners"].as_array().unwrap().len(), 3);

    let again = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(again.code(), 40901);
    let cancel = app
        .post(&format!("/events/{id}/cancel"), Some(&owner), json!({}))
        .await;
    assert_eq!(cancel.code(), 40901);
    assert_eq!(app.join(&guest, id).await.code(), 40900);

    let at_time = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(&format!("/events/{at_time}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(r.code(), 40901, "only manual events are drawn by hand");
}

async fn fewer_participants_than_prizes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    body["prizes"] = json!([{"name": "A", "quantity": 3}, {"name": "B", "quantity": 5}]);
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let mut tokens = vec![];
    for i in 0..2 {
        let (t, _) = app.login(&format!("few{i}")).await;
        app.join(&t, id).await;
        tokens.push(t);
    }
    app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    let f = verify_results(&app, id).await;
    assert_eq!(
        f["winners"].as_array().unwrap().len(),
        2,
        "everyone wins, the rest stay unawarded"
    );
    for t in &tokens {
        let me = app.get(&format!("/events/{id}"), Some(t)).await;
        assert!(me.data()["me"]["prize"]["name"].is_string());
        let won = app.get("/me/events?role=won", Some(t)).await;
        assert_eq!(won.data()["items"][0]["id"], id);
    }
}

async fn when_full_draws_on_the_last_join(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("when_full");
    body["max_participants"] = json!(3);
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "wf", 3).await;
    app.wait_status(id, "drawn", 10).await;
    let (late, _) = app.login("late").await;
    assert_eq!(app.join(&late, id).await.code(), 40900);
    let f = verify_results(&app, id).await;
    assert_eq!(f["participants"].as_array().unwrap().len(), 3);
}

async fn at_time_draws_at_draw_at(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let id = app.create_event(&owner, event_body(2)).await["id"]
        .as_i64()
        .unwrap();
    let (t, _) = app.login("timely").await;
    assert_eq!(app.join(&t, id).await.status, 200);
    let drawn = app.wait_status(id, "drawn", 10).await;
    assert_eq!(drawn["participant_count"], 1);
    let r = app.join(&t, id).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, 40900));
    verify_results(&app, id).await;
}
