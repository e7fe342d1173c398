//! Draws with public randomness (issue 25; docs/FAIRNESS.md, "Beacon
//! draws"), against a local stand-in drand relay with its own key.

use std::time::Duration;

use lottery::domain::beacon_draw::{participants_hash, BeaconRecord};
use lottery::domain::fairness::{self, FairnessRecord};
use serde_json::{json, Value};

use crate::beacon_standin::{Mode, StandIn};
use crate::both_backends;
use crate::helpers::{event_body, execute_sql, fresh_database, Backend, TestApp};

both_backends!(
    a_beacon_draw_uses_the_first_round_after_its_list_is_fixed,
    a_beacon_that_does_not_answer_delays_the_draw_and_joins_stay_closed,
    a_round_signed_with_another_key_is_refused_and_nothing_is_drawn,
    a_participant_added_after_the_hash_is_published_stops_the_draw,
    a_restart_while_waiting_uses_the_same_round_and_never_the_seed_alone,
    a_beacon_events_redraw_uses_the_draws_randomness,
    draws_waiting_on_one_round_share_its_requests
);

/// Rounds every 2 s: the first after an instant is never that instant's.
const PERIOD: u32 = 2;

fn settings(beacon: &StandIn) -> Vec<(&'static str, String)> {
    beacon.settings()
}

async fn spawn(url: &str, beacon: &StandIn) -> TestApp {
    let settings = settings(beacon);
    let refs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_on(url.to_string(), &refs).await
}

/// A manual beacon event with `n` participants; its id and the users.
async fn manual_event(app: &TestApp, n: usize) -> (i64, String, Vec<i64>) {
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let event = app.create_event(&owner, body).await;
    assert_eq!(
        event["fairness"]["beacon"],
        Value::Null,
        "an open event shows no beacon fields"
    );
    let id = event["id"].as_i64().unwrap();
    let mut users: Vec<i64> = app
        .joined_users(id, "b", n)
        .await
        .into_iter()
        .map(|(_, user)| user)
        .collect();
    users.sort_unstable();
    (id, owner, users)
}

fn beacon_of(view: &Value) -> BeaconRecord {
    serde_json::from_value(view["fairness"]["beacon"].clone())
        .unwrap_or_else(|e| panic!("no beacon in {view}: {e}"))
}

