//! Winner claims (docs/API.md, "Winner claims"): the winner's details,
//! shipping, receipt, expiry on the app's clock, who sees what, the CSV
//! export, and personal data never stored in clear.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{in_secs, Backend, Reply, TestApp};

crate::both_backends!(
    a_claim_goes_from_unclaimed_to_received,
    only_the_winner_and_the_creator_see_details,
    every_bad_detail_is_named_and_changes_nothing,
    an_unclaimed_claim_expires_at_claim_by_on_the_apps_clock,
    racing_ships_ship_once,
    the_export_round_trips_through_pythons_csv_module,
    details_are_never_stored_in_clear,
    my_won_events_show_each_claims_status,
    details_are_erased_some_days_after_receipt,
    the_join_body_records_what_the_user_accepted,
);

const PHONE: &str = "+86 139-1234-5678";
const ADDRESS: &str = "上海市浦东新区世纪大道 100 号 8 楼";

/// A drawn event: `creator` made it (claim mode `mode`, one prize of
/// `prizes`), the `joiners` joined, and the creator drew it. Returns the
/// event id and the (token, user id) of every joiner, winners first.
struct Drawn {
    id: i64,
    creator: String,
    winners: Vec<(String, i64)>,
    losers: Vec<(String, i64)>,
}

async fn drawn_event(app: &TestApp, tag: &str, mode: &str, prizes: i64, joiners: usize) -> Drawn {
    let (creator, _) = app.login(&format!("{tag}-creator")).await;
    let event = app
        .create_event(
            &creator,
            json!({
                "title": "Claims", "draw_mode": "manual", "draw_at": in_secs(3600),
                "claim_mode": mode,
                "prizes": [{"name": "Gold", "quantity": prizes}]
            }),
        )
        .await;
    let id = event["id"].as_i64().unwrap();
    let users = app.joined_users(id, &format!("{tag}-u"), joiners).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let won: Vec<i64> = winners.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["user"]["id"].as_i64().unwrap())
        .collect();
    let (winners, losers) = users.into_iter().partition(|(_, id)| won.contains(id));
    Drawn {
        id,
        creator,
        winners,
        losers,
    }
}

async fn put_claim(app: &TestApp, id: i64, token: &str, body: Value) -> Reply {
    app.call(
        Method::PUT,
        &format!("/events/{id}/claim"),
        Some(token),
        Some(body),
    )
    .await
}

fn address_details() -> Value {
    json!({"name": "张三", "phone": PHONE, "address": ADDRESS, "note": "工作日送"})
}

