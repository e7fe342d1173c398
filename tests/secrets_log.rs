//! A log capture at trace level (so debug too) during WeChat logins, good
//! and failed, the content check and result notices (sent, retried) holds
//! neither the session_key, the app secret nor the access token. Its own
//! test binary, because it installs the process-wide log subscriber.

use lottery::config::Config;
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "support/log_capture.rs"]
mod log_capture;
use log_capture::{settings, start, Capture};

const SECRET: &str = "app-secret-Zq81xL";
const SESSION_KEY: &str = "session-key-Wm47pR";
const ACCESS_TOKEN: &str = "access-token-Jf93kD";

async fn app(api_base: &str) -> String {
    let vars = settings(
        "secrets",
        &[
            ("LOTTERY_WECHAT_APPID", "wx_log_test"),
            ("LOTTERY_WECHAT_SECRET", SECRET),
            ("LOTTERY_WECHAT_API_BASE", api_base),
            ("LOTTERY_WECHAT_TIMEOUT_MS", "1000"),
            ("LOTTERY_WECHAT_RESULT_TEMPLATE_ID", "tmpl"),
        ],
    );
    start(Config::from_map(&vars).unwrap()).await
}

#[actix_web::test]
async fn no_secret_or_session_key_reaches_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mock = MockServer::start().await;
    Mock::given(path("/sns/jscode2session"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"openid": "o_log", "session_key": SESSION_KEY})),
        )
        .mount(&mock)
        .await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": ACCESS_TOKEN, "expires_in": 7200})),
        )
        .mount(&mock)
        .await;
    Mock::given(path("/wxa/msg_sec_check"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 0, "result": {"suggest": "review", "label": 20001}}),
            ),
        )
        .mount(&mock)
        .await;
    // The first message fails with a 5xx (logged, retried), then succeeds.
    Mock::given(path("/cgi-bin/message/subscribe/send"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    Mock::given(path("/cgi-bin/message/subscribe/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errcode": 0})))
        .mount(&mock)
        .await;
    let client = reqwest::Client::new();

    let good = app(&mock.uri()).await;
    let r = client
        .post(format!("{good}/api/v1/auth/login"))
        .json(&json!({"code": "c1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(!body.to_string().contains(SESSION_KEY));
    let token = body["data"]["token"].as_str().unwrap().to_string();

    // An event (content check), a participant asking for notice, the draw:
    // the notice fails once and goes on the retry.
    let r = client
        .post(format!("{good}/api/v1/events"))
        .bearer_auth(&token)
        .json(&json!({"title": "t", "draw_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "draw_mode": "manual", "prizes": [{"name": "p", "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let event: serde_json::Value = r.json().await.unwrap();
    let id = event["data"]["id"].as_i64().unwrap();
    let r = client
        .put(format!("{good}/api/v1/events/{id}/participants/me"))
        .bearer_auth(&token)
        .json(&json!({"notify": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{good}/api/v1/events/{id}/draw"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sends = || async {
        mock.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/cgi-bin/message/subscribe/send")
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sends().await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the notice was not retried"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A WeChat that cannot be reached: the error path logs too.
    let closed = app("http://127.0.0.1:1").await;
    let r = client
        .post(format!("{closed}/api/v1/auth/login"))
        .json(&json!({"code": "c2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("jscode2session request failed"),
        "the capture holds the failure's log line"
    );
    assert!(
        logs.contains("DEBUG") || logs.contains("TRACE"),
        "debug-level lines were captured"
    );
    assert!(
        logs.contains("content check: review suggested"),
        "the review verdict is logged"
    );
    assert!(!logs.contains(ACCESS_TOKEN), "the access token was logged");
    assert!(!logs.contains(SECRET), "the app secret was logged");
    assert!(!logs.contains(SESSION_KEY), "the session_key was logged");
}