async fn fairness_record(app: &TestApp, id: i64) -> FairnessRecord {
    let reply = app.get(&format!("/events/{id}/fairness"), None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    serde_json::from_value(reply.data().clone()).unwrap()
}

/// `verify-draw` with `args`, the record on its stdin.
fn verify_draw(record: &FairnessRecord, args: &[&str]) -> std::process::Output {
    crate::draw::run_verify_draw(&serde_json::to_string(record).unwrap(), args)
}

/// The whole path: the list's hash and round published when the draw
/// starts, the round fetched once and verified, the winners re-run from
/// SHA-256(seed ‖ randomness), and `verify-draw` satisfied offline (with
/// the chain's /info) and online (asking the relay), and refusing a record
/// whose round was swapped.
async fn a_beacon_draw_uses_the_first_round_after_its_list_is_fixed(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    let app = spawn(&fresh_database(backend), &beacon).await;
    let (id, owner, users) = manual_event(&app, 12).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    let view = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(view.data()["status"], "drawn");
    let shown = beacon_of(view.data());
    let record = fairness_record(&app, id).await;
    let published = record.beacon.clone().expect("a beacon draw's record");
    assert_eq!(shown, published, "the page and /fairness agree");
    assert_eq!(published.chain_hash, beacon.chain_hash);
    assert_eq!(published.participants_hash, participants_hash(&users));
    assert_eq!(record.participants, users);
    // The signature is the chain's for that round, and the round is the
    // first after the list was fixed.
    assert_eq!(
        published.signature.as_deref(),
        Some(hex::encode(beacon.signature(published.round)).as_str())
    );
    published.check_with_chain(&beacon.chain()).unwrap();
    // The winners re-run from the mixed seed (fairness::verify mixes).
    assert_eq!(fairness::verify(&record, None), Ok(3));
    // The round was asked for once its time came (a 404 or two at its
    // very second are the relay's "not yet"), and no other round.
    assert!(
        (1..=3).contains(&beacon.asked(published.round)),
        "{} requests",
        beacon.asked(published.round)
    );
    assert_eq!(beacon.asked(published.round + 1), 0);

    // Named by the chain: both backends' variants run at once.
    let info = std::env::temp_dir().join(format!("standin-info-{}.json", beacon.chain_hash));
    std::fs::write(&info, beacon.info.to_string()).unwrap();
    let offline = verify_draw(&record, &["--chain-info", info.to_str().unwrap()]);
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert!(String::from_utf8_lossy(&offline.stdout).contains("is signed by the chain's key"));
    let online = verify_draw(&record, &["--beacon-url", &beacon.url()]);
    assert!(
        online.status.success(),
        "{}",
        String::from_utf8_lossy(&online.stderr)
    );
    // Without the chain (not quicknet) the signature cannot be checked:
    // verify-draw says so rather than passing.
    let blind = verify_draw(&record, &[]);
    assert!(!blind.status.success());
    assert!(String::from_utf8_lossy(&blind.stderr).contains("--chain-info"));
    // A later round, correctly signed, is still not the draw's round.
    let mut later = record.clone();
    let round = published.round + 1;
    let signature = beacon.signature(round);
    later.beacon = Some(BeaconRecord {
        round,
        randomness: Some(hex::encode(lottery::domain::beacon_draw::randomness_of(
            &signature,
        ))),
        signature: Some(hex::encode(&signature)),
        ..published.clone()
    });
    let refused = verify_draw(&later, &["--chain-info", info.to_str().unwrap()]);
    assert!(!refused.status.success());
    let _ = std::fs::remove_file(&info);
}

/// Metric `name{labels…}`'s value in the app's /metrics (0 when absent).
async fn metric(app: &TestApp, line_start: &str) -> f64 {
    app.metrics_text()
        .await
        .lines()
        .filter(|line| line.starts_with(line_start))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An outage of the beacon: the creator's draw answers 503 (retried by
/// itself), the event shows `drawing` with its list's hash and round,
/// joins are refused, the failures are counted; when the beacon answers
/// again the draw completes with the round fixed at the start.
async fn a_beacon_that_does_not_answer_delays_the_draw_and_joins_stay_closed(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    beacon.set_mode(Mode::Down);
    let app = spawn(&fresh_database(backend), &beacon).await;
    let (id, owner, users) = manual_event(&app, 6).await;
    let ordered = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!((ordered.status.as_u16(), ordered.code()), (503, 50300));
    let view = app.wait_status(id, "drawing", 5).await;
    let fixed = beacon_of(&view);
    assert_eq!(fixed.participants_hash, participants_hash(&users));
    assert_eq!(fixed.randomness, None);
    assert_eq!(fixed.signature, None);
    assert_eq!(
        fixed.round,
        beacon.chain().first_round_after(
            chrono::DateTime::parse_from_rfc3339(&fixed.fixed_at)
                .unwrap()
                .timestamp()
        )
    );
    let (late, _) = app.login("late").await;
    let refused = app.join(&late, id).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (409, 40900));
    let results = app.get(&format!("/events/{id}/fairness"), None).await;
    assert_eq!(results.code(), 40901);
    assert!(metric(&app, "lottery_beacon_requests_total{result=\"http_error\"}").await >= 1.0);
    // Counted while it waits, across its retries (the recorder is the
    // test process's: other tests' draws may add to it, never take ours).
    assert!(metric(&app, "lottery_beacon_waiting_draws").await >= 1.0);

    beacon.set_mode(Mode::Serving);
    let drawn = app.wait_status(id, "drawn", 40).await;
    let used = beacon_of(&drawn);
    assert_eq!(used.round, fixed.round, "the round fixed at the start");
    assert_eq!(used.participants_hash, fixed.participants_hash);
    let record = fairness_record(&app, id).await;
    assert_eq!(fairness::verify(&record, None), Ok(3));
    used.check_with_chain(&beacon.chain()).unwrap();
}

/// A relay whose rounds do not verify under the chain's key (another key
/// signed them) gets nothing drawn: the event waits, the refusal is
/// counted; rounds from the chain's key then draw it.
async fn a_round_signed_with_another_key_is_refused_and_nothing_is_drawn(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    beacon.set_mode(Mode::WrongKey);
    let app = spawn(&fresh_database(backend), &beacon).await;
    let (id, owner, _) = manual_event(&app, 5).await;
    let ordered = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(ordered.status, 503, "{:?}", ordered.body);
    let round = beacon_of(app.get(&format!("/events/{id}"), None).await.data()).round;
    // Retried for several seconds: never drawn with that round.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        app.get(&format!("/events/{id}"), None).await.data()["status"],
        "drawing"
    );
    assert!(beacon.asked(round) >= 2, "asked again after a refusal");
    assert!(
        metric(
            &app,
            "lottery_beacon_requests_total{result=\"bad_signature\"}"
        )
        .await
            >= 1.0
    );
    beacon.set_mode(Mode::Serving);
    let drawn = app.wait_status(id, "drawn", 40).await;
    assert_eq!(beacon_of(&drawn).round, round);
    let record = fairness_record(&app, id).await;
    assert_eq!(fairness::verify(&record, None), Ok(3));
}