async fn a_claim_goes_from_unclaimed_to_received(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("flow-creator").await;
    let event = app
        .create_event(
            &creator,
            json!({"title": "Claims", "draw_mode": "manual", "draw_at": in_secs(3600),
                   "prizes": [{"name": "Gold", "quantity": 1}]}),
        )
        .await;
    let id = event["id"].as_i64().unwrap();
    let (winner, winner_id) = app.login("flow-winner").await;
    assert_eq!(app.join(&winner, id).await.status, 200);

    // Before the draw there is no claim yet.
    let early = app.get(&format!("/events/{id}/claim"), Some(&winner)).await;
    assert_eq!(
        (early.status.as_u16(), early.code()),
        (409, 40901),
        "{:?}",
        early.body
    );
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    let drawn_at: chrono::DateTime<chrono::Utc> =
        drawn.data()["drawn_at"].as_str().unwrap().parse().unwrap();

    let claim = app.get(&format!("/events/{id}/claim"), Some(&winner)).await;
    assert_eq!(claim.status, 200, "{:?}", claim.body);
    let c = claim.data();
    assert_eq!(c["event_id"], id);
    assert_eq!(c["user"]["id"], winner_id);
    assert_eq!(c["prize"]["name"], "Gold");
    assert_eq!(c["round"], 1);
    assert_eq!(c["status"], "unclaimed");
    assert_eq!(c["details"], Value::Null);
    assert_eq!(c["shipment"], Value::Null);
    // claim_by = drawn_at + claim_days (7 by default).
    let claim_by: chrono::DateTime<chrono::Utc> = c["claim_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(claim_by - drawn_at, chrono::Duration::days(7));

    // Receipt before shipping is refused.
    let early = app
        .post(
            &format!("/events/{id}/claim/received"),
            Some(&winner),
            json!({}),
        )
        .await;
    assert_eq!(early.code(), 40901, "{:?}", early.body);

    let claimed = put_claim(&app, id, &winner, address_details()).await;
    assert_eq!(claimed.status, 200, "{:?}", claimed.body);
    assert_eq!(claimed.data()["status"], "claimed");
    assert_eq!(claimed.data()["details"], address_details());
    assert!(claimed.data()["claimed_at"].is_string());

    // Corrected until shipped: the note may go, spaces are trimmed.
    let corrected = put_claim(
        &app,
        id,
        &winner,
        json!({"name": " 张三丰 ", "phone": PHONE, "address": ADDRESS}),
    )
    .await;
    assert_eq!(corrected.status, 200, "{:?}", corrected.body);
    assert_eq!(
        corrected.data()["details"],
        json!({"name": "张三丰", "phone": PHONE, "address": ADDRESS, "note": ""})
    );

    let ship = format!("/events/{id}/claims/{winner_id}/ship");
    let shipped = app
        .post(
            &ship,
            Some(&creator),
            json!({"carrier": "顺丰", "tracking_no": "SF1234567890"}),
        )
        .await;
    assert_eq!(shipped.status, 200, "{:?}", shipped.body);
    assert_eq!(shipped.data()["status"], "shipped");
    assert_eq!(shipped.data()["shipment"]["carrier"], "顺丰");
    assert_eq!(shipped.data()["shipment"]["tracking_no"], "SF1234567890");
    assert!(shipped.data()["shipment"]["shipped_at"].is_string());

    // Shipped: no more corrections, no second shipping.
    let late = put_claim(&app, id, &winner, address_details()).await;
    assert_eq!(
        (late.status.as_u16(), late.code()),
        (409, 40903),
        "{:?}",
        late.body
    );
    let again = app
        .post(
            &ship,
            Some(&creator),
            json!({"carrier": "EMS", "tracking_no": "E1"}),
        )
        .await;
    assert_eq!(again.code(), 40901, "{:?}", again.body);

    // Only the winner confirms receipt.
    let by_creator = app
        .post(
            &format!("/events/{id}/claim/received"),
            Some(&creator),
            json!({}),
        )
        .await;
    assert_eq!(by_creator.code(), 40300, "{:?}", by_creator.body);
    let received = app
        .post(
            &format!("/events/{id}/claim/received"),
            Some(&winner),
            json!({}),
        )
        .await;
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(received.data()["status"], "received");
    assert!(received.data()["received_at"].is_string());
    let twice = app
        .post(
            &format!("/events/{id}/claim/received"),
            Some(&winner),
            json!({}),
        )
        .await;
    assert_eq!(twice.code(), 40901, "{:?}", twice.body);

    // The creator's list shows the same claim.
    let list = app
        .get(&format!("/events/{id}/claims"), Some(&creator))
        .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let items = list.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "received");
    assert_eq!(items[0]["details"]["name"], "张三丰");
}

