//! Signed requests (docs/SIGNING.md) against the real app: a good
//! signature passes; unsigned, bad, stale and replayed requests are 401
//! 40100 and change nothing; ops endpoints need no signature.

use lottery::api::signature::{sign, Signed};
use reqwest::Method;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{event_body, two_sharing_redis, Backend, TestApp};

both_backends!(signed_requests_pass_and_bad_stale_or_replayed_ones_do_not);

const KEY: &str = "test-signing-key-0123456789";

struct Sent {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

/// Sends `body` (exact bytes) with the headers given; returns the answer.
async fn send(
    app: &TestApp,
    method: Method,
    target: &str,
    token: Option<&str>,
    body: &str,
    headers: &[(String, String)],
) -> Sent {
    let mut req = app
        .client
        .request(method, format!("{}{target}", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    Sent {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers: headers.to_vec(),
    }
}

fn signed_headers(
    key: &str,
    method: &str,
    target: &str,
    body: &str,
    timestamp: i64,
) -> Vec<(String, String)> {
    let nonce = format!("n-{:016x}", rand::random::<u64>());
    let timestamp = timestamp.to_string();
    let signature = sign(
        key.as_bytes(),
        &Signed {
            method,
            path_and_query: target,
            timestamp: &timestamp,
            nonce: &nonce,
            body: body.as_bytes(),
        },
    );
    vec![
        ("X-Lottery-Timestamp".into(), timestamp),
        ("X-Lottery-Nonce".into(), nonce),
        ("X-Lottery-Signature".into(), signature),
    ]
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn signed(
    app: &TestApp,
    method: Method,
    target: &str,
    token: Option<&str>,
    body: &str,
) -> Sent {
    let headers = signed_headers(KEY, method.as_str(), target, body, now());
    send(app, method, target, token, body, &headers).await
}

fn assert_refused(sent: &Sent, message_part: &str) {
    assert_eq!(sent.status, 401, "{:?}", sent.body);
    assert_eq!(sent.body["code"], 40100);
    let message = sent.body["message"].as_str().unwrap();
    assert!(message.contains(message_part), "{message}");
}

async fn signed_requests_pass_and_bad_stale_or_replayed_ones_do_not(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[(
            "LOTTERY_SIGNING_KEYS",
            &format!("an-old-key-still-valid,{KEY}"),
        )],
    )
    .await;
    let login = signed(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        r#"{"code":"dev:signer"}"#,
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let token = login.body["data"]["token"].as_str().unwrap().to_string();
    let body = event_body(3600).to_string();
    let created = signed(&app, Method::POST, "/api/v1/events", Some(&token), &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let event = created.body["data"]["id"].as_i64().unwrap();
    let join_target = format!("/api/v1/events/{event}/participants/me");
    let participants = format!("/api/v1/events/{event}/participants?limit=5");

    // Unsigned: refused, with a message that says what is needed.
    let unsigned = send(&app, Method::GET, "/api/v1/me", Some(&token), "", &[]).await;
    assert_refused(&unsigned, "X-Lottery-Signature");
    // Signed with a key the server does not hold.
    let forged = signed_headers("not-the-key-at-all-0000", "PUT", &join_target, "{}", now());
    assert_refused(
        &send(&app, Method::PUT, &join_target, Some(&token), "{}", &forged).await,
        "does not match",
    );
    // Signed for another body than the one sent.
    let other_body = signed_headers(KEY, "PUT", &join_target, r#"{"notify":true}"#, now());
    assert_refused(
        &send(
            &app,
            Method::PUT,
            &join_target,
            Some(&token),
            "{}",
            &other_body,
        )
        .await,
        "does not match",
    );
    // Stale: six minutes old, or six minutes ahead.
    for skew in [-360, 360] {
        let stale = signed_headers(KEY, "PUT", &join_target, "{}", now() + skew);
        assert_refused(
            &send(&app, Method::PUT, &join_target, Some(&token), "{}", &stale).await,
            "5 minutes",
        );
    }
    // None of them joined.
    let list = signed(&app, Method::GET, &participants, None, "").await;
    assert_eq!(
        list.status, 200,
        "a signed query string passes: {:?}",
        list.body
    );
    assert_eq!(list.body["data"]["items"].as_array().unwrap().len(), 0);

    // A good join passes once; its replay is refused.
    let join = signed(&app, Method::PUT, &join_target, Some(&token), "{}").await;
    assert_eq!(join.status, 200, "{:?}", join.body);
    let replay = send(
        &app,
        Method::PUT,
        &join_target,
        Some(&token),
        "{}",
        &join.headers,
    )
    .await;
    assert_refused(&replay, "already received");
    // A leave replayed after a rejoin: the replay changes nothing.
    let leave = signed(&app, Method::DELETE, &join_target, Some(&token), "").await;
    assert_eq!(leave.status, 200);
    assert_eq!(
        signed(&app, Method::PUT, &join_target, Some(&token), "{}")
            .await
            .status,
        200
    );
    assert_refused(
        &send(
            &app,
            Method::DELETE,
            &join_target,
            Some(&token),
            "",
            &leave.headers,
        )
        .await,
        "already received",
    );
    let list = signed(&app, Method::GET, &participants, None, "").await;
    assert_eq!(list.body["data"]["items"].as_array().unwrap().len(), 1);

    // Ops endpoints are never signed.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path, None).await.status, 200, "{path}");
    }
}

/// With Redis, a request replayed to another instance is refused too.
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn a_replay_to_another_instance_is_refused() {
    let (one, two) = two_sharing_redis(&[("LOTTERY_SIGNING_KEYS", KEY)]).await;
    let body = r#"{"code":"dev:roamer"}"#;
    let first = signed(&one, Method::POST, "/api/v1/auth/login", None, body).await;
    assert_eq!(first.status, 200);
    let replay = send(
        &two,
        Method::POST,
        "/api/v1/auth/login",
        None,
        body,
        &first.headers,
    )
    .await;
    assert_refused(&replay, "already received");
}