/// A participant row slipped into the database after the hash was
/// published (by an operator, say) is not drawn with: the draw refuses the
/// changed list and waits; removed again, the list is the published one
/// and the draw completes.
async fn a_participant_added_after_the_hash_is_published_stops_the_draw(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    beacon.set_mode(Mode::Down);
    let url = fresh_database(backend);
    let app = spawn(&url, &beacon).await;
    let (id, owner, users) = manual_event(&app, 4).await;
    app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    let fixed = beacon_of(&app.wait_status(id, "drawing", 5).await);
    assert_eq!(fixed.participants_hash, participants_hash(&users));
    let (_, intruder) = app.login("intruder").await;
    let db = lottery::store::Db::connect(&url, 1, Duration::from_secs(5))
        .await
        .unwrap();
    execute_sql(
        &db,
        format!(
            "INSERT INTO participants (event_id, user_id, notify, remind, joined_at) \
             VALUES ({id}, {intruder}, 0, 0, '2026-01-01 00:00:00')"
        ),
    )
    .await;
    beacon.set_mode(Mode::Serving);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        app.get(&format!("/events/{id}"), None).await.data()["status"],
        "drawing",
        "not drawn over a list other than the published one"
    );
    execute_sql(
        &db,
        format!("DELETE FROM participants WHERE event_id = {id} AND user_id = {intruder}"),
    )
    .await;
    let drawn = app.wait_status(id, "drawn", 70).await;
    assert_eq!(beacon_of(&drawn).participants_hash, fixed.participants_hash);
    let record = fairness_record(&app, id).await;
    assert!(!record.participants.contains(&intruder));
    assert_eq!(fairness::verify(&record, None), Ok(3));
}