async fn only_the_winner_and_the_creator_see_details(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "who", "address", 2, 4).await;
    let id = event.id;
    let (a, a_id) = &event.winners[0];
    let (b, b_id) = &event.winners[1];
    assert_eq!(put_claim(&app, id, a, address_details()).await.status, 200);

    // Another event's creator, a participant who did not win, a user who
    // never joined, and the other winner.
    let (other_creator, _) = app.login("who-other-creator").await;
    app.create_event(&other_creator, crate::helpers::event_body(3600))
        .await;
    let (loser, _) = &event.losers[0];
    let (stranger, _) = app.login("who-stranger").await;
    let creator_paths = [
        format!("/events/{id}/claims"),
        format!("/events/{id}/claims/export"),
    ];
    for token in [&other_creator, loser, &stranger, b] {
        for path in &creator_paths {
            let r = app.get(path, Some(token)).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (403, 40300),
                "{path}: {:?}",
                r.body
            );
            assert!(!r.body.to_string().contains("张三"), "{path}: {:?}", r.body);
        }
        let ship = app
            .post(
                &format!("/events/{id}/claims/{a_id}/ship"),
                Some(token),
                json!({"carrier": "x", "tracking_no": "1"}),
            )
            .await;
        assert_eq!(ship.code(), 40300, "{:?}", ship.body);
    }
    for token in [&other_creator, loser, &stranger] {
        let own = app.get(&format!("/events/{id}/claim"), Some(token)).await;
        assert_eq!(
            (own.status.as_u16(), own.code()),
            (403, 40300),
            "{:?}",
            own.body
        );
        let put = put_claim(&app, id, token, address_details()).await;
        assert_eq!(put.code(), 40300, "{:?}", put.body);
        let received = app
            .post(
                &format!("/events/{id}/claim/received"),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(received.code(), 40300, "{:?}", received.body);
    }
    // Anonymous callers get nothing at all.
    for path in creator_paths.iter().chain([&format!("/events/{id}/claim")]) {
        let r = app.get(path, None).await;
        assert_eq!(r.status, 401, "{path}: {:?}", r.body);
    }
    // The other winner sees only their own claim, without details.
    let own_b = app.get(&format!("/events/{id}/claim"), Some(b)).await;
    assert_eq!(own_b.data()["user"]["id"], *b_id);
    assert_eq!(own_b.data()["details"], Value::Null);
    // Public answers never carry details.
    for path in [
        format!("/events/{id}"),
        format!("/events/{id}/winners"),
        format!("/events/{id}/fairness"),
        format!("/events/{id}/participants"),
    ] {
        let r = app.get(&path, Some(b)).await;
        assert_eq!(r.status, 200);
        assert!(!r.body.to_string().contains(PHONE), "{path}");
    }
    // The winner and the creator do see them.
    let own_a = app.get(&format!("/events/{id}/claim"), Some(a)).await;
    assert_eq!(own_a.data()["details"]["phone"], PHONE);
    let list = app
        .get(&format!("/events/{id}/claims"), Some(&event.creator))
        .await;
    let by_user: HashMap<i64, Value> = list.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"]["id"].as_i64().unwrap(), c.clone()))
        .collect();
    assert_eq!(by_user.len(), 2);
    assert_eq!(by_user[a_id]["details"]["phone"], PHONE);
    assert_eq!(by_user[b_id]["status"], "unclaimed");
}

