//! Re-draws of expired prizes (docs/API.md, "Winner claims"; docs/FAIRNESS.md,
//! "Re-draws"): only to participants who won nothing, re-runnable from
//! `/fairness`, once per round however many ask at once.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{in_secs, Backend, TestApp};

crate::both_backends!(
    expired_prizes_go_to_those_who_won_nothing_and_verify,
    racing_redraws_make_one_round,
);

struct Drawn {
    id: i64,
    creator: String,
    round1: Vec<(String, i64)>,
}

async fn drawn(app: &TestApp, tag: &str, gold: i64, joiners: usize) -> Drawn {
    let (creator, _) = app.login(&format!("{tag}-creator")).await;
    let event = app
        .create_event(
            &creator,
            json!({"title": "Redraw", "draw_mode": "manual", "draw_at": in_secs(3600),
                   "claim_days": 3,
                   "prizes": [{"name": "Gold", "quantity": gold}, {"name": "Silver", "quantity": 1}]}),
        )
        .await;
    let id = event["id"].as_i64().unwrap();
    let users = app.joined_users(id, &format!("{tag}-u"), joiners).await;
    let r = app
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let won: HashSet<i64> = winners.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["user"]["id"].as_i64().unwrap())
        .collect();
    Drawn {
        id,
        creator,
        round1: users.into_iter().filter(|(_, u)| won.contains(u)).collect(),
    }
}

async fn expired_prizes_go_to_those_who_won_nothing_and_verify(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn(&app, "rd", 2, 8).await;
    let id = event.id;
    assert_eq!(event.round1.len(), 3);
    let (keeper, _) = &event.round1[0];
    let claim = app
        .call(
            Method::PUT,
            &format!("/events/{id}/claim"),
            Some(keeper),
            Some(json!({"name": "n", "phone": "13800000000", "address": "a"})),
        )
        .await;
    assert_eq!(claim.status, 200, "{:?}", claim.body);

    // Nothing has expired yet.
    let early = app
        .post(
            &format!("/events/{id}/redraw"),
            Some(&event.creator),
            json!({}),
        )
        .await;
    assert_eq!(
        (early.status.as_u16(), early.code()),
        (409, 40901),
        "{:?}",
        early.body
    );

    app.clock
        .advance(chrono::Duration::days(3) + chrono::Duration::seconds(1));
    let (stranger, _) = app.login("rd-stranger").await;
    for token in [&stranger, keeper] {
        let r = app
            .post(&format!("/events/{id}/redraw"), Some(token), json!({}))
            .await;
        assert_eq!(r.code(), 40300, "{:?}", r.body);
    }
    let r = app
        .post(
            &format!("/events/{id}/redraw"),
            Some(&event.creator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["round"], 2);
    let round2: Vec<Value> = r.data()["winners"].as_array().unwrap().clone();
    assert_eq!(round2.len(), 2, "{:?}", r.body);
    let earlier: HashSet<i64> = event.round1.iter().map(|(_, u)| *u).collect();
    for w in &round2 {
        assert!(!earlier.contains(&w["user"]["id"].as_i64().unwrap()), "{w}");
    }
    // Exactly the expired prizes went again: the keeper's did not.
    let keeper_prize = claim.data()["prize"]["name"].as_str().unwrap().to_string();
    let mut expected: Vec<String> = vec!["Gold".into(), "Gold".into(), "Silver".into()];
    expected.remove(expected.iter().position(|p| *p == keeper_prize).unwrap());
    let mut again: Vec<String> = round2
        .iter()
        .map(|w| w["prize"]["name"].as_str().unwrap().to_string())
        .collect();
    again.sort();
    assert_eq!(again, expected);

    // Nothing waits now: a second call is refused, not a second round.
    let twice = app
        .post(
            &format!("/events/{id}/redraw"),
            Some(&event.creator),
            json!({}),
        )
        .await;
    assert_eq!(twice.code(), 40901, "{:?}", twice.body);

    // The expired winners stay as round 1; the new ones are round 2.
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let items = winners.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items.iter().filter(|w| w["round"] == 1).count(), 3);
    assert_eq!(items.iter().filter(|w| w["round"] == 2).count(), 2);

    // A new winner has a fresh window of claim_days from the re-draw.
    let claims = app
        .get(&format!("/events/{id}/claims"), Some(&event.creator))
        .await;
    let all = claims.data()["items"].as_array().unwrap();
    assert_eq!(all.iter().filter(|c| c["status"] == "expired").count(), 2);
    let fresh: Vec<&Value> = all.iter().filter(|c| c["round"] == 2).collect();
    assert_eq!(fresh.len(), 2);
    for c in fresh {
        assert_eq!(c["status"], "unclaimed");
        let by: chrono::DateTime<chrono::Utc> = c["claim_by"].as_str().unwrap().parse().unwrap();
        let left = by - app.clock.now();
        assert!(
            left > chrono::Duration::days(3) - chrono::Duration::minutes(1),
            "{c}"
        );
        assert!(left <= chrono::Duration::days(3), "{c}");
    }

    // Anyone can re-run both rounds from /fairness alone.
    let fairness = app.get(&format!("/events/{id}/fairness"), None).await;
    assert_eq!(fairness.data()["redraws"][0]["round"], 2);
    assert_eq!(
        fairness.data()["redraws"][0]["expired"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let record: lottery::domain::fairness::FairnessRecord =
        serde_json::from_value(fairness.data().clone()).unwrap();
    assert_eq!(lottery::domain::fairness::verify(&record, None), Ok(5));
    let mut forged = record;
    forged.redraws[0].winners[0].user_id = forged.winners[0].user_id;
    assert!(lottery::domain::fairness::verify(&forged, None).is_err());
}

async fn racing_redraws_make_one_round(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn(&app, "rr", 3, 10).await;
    let id = event.id;
    app.clock.advance(chrono::Duration::days(4));
    // A second instance on the same database, as after a restart or in a
    // cluster: the round is the database's, not an instance's.
    let other = TestApp::spawn_on(app.database_url.clone(), &[]).await;
    other.clock.advance(chrono::Duration::days(4));
    let (creator2, _) = other.login("rr-creator").await;
    let path = format!("/events/{id}/redraw");
    let tries = (0..6).map(|i| {
        let (target, token) = if i % 2 == 0 {
            (&app, event.creator.clone())
        } else {
            (&other, creator2.clone())
        };
        let path = path.clone();
        async move { target.post(&path, Some(&token), json!({})).await }
    });
    let replies = futures::future::join_all(tries).await;
    let ok: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        ok.len(),
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(r.code(), 40901, "{:?}", r.body);
    }
    assert_eq!(ok[0].data()["winners"].as_array().unwrap().len(), 4);
    let winners = other.get(&format!("/events/{id}/winners"), None).await;
    assert_eq!(winners.data()["items"].as_array().unwrap().len(), 8);
}
