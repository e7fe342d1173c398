//! Join rules (docs/API.md, "Join rules"): the password, group-only events
//! and the minimum number of participants, through real HTTP on both
//! backends. WeChat's fraud check is in `risk_check.rs`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{in_secs, Backend, Reply, TestApp};
use lottery::domain::join_rules::PASSWORD_TRIES;
use lottery::wechat::open_data::{dev_session_key, group_proof, DEV_APPID};

crate::both_backends!(
    a_password_event_takes_only_its_password,
    wrong_passwords_run_out_per_user_and_event,
    racing_guesses_cannot_pass_the_try_limit,
    the_password_is_never_shown_nor_stored_in_clear,
    a_group_only_event_takes_members_of_its_groups,
    bad_group_proofs_are_40311_never_500,
    too_few_participants_cancel_the_event_at_its_draw,
    enough_participants_draw_as_usual,
    bad_join_rules_are_named,
);

async fn event_with(app: &TestApp, creator: &str, rules: Value) -> i64 {
    let mut body = json!({
        "title": "Rules", "draw_mode": "manual", "draw_at": in_secs(3600),
        "prizes": [{"name": "Gold", "quantity": 1}]
    });
    for (k, v) in rules.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_event(creator, body).await["id"]
        .as_i64()
        .unwrap()
}

async fn join_with(app: &TestApp, token: &str, id: i64, body: Value) -> Reply {
    app.call(
        Method::PUT,
        &format!("/events/{id}/participants/me"),
        Some(token),
        Some(body),
    )
    .await
}

fn code(r: &Reply) -> (u16, i64) {
    (r.status.as_u16(), r.code())
}