async fn every_bad_detail_is_named_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "bad", "address", 1, 1).await;
    let id = event.id;
    let (winner, _) = &event.winners[0];
    let long = "长".repeat(201);
    let cases = [
        (json!({"phone": PHONE, "address": ADDRESS}), "name"),
        (
            json!({"name": "", "phone": PHONE, "address": ADDRESS}),
            "name",
        ),
        (
            json!({"name": "n".repeat(33), "phone": PHONE, "address": ADDRESS}),
            "name",
        ),
        (json!({"name": "n", "address": ADDRESS}), "phone"),
        (
            json!({"name": "n", "phone": "1234", "address": ADDRESS}),
            "phone",
        ),
        (
            json!({"name": "n", "phone": "138 abcd 5678", "address": ADDRESS}),
            "phone",
        ),
        (
            json!({"name": "n", "phone": "1".repeat(21), "address": ADDRESS}),
            "phone",
        ),
        (json!({"name": "n", "phone": PHONE}), "address"),
        (
            json!({"name": "n", "phone": PHONE, "address": long.clone()}),
            "address",
        ),
        (
            json!({"name": "n", "phone": PHONE, "address": ADDRESS, "note": long}),
            "note",
        ),
        (
            json!({"name": "n", "phone": PHONE, "address": ADDRESS, "contact": "wx"}),
            "contact",
        ),
        (
            json!({"name": "n", "phone": PHONE, "address": ADDRESS, "age": 3}),
            "age",
        ),
        (
            json!({"name": 5, "phone": PHONE, "address": ADDRESS}),
            "name",
        ),
    ];
    for (body, field) in cases {
        let r = put_claim(&app, id, winner, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, 40000),
            "{body}: {:?}",
            r.body
        );
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
        // The message names the field, never echoes a value.
        assert!(
            !message.contains(PHONE) && !message.contains(ADDRESS),
            "{message}"
        );
    }
    let not_json = app
        .client
        .put(format!("{}/api/v1/events/{id}/claim", app.base))
        .bearer_auth(winner)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let claim = app.get(&format!("/events/{id}/claim"), Some(winner)).await;
    assert_eq!(claim.data()["status"], "unclaimed");
    assert_eq!(claim.data()["details"], Value::Null);

    // Contact mode asks a contact, not an address.
    let contact = drawn_event(&app, "badc", "contact", 1, 1).await;
    let (winner, _) = &contact.winners[0];
    let r = put_claim(&app, contact.id, winner, address_details()).await;
    assert_eq!(r.code(), 40000, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("contact mode"));
    let r = put_claim(&app, contact.id, winner, json!({"contact": "微信 zhang3"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.data()["details"],
        json!({"contact": "微信 zhang3", "note": ""})
    );

    // A bad shipment is named too.
    let ship = format!(
        "/events/{}/claims/{}/ship",
        contact.id, contact.winners[0].1
    );
    for (body, field) in [
        (json!({"tracking_no": "1"}), "carrier"),
        (
            json!({"carrier": "c".repeat(33), "tracking_no": "1"}),
            "carrier",
        ),
        (json!({"carrier": "顺丰"}), "tracking_no"),
        (
            json!({"carrier": "顺丰", "tracking_no": "9".repeat(65)}),
            "tracking_no",
        ),
    ] {
        let r = app.post(&ship, Some(&contact.creator), body.clone()).await;
        assert_eq!(r.code(), 40000, "{body}: {:?}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains(field),
            "{body}: {:?}",
            r.body
        );
    }
    let r = app
        .get(&format!("/events/{}/claim", contact.id), Some(winner))
        .await;
    assert_eq!(r.data()["status"], "claimed");
    // A winner id that is no winner of this event.
    let r = app
        .post(
            &format!("/events/{}/claims/999999/ship", contact.id),
            Some(&contact.creator),
            json!({"carrier": "顺丰", "tracking_no": "1"}),
        )
        .await;
    assert_eq!(r.code(), 40400, "{:?}", r.body);
}

async fn an_unclaimed_claim_expires_at_claim_by_on_the_apps_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "exp", "address", 2, 2).await;
    let id = event.id;
    let (late, late_id) = &event.winners[0];
    let (early, early_id) = &event.winners[1];
    assert_eq!(
        put_claim(&app, id, early, address_details()).await.status,
        200
    );

    // A moment before claim_by the window is still open.
    app.clock
        .advance(chrono::Duration::days(7) - chrono::Duration::minutes(1));
    let open = app.get(&format!("/events/{id}/claim"), Some(late)).await;
    assert_eq!(open.data()["status"], "unclaimed");

    app.clock.advance(chrono::Duration::minutes(2));
    let expired = app.get(&format!("/events/{id}/claim"), Some(late)).await;
    assert_eq!(expired.data()["status"], "expired", "{:?}", expired.body);
    let put = put_claim(&app, id, late, address_details()).await;
    assert_eq!(
        (put.status.as_u16(), put.code()),
        (409, 40903),
        "{:?}",
        put.body
    );
    let ship = app
        .post(
            &format!("/events/{id}/claims/{late_id}/ship"),
            Some(&event.creator),
            json!({"carrier": "顺丰", "tracking_no": "1"}),
        )
        .await;
    assert_eq!(ship.code(), 40901, "{:?}", ship.body);

    // A claimed prize does not expire; its details are frozen but it ships.
    let claimed = app.get(&format!("/events/{id}/claim"), Some(early)).await;
    assert_eq!(claimed.data()["status"], "claimed");
    let fix = put_claim(&app, id, early, address_details()).await;
    assert_eq!(fix.code(), 40903, "{:?}", fix.body);
    let ship = app
        .post(
            &format!("/events/{id}/claims/{early_id}/ship"),
            Some(&event.creator),
            json!({"carrier": "顺丰", "tracking_no": "1"}),
        )
        .await;
    assert_eq!(ship.status, 200, "{:?}", ship.body);

    // The expiry is judged at read time, so a server that was down at
    // claim_by shows it all the same.
    let again = TestApp::spawn_on(app.database_url.clone(), &[]).await;
    again.clock.advance(chrono::Duration::days(8));
    let (creator, _) = again.login("exp-creator").await;
    let list = again
        .get(&format!("/events/{id}/claims"), Some(&creator))
        .await;
    let statuses: HashMap<i64, Value> = list.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"]["id"].as_i64().unwrap(), c["status"].clone()))
        .collect();
    assert_eq!(statuses[late_id], "expired", "{:?}", list.body);
    assert_eq!(statuses[early_id], "shipped", "{:?}", list.body);
}

