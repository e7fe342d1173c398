//! A winner's delivery details never reach the logs (trace level, so debug
//! too), the metrics or an error message, on every path that handles them:
//! giving them, correcting them with a bad field, reading them back, the
//! creator's list and export, shipping and receipt. Its own test binary,
//! because it installs the process-wide log subscriber.

use lottery::config::Config;
use reqwest::Method;
use serde_json::{json, Value};

#[path = "support/log_capture.rs"]
mod log_capture;
use log_capture::{settings, start, Capture};

const NAME: &str = "欧阳娜娜";
const PHONE: &str = "13912345678";
const ADDRESS: &str = "杭州市西湖区文三路 478 号";
const CONTACT: &str = "wechat-id-Qx93";

async fn call(base: &str, method: Method, path: &str, token: &str, body: Option<Value>) -> String {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap().text().await.unwrap()
}

async fn login(base: &str, name: &str) -> (String, i64) {
    let text = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"code": format!("dev:{name}")}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    (
        body["data"]["token"].as_str().unwrap().to_string(),
        body["data"]["user"]["id"].as_i64().unwrap(),
    )
}

#[actix_web::test]
async fn delivery_details_never_reach_logs_metrics_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let base = start(Config::from_map(&settings("pii", &[])).unwrap()).await;
    let mut answers = String::new();

    for mode in ["address", "contact"] {
        let (creator, _) = login(&base, &format!("pii-creator-{mode}")).await;
        let (winner, winner_id) = login(&base, &format!("pii-winner-{mode}")).await;
        let event = json!({
            "title": "pii", "draw_mode": "manual", "claim_mode": mode,
            "draw_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "prizes": [{"name": "p", "quantity": 1}]
        });
        let created: Value = serde_json::from_str(
            &call(&base, Method::POST, "/events", &creator, Some(event)).await,
        )
        .unwrap();
        let id = created["data"]["id"].as_i64().unwrap();
        call(
            &base,
            Method::PUT,
            &format!("/events/{id}/participants/me"),
            &winner,
            None,
        )
        .await;
        call(
            &base,
            Method::POST,
            &format!("/events/{id}/draw"),
            &creator,
            None,
        )
        .await;

        let (good, bad) = if mode == "address" {
            (
                json!({"name": NAME, "phone": PHONE, "address": ADDRESS, "note": PHONE}),
                // Each field bad in turn, the others real: the 40000 must
                // name the field without echoing any value.
                vec![
                    json!({"name": NAME, "phone": format!("{PHONE}x"), "address": ADDRESS}),
                    json!({"name": NAME.repeat(9), "phone": PHONE, "address": ADDRESS}),
                    json!({"name": NAME, "phone": PHONE, "address": ADDRESS.repeat(20)}),
                    json!({"name": NAME, "phone": PHONE, "address": ADDRESS, "contact": CONTACT}),
                    json!({"name": NAME, "phone": PHONE, "address": ADDRESS, "extra": PHONE}),
                    json!({"name": NAME, "phone": 13912345678_i64, "address": ADDRESS}),
                ],
            )
        } else {
            (
                json!({"contact": CONTACT, "note": ADDRESS}),
                vec![
                    json!({"contact": CONTACT, "phone": PHONE}),
                    json!({"contact": CONTACT.repeat(20)}),
                    json!({"contact": CONTACT, "note": ADDRESS.repeat(20)}),
                ],
            )
        };
        for body in bad {
            let answer = call(
                &base,
                Method::PUT,
                &format!("/events/{id}/claim"),
                &winner,
                Some(body),
            )
            .await;
            assert!(answer.contains("40000"), "{answer}");
            for secret in [NAME, PHONE, ADDRESS, CONTACT] {
                assert!(
                    !answer.contains(secret),
                    "an error echoed {secret}: {answer}"
                );
            }
        }
        let claim = format!("/events/{id}/claim");
        answers += &call(&base, Method::PUT, &claim, &winner, Some(good)).await;
        answers += &call(&base, Method::GET, &claim, &winner, None).await;
        answers += &call(
            &base,
            Method::GET,
            &format!("/events/{id}/claims"),
            &creator,
            None,
        )
        .await;
        answers += &call(
            &base,
            Method::GET,
            &format!("/events/{id}/claims/export"),
            &creator,
            None,
        )
        .await;
        let ship = json!({"carrier": "顺丰", "tracking_no": "SF1"});
        call(
            &base,
            Method::POST,
            &format!("/events/{id}/claims/{winner_id}/ship"),
            &creator,
            Some(ship),
        )
        .await;
        call(
            &base,
            Method::POST,
            &format!("/events/{id}/claim/received"),
            &winner,
            None,
        )
        .await;
    }
    // The answers did carry the details (so the paths above handled them)...
    for secret in [NAME, PHONE, ADDRESS, CONTACT] {
        assert!(answers.contains(secret), "no answer showed {secret}");
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("/claim"),
        "the capture holds no request lines"
    );
    // ...and neither the logs nor the metrics do.
    for secret in [NAME, PHONE, ADDRESS, CONTACT] {
        assert!(!logs.contains(secret), "the logs hold {secret}");
        assert!(!metrics.contains(secret), "the metrics hold {secret}");
    }
}