async fn a_password_event_takes_only_its_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("pw-creator").await;
    let id = event_with(&app, &creator, json!({"join_password": "芝麻 1234"})).await;
    let view = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(
        view.data()["join_rules"],
        json!({"password": true, "group_only": false, "risk_check": false, "min_participants": null})
    );
    let (user, _) = app.login("pw-user").await;
    assert_eq!(
        code(&join_with(&app, &user, id, json!({})).await),
        (403, 40310)
    );
    for wrong in ["芝麻 123", "芝麻1234", " 芝麻 1234", ""] {
        let r = join_with(&app, &user, id, json!({"password": wrong})).await;
        assert_eq!(code(&r), (403, 40310), "{wrong:?}");
    }
    let r = join_with(&app, &user, id, json!({"password": "芝麻 1234"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["participant_count"], 1);
    // A member's repeat join (to accept a notice) needs no password again.
    let r = join_with(&app, &user, id, json!({"notify": true})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Leaving and coming back does.
    let left = app.leave(&user, id).await;
    assert_eq!(left.status, 200);
    assert_eq!(
        code(&join_with(&app, &user, id, json!({})).await),
        (403, 40310)
    );
    // An event without a password ignores one given.
    let plain = event_with(&app, &creator, json!({})).await;
    let r = join_with(&app, &user, plain, json!({"password": "anything"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn wrong_passwords_run_out_per_user_and_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("tries-creator").await;
    let id = event_with(&app, &creator, json!({"join_password": "4821"})).await;
    let other = event_with(&app, &creator, json!({"join_password": "4821"})).await;
    let (guesser, _) = app.login("guesser").await;
    for n in 0..PASSWORD_TRIES {
        let r = join_with(&app, &guesser, id, json!({"password": format!("{n:04}")})).await;
        assert_eq!(code(&r), (403, 40310));
    }
    // Out of tries: even the right password is refused now, with 429.
    let r = join_with(&app, &guesser, id, json!({"password": "4821"})).await;
    assert_eq!(code(&r), (429, 42900), "{:?}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    // Nothing was stored.
    let view = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(view.data()["participant_count"], 0);
    // The count outlives the event's actor: a restart still refuses.
    let url = app.database_url.clone();
    app.stop().await;
    let app = TestApp::spawn_on(url, &[]).await;
    let (creator, _) = app.login("tries-creator").await;
    let (guesser, _) = app.login("guesser").await;
    let r = join_with(&app, &guesser, id, json!({"password": "4821"})).await;
    assert_eq!(code(&r), (429, 42900), "after a restart: {:?}", r.body);
    // Another user, another event: their own tries.
    let (honest, _) = app.login("honest").await;
    let r = join_with(&app, &honest, id, json!({"password": "4821"})).await;
    assert_eq!(r.status, 200);
    let r = join_with(&app, &guesser, other, json!({"password": "4821"})).await;
    assert_eq!(r.status, 200);
    // Right passwords cost no try.
    let third = event_with(&app, &creator, json!({"join_password": "ok"})).await;
    for _ in 0..PASSWORD_TRIES + 2 {
        let r = join_with(&app, &honest, third, json!({"password": "ok"})).await;
        assert_eq!(r.status, 200);
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("lottery_join_refusals_total{rule=\"password\"}"),
        "refusals are counted"
    );
}

/// Fifty wrong guesses sent at once by one user: no more than the limit
/// reach the actor (each try is taken before the join is decided).
async fn racing_guesses_cannot_pass_the_try_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("race-creator").await;
    let id = event_with(&app, &creator, json!({"join_password": "7"})).await;
    let (guesser, _) = app.login("racer").await;
    let guesses = (0..50).map(|n| {
        let (app, guesser) = (&app, &guesser);
        async move { join_with(app, guesser, id, json!({"password": format!("x{n}")})).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let wrong = answers.iter().filter(|r| r.code() == 40310).count();
    let limited = answers.iter().filter(|r| r.code() == 42900).count();
    assert_eq!(
        wrong as u32,
        PASSWORD_TRIES,
        "{:?}",
        answers.iter().map(|r| r.code()).collect::<Vec<_>>()
    );
    assert_eq!(wrong + limited, 50);
}

async fn the_password_is_never_shown_nor_stored_in_clear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("secret-creator").await;
    const PASSWORD: &str = "QuietOwl-93517";
    let created = app
        .post(
            "/events",
            Some(&creator),
            json!({"title": "Secret", "draw_mode": "manual", "draw_at": in_secs(3600),
                   "join_password": PASSWORD, "prizes": [{"name": "Gold", "quantity": 1}]}),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.data()["id"].as_i64().unwrap();
    let (user, _) = app.login("secret-user").await;
    join_with(&app, &user, id, json!({"password": PASSWORD})).await;
    let mut seen = created.body.to_string();
    for path in [
        format!("/events/{id}"),
        format!("/events/{id}/participants"),
        "/me/events?role=created".to_string(),
    ] {
        seen.push_str(&app.get(&path, Some(&creator)).await.body.to_string());
    }
    seen.push_str(&app.metrics_text().await);
    assert!(!seen.contains(PASSWORD), "an answer shows the password");
    // The database holds a keyed digest, not the password.
    let dump = crate::helpers::stored_text(&app).await;
    assert!(!dump.contains(PASSWORD), "the password is stored in clear");
    let hex: String = PASSWORD.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!dump.to_lowercase().contains(&hex));
}

/// The creator binds group G (a proof made with their own session key);
/// a joiner who shows G joins, one who shows H, nothing, or G's proof
/// made for someone else is refused 40311.
async fn a_group_only_event_takes_members_of_its_groups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("grp-creator").await;
    let id = event_with(&app, &creator, json!({"group_only": true})).await;
    let view = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(view.data()["join_rules"]["group_only"], true);
    let proof = |name: &str, group: &str| {
        let (data, iv) = group_proof(&dev_session_key(name), DEV_APPID, group);
        json!({"encrypted_data": data, "iv": iv})
    };
    let bound = app
        .post(
            &format!("/events/{id}/groups"),
            Some(&creator),
            proof("grp-creator", "G-tea-club"),
        )
        .await;
    assert_eq!(bound.status, 200, "{:?}", bound.body);
    assert_eq!(bound.data()["groups"], 1);
    let again = app
        .post(
            &format!("/events/{id}/groups"),
            Some(&creator),
            proof("grp-creator", "G-tea-club"),
        )
        .await;
    assert_eq!(again.data()["groups"], 1, "binding again changes nothing");
    let second = app
        .post(
            &format!("/events/{id}/groups"),
            Some(&creator),
            proof("grp-creator", "G-chess"),
        )
        .await;
    assert_eq!(second.data()["groups"], 2);

    let (member, _) = app.login("grp-member").await;
    let r = join_with(
        &app,
        &member,
        id,
        json!({"group": proof("grp-member", "G-chess")}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (stranger, _) = app.login("grp-stranger").await;
    for body in [
        json!({}),
        json!({"group": proof("grp-stranger", "G-other")}),
        // The member's own proof, lent: it does not open with this session.
        json!({"group": proof("grp-member", "G-chess")}),
    ] {
        assert_eq!(
            code(&join_with(&app, &stranger, id, body).await),
            (403, 40311)
        );
    }
    // Only the creator binds, and only a group-only event.
    let r = app
        .post(
            &format!("/events/{id}/groups"),
            Some(&member),
            proof("grp-member", "G-x"),
        )
        .await;
    assert_eq!(code(&r), (403, 40300));
    let plain = event_with(&app, &creator, json!({})).await;
    let r = app
        .post(
            &format!("/events/{plain}/groups"),
            Some(&creator),
            proof("grp-creator", "G-x"),
        )
        .await;
    assert_eq!(code(&r), (409, 40901));
}

async fn bad_group_proofs_are_40311_never_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("bad-creator").await;
    let id = event_with(&app, &creator, json!({"group_only": true})).await;
    let (data, iv) = group_proof(&dev_session_key("bad-creator"), "wx_someone_else", "G");
    let foreign = json!({"encrypted_data": data, "iv": iv});
    let (good_data, good_iv) = group_proof(&dev_session_key("bad-creator"), DEV_APPID, "G");
    let mut truncated = good_data.clone();
    truncated.truncate(good_data.len() - 8);
    for body in [
        foreign,
        json!({"encrypted_data": "%%%", "iv": good_iv}),
        json!({"encrypted_data": good_data, "iv": "AAAA"}),
        json!({"encrypted_data": truncated, "iv": good_iv}),
        json!({"encrypted_data": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": good_iv}),
    ] {
        let r = app
            .post(
                &format!("/events/{id}/groups"),
                Some(&creator),
                body.clone(),
            )
            .await;
        assert_eq!(code(&r), (403, 40311), "{body}: {:?}", r.body);
        let r = join_with(&app, &creator, id, json!({"group": body})).await;
        assert_eq!(code(&r), (403, 40311), "{:?}", r.body);
    }
    let r = app
        .post(
            &format!("/events/{id}/groups"),
            Some(&creator),
            json!({"iv": "x"}),
        )
        .await;
    assert_eq!(code(&r), (400, 40000));
}

/// Two participants, a minimum of three: the draw cancels the event in
/// its transaction, says why, and a restart finds it cancelled.
async fn too_few_participants_cancel_the_event_at_its_draw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("min-creator").await;
    let id = event_with(&app, &creator, json!({"min_participants": 3})).await;
    assert_eq!(
        app.get(&format!("/events/{id}"), None).await.data()["join_rules"]["min_participants"],
        3
    );
    app.joined_users(id, "min-u", 2).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.status, 200, "{:?}", drawn.body);
    assert_eq!(drawn.data()["status"], "cancelled");
    assert_eq!(drawn.data()["cancel_reason"], "too_few_participants");
    assert!(drawn.data()["cancelled_at"].is_string());
    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    assert_eq!(code(&winners), (409, 40901));
    let url = app.database_url.clone();
    app.stop().await;
    let app = TestApp::spawn_on(url, &[]).await;
    let view = app.get(&format!("/events/{id}"), None).await;
    assert_eq!(view.data()["status"], "cancelled");
    assert_eq!(view.data()["cancel_reason"], "too_few_participants");
    assert_eq!(view.data()["participant_count"], 2);
}

async fn enough_participants_draw_as_usual(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("enough-creator").await;
    let id = event_with(&app, &creator, json!({"min_participants": 2})).await;
    app.joined_users(id, "enough-u", 2).await;
    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&creator), json!({}))
        .await;
    assert_eq!(drawn.data()["status"], "drawn", "{:?}", drawn.body);
    // An at_time event with too few is cancelled by its timer just the same.
    let timed = app
        .create_event(
            &creator,
            json!({"title": "Timed", "draw_at": in_secs(2), "min_participants": 5,
                   "prizes": [{"name": "Gold", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    app.joined_users(timed, "timed-u", 1).await;
    let cancelled = app.wait_status(timed, "cancelled", 15).await;
    assert_eq!(cancelled["cancel_reason"], "too_few_participants");
    actix_web::rt::time::sleep(Duration::from_millis(10)).await;
}

async fn bad_join_rules_are_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (creator, _) = app.login("named-creator").await;
    for (rules, field) in [
        (json!({"join_password": ""}), "join_password"),
        (json!({"join_password": "x".repeat(33)}), "join_password"),
        (json!({"join_password": 1234}), "join_password"),
        (json!({"min_participants": 0}), "min_participants"),
        (
            json!({"min_participants": 10, "max_participants": 5}),
            "min_participants",
        ),
        (json!({"group_only": "yes"}), "group_only"),
    ] {
        let mut body = json!({"title": "Bad", "draw_at": in_secs(3600),
                              "prizes": [{"name": "Gold", "quantity": 1}]});
        for (k, v) in rules.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.post("/events", Some(&creator), body).await;
        assert_eq!(code(&r), (400, 40000), "{rules}");
        assert!(r.message().contains(field), "{rules}: {}", r.message());
    }
}