async fn racing_ships_ship_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "race", "address", 1, 1).await;
    let id = event.id;
    let (winner, winner_id) = &event.winners[0];
    assert_eq!(
        put_claim(&app, id, winner, address_details()).await.status,
        200
    );
    let ship = format!("/events/{id}/claims/{winner_id}/ship");
    let tries = (0..8).map(|i| {
        app.post(
            &ship,
            Some(&event.creator),
            json!({"carrier": "顺丰", "tracking_no": format!("SF{i}")}),
        )
    });
    let replies = futures::future::join_all(tries).await;
    let shipped: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        shipped.len(),
        1,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(r.code(), 40901, "{:?}", r.body);
    }
    // What the one 200 said is what is stored.
    let stored = app.get(&format!("/events/{id}/claim"), Some(winner)).await;
    assert_eq!(stored.data()["shipment"], shipped[0].data()["shipment"]);
}

async fn the_export_round_trips_through_pythons_csv_module(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "csv", "address", 2, 3).await;
    let id = event.id;
    let tricky_name = "Zhang, \"Big\"\nSan";
    let (a, a_id) = &event.winners[0];
    let details = json!({"name": tricky_name, "phone": PHONE, "address": "=cmd|' /C calc'!A0"});
    assert_eq!(put_claim(&app, id, a, details).await.status, 200);

    let r = app
        .client
        .get(format!("{}/api/v1/events/{id}/claims/export", app.base))
        .bearer_auth(&event.creator)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let bytes = r.bytes().await.unwrap();
    assert!(
        bytes.starts_with("\u{feff}".as_bytes()),
        "no byte-order mark"
    );

    let file = std::env::temp_dir().join(format!("claims-{}.csv", rand::random::<u64>()));
    std::fs::write(&file, &bytes).unwrap();
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:\n\
                  \x20   print(json.dumps(list(csv.DictReader(f))))";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .output()
        .expect("python3 runs");
    std::fs::remove_file(&file).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<HashMap<String, String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = rows
        .iter()
        .find(|r| r["user_id"] == a_id.to_string())
        .unwrap();
    assert_eq!(row["name"], tricky_name);
    assert_eq!(row["round"], "1");
    assert_eq!(row["status"], "claimed");
    assert_eq!(row["prize"], "Gold");
    // Cells a spreadsheet would run as formulas are kept as text.
    assert_eq!(row["phone"], format!("'{PHONE}"));
    assert_eq!(row["address"], "'=cmd|' /C calc'!A0");
    let other = rows
        .iter()
        .find(|r| r["user_id"] != a_id.to_string())
        .unwrap();
    assert_eq!(other["status"], "unclaimed");
    assert_eq!(other["name"], "");

    // Before the draw, errors are enveloped.
    let (creator, _) = app.login("csv-early").await;
    let open = app
        .create_event(&creator, crate::helpers::event_body(3600))
        .await;
    let r = app
        .get(
            &format!("/events/{}/claims/export", open["id"]),
            Some(&creator),
        )
        .await;
    assert_eq!(r.code(), 40901, "{:?}", r.body);
}

async fn details_are_never_stored_in_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "clear", "address", 1, 1).await;
    let (winner, _) = &event.winners[0];
    assert_eq!(
        put_claim(&app, event.id, winner, address_details())
            .await
            .status,
        200
    );
    let stored = crate::helpers::stored_text(&app).await;
    for secret in [PHONE, ADDRESS, "139-1234-5678", "世纪大道"] {
        assert!(!stored.contains(secret), "{secret} is stored in clear");
    }
    // And yet the details are there, sealed.
    assert!(stored.contains("claims"), "the dump read no claims table");
    let r = app
        .get(&format!("/events/{}/claim", event.id), Some(winner))
        .await;
    assert_eq!(r.data()["details"]["address"], ADDRESS);
}

async fn my_won_events_show_each_claims_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "mine", "address", 1, 1).await;
    let (winner, _) = &event.winners[0];
    let won = app.get("/me/events?role=won", Some(winner)).await;
    let items = won.data()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", won.body);
    assert_eq!(items[0]["me"]["claim"]["status"], "unclaimed");
    assert!(items[0]["me"]["claim"]["claim_by"].is_string());
    assert_eq!(
        put_claim(&app, event.id, winner, address_details())
            .await
            .status,
        200
    );
    let won = app.get("/me/events?role=won", Some(winner)).await;
    assert_eq!(won.data()["items"][0]["me"]["claim"]["status"], "claimed");
    // Lists of other roles carry no claim.
    let joined = app.get("/me/events?role=joined", Some(winner)).await;
    assert!(joined.data()["items"][0]["me"].get("claim").is_none());
}

