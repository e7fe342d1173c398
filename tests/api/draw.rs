use std::collections::{HashMap, HashSet};

use lottery::domain::draw::{draw, seed_hash, PrizeSlots};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{event_body, Backend, TestApp};

both_backends!(
    manual_draw_and_results,
    fewer_participants_than_prizes,
    when_full_draws_on_the_last_join,
    at_time_draws_at_draw_at
);

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
    let f = fairness.data();
    let seed = hex::decode(f["seed"].as_str().unwrap()).unwrap();
    assert_eq!(
        seed_hash(&seed),
        f["seed_hash"].as_str().unwrap(),
        "the seed matches its commitment"
    );
    let participants: Vec<i64> = f["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let prizes: Vec<PrizeSlots> = f["prizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PrizeSlots {
            prize_id: p["id"].as_i64().unwrap(),
            quantity: p["quantity"].as_u64().unwrap() as u32,
        })
        .collect();
    let rerun: Vec<(i64, i64)> = draw(&seed.try_into().unwrap(), &participants, &prizes)
        .into_iter()
        .map(|a| (a.user_id, a.prize_id))
        .collect();
    let mut published: Vec<(i64, i64)> = f["winners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["user_id"].as_i64().unwrap(),
                w["prize_id"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut expected = rerun.clone();
    published.sort();
    expected.sort();
    assert_eq!(published, expected, "published winners are the re-run's");

    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let items = winners.data()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), rerun.len());
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
    for p in &prizes {
        assert!(per_prize.get(&p.prize_id).copied().unwrap_or(0) <= p.quantity);
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
    for i in 0..10 {
        let (t, _) = app.login(&format!("m{i}")).await;
        assert_eq!(app.join(&t, id).await.status, 200);
    }
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
    for i in 0..3 {
        let (t, _) = app.login(&format!("wf{i}")).await;
        assert_eq!(app.join(&t, id).await.status, 200);
    }
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