/// A crash while the draw waits for its round: a server restarted without
/// the beacon leaves the event drawing (never the seed alone); one with
/// the beacon draws it with the round fixed before the crash, although a
/// later round exists by then. An event created without a beacon draws
/// from its seed alone, as before.
async fn a_restart_while_waiting_uses_the_same_round_and_never_the_seed_alone(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    beacon.set_mode(Mode::Down);
    let url = fresh_database(backend);
    let app = spawn(&url, &beacon).await;
    let (id, owner, _) = manual_event(&app, 5).await;
    app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    let fixed = beacon_of(&app.wait_status(id, "drawing", 5).await);
    app.stop().await;

    beacon.set_mode(Mode::Serving);
    let plain = TestApp::spawn_on(url.clone(), &[]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let view = plain.get(&format!("/events/{id}"), None).await;
    assert_eq!(view.data()["status"], "drawing", "{:?}", view.body);
    // Meanwhile an event created without a beacon draws as before.
    let (owner2, _) = plain.login("owner2").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    let other = plain.create_event(&owner2, body).await["id"]
        .as_i64()
        .unwrap();
    plain.joined_users(other, "p", 3).await;
    let drawn = plain
        .post(&format!("/events/{other}/draw"), Some(&owner2), json!({}))
        .await;
    assert_eq!(drawn.status, 200);
    let record = fairness_record(&plain, other).await;
    assert_eq!(record.beacon, None);
    assert_eq!(fairness::verify(&record, None), Ok(3));
    plain.stop().await;

    let app = spawn(&url, &beacon).await;
    let drawn = app.wait_status(id, "drawn", 30).await;
    let used = beacon_of(&drawn);
    assert_eq!(used.round, fixed.round);
    assert_eq!(used.fixed_at, fixed.fixed_at);
    let record = fairness_record(&app, id).await;
    assert_eq!(fairness::verify(&record, None), Ok(3));
    used.check_with_chain(&beacon.chain()).unwrap();
}

/// Expired prizes of a beacon event go again (round 2) from the same mixed
/// seed, SHA-256(seed ‖ randomness), with the round's number: the record
/// verifies only with it (fairness::verify re-runs every round from it).
async fn a_beacon_events_redraw_uses_the_draws_randomness(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    let app = spawn(&fresh_database(backend), &beacon).await;
    let (owner, _) = app.login("owner").await;
    let body = json!({"title": "Redraw", "draw_mode": "manual",
        "draw_at": crate::helpers::in_secs(3600), "claim_days": 3,
        "prizes": [{"name": "Gold", "quantity": 2}]});
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "r", 10).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    app.clock
        .advance(chrono::Duration::days(3) + chrono::Duration::seconds(1));
    let again = app
        .post(&format!("/events/{id}/redraw"), Some(&owner), json!({}))
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.data()["round"], 2);
    let record = fairness_record(&app, id).await;
    assert_eq!(record.redraws.len(), 1);
    let beacon_used = record.beacon.clone().unwrap();
    beacon_used.check_with_chain(&beacon.chain()).unwrap();
    assert_eq!(fairness::verify(&record, None), Ok(4));
}

/// Eight events drawn at once wait on at most two rounds (they may straddle
/// a round's boundary), and each round is asked for a few times at most:
/// the waits share the requests.
async fn draws_waiting_on_one_round_share_its_requests(backend: Backend) {
    let beacon = StandIn::start(PERIOD).await;
    let app = spawn(&fresh_database(backend), &beacon).await;
    let (owner, _) = app.login("owner").await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        let mut body = event_body(3600);
        body["draw_mode"] = json!("manual");
        let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
        app.joined_users(id, &format!("s{id}-"), 3).await;
        ids.push(id);
    }
    let draws = ids.iter().map(|id| {
        let (app, owner) = (&app, &owner);
        async move {
            app.post(&format!("/events/{id}/draw"), Some(owner), json!({}))
                .await
        }
    });
    for drawn in futures::future::join_all(draws).await {
        assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    }
    let mut rounds = std::collections::BTreeSet::new();
    for id in &ids {
        let record = fairness_record(&app, *id).await;
        assert_eq!(fairness::verify(&record, None), Ok(3));
        rounds.insert(record.beacon.unwrap().round);
    }
    assert!(rounds.len() <= 2, "{rounds:?}");
    for round in rounds {
        assert!(
            (1..=3).contains(&beacon.asked(round)),
            "round {round}: {} requests for 8 draws",
            beacon.asked(round)
        );
    }
}