async fn the_join_body_records_what_the_user_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("subs-creator").await;
    let event = app
        .create_event(&creator, crate::helpers::event_body(3600))
        .await;
    let id = event["id"].as_i64().unwrap();
    let (user, _) = app.login("subs-user").await;
    let path = format!("/events/{id}/participants/me");
    let join = |body: Value| app.call(Method::PUT, &path, Some(&user), Some(body));
    let bad = join(json!({"subscribe": ["result", "spam"]})).await;
    assert_eq!(bad.code(), 40000, "{:?}", bad.body);
    assert!(bad.body["message"].as_str().unwrap().contains("subscribe"));
    let not_list = join(json!({"subscribe": "result"})).await;
    assert_eq!(not_list.code(), 40000, "{:?}", not_list.body);
    assert!(not_list.body["message"]
        .as_str()
        .unwrap()
        .contains("subscribe"));
    assert_eq!(
        app.participant_items(id, 10).await.len(),
        0,
        "a refused join joined"
    );

    let ok = join(json!({"subscribe": ["claim_reminder"]})).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let ok = join(json!({"notify": true})).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // Both acceptances are stored (they only add up).
    let db = lottery::store::Db::connect(&app.database_url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let rows = participant_flags(&db, id).await;
    assert_eq!(rows, vec![(true, true)]);
}

async fn participant_flags(db: &lottery::store::Db, event_id: i64) -> Vec<(bool, bool)> {
    use lottery::store::schema::participants;
    let result: lottery::error::AppResult<Vec<(bool, bool)>> = async {
        lottery::db_run!(db, |conn| {
            Ok(participants::table
                .filter(participants::event_id.eq(event_id))
                .select((participants::notify, participants::remind))
                .load(conn)
                .await?)
        })
    }
    .await;
    result.unwrap()
}

async fn details_are_erased_some_days_after_receipt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let event = drawn_event(&app, "erase", "address", 3, 3).await;
    let id = event.id;
    let ship = |user: i64| {
        let path = format!("/events/{id}/claims/{user}/ship");
        let creator = event.creator.clone();
        let app = &app;
        async move {
            app.post(
                &path,
                Some(&creator),
                json!({"carrier": "顺丰", "tracking_no": "SF1"}),
            )
            .await
        }
    };
    // One received, one shipped and never confirmed, one claimed only.
    for (token, _) in &event.winners {
        assert_eq!(
            put_claim(&app, id, token, address_details()).await.status,
            200
        );
    }
    let (received, received_id) = &event.winners[0];
    let (shipped, shipped_id) = &event.winners[1];
    let (claimed, _) = &event.winners[2];
    assert_eq!(ship(*received_id).await.status, 200);
    assert_eq!(ship(*shipped_id).await.status, 200);
    let r = app
        .post(
            &format!("/events/{id}/claim/received"),
            Some(received),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let details = |token: &str| {
        let path = format!("/events/{id}/claim");
        let token = token.to_string();
        let app = &app;
        async move { app.get(&path, Some(&token)).await.data()["details"].clone() }
    };

    // Kept for 30 days after receipt.
    app.clock.advance(chrono::Duration::days(29));
    assert_eq!(app.sweep_claims().await, 0);
    assert_eq!(details(received).await["phone"], PHONE);
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(app.sweep_claims().await, 1);
    assert_eq!(details(received).await, Value::Null);
    let row = app
        .get(&format!("/events/{id}/claim"), Some(received))
        .await;
    assert_eq!(row.data()["status"], "received", "the claim row stays");
    assert_eq!(details(shipped).await["phone"], PHONE);
    // A shipment never confirmed: 60 days after shipping.
    app.clock.advance(chrono::Duration::days(30));
    assert_eq!(app.sweep_claims().await, 1);
    assert_eq!(details(shipped).await, Value::Null);
    // Claimed, never shipped: the creator still needs them.
    assert_eq!(details(claimed).await["phone"], PHONE);
    assert_eq!(app.sweep_claims().await, 0);
    // Erased means gone from the database, not hidden.
    let db = lottery::store::Db::connect(&app.database_url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(sealed_details(&db, id).await, 1);
}

async fn sealed_details(db: &lottery::store::Db, event_id: i64) -> i64 {
    use lottery::store::schema::claims;
    let result: lottery::error::AppResult<i64> = async {
        lottery::db_run!(db, |conn| {
            Ok(claims::table
                .filter(claims::event_id.eq(event_id))
                .filter(claims::details.is_not_null())
                .count()
                .get_result(conn)
                .await?)
        })
    }
    .await;
    result.unwrap()
}
