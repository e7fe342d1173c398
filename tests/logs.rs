//! JSON logs (`LOTTERY_LOG_FORMAT=json`): every line is one JSON object,
//! and a request's lines carry its request id, the user's and event's ids
//! and the caller's W3C trace id as fields; the session token is never
//! among them. Its own test binary, because it installs the process-wide
//! log subscriber.

use lottery::config::{Config, LogFormat};
use serde_json::{json, Value};

#[path = "support/log_capture.rs"]
mod log_capture;
#[path = "support/post_json.rs"]
mod post_json;
use log_capture::{settings, start, Capture};
use post_json::post_json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[actix_web::test]
async fn json_lines_carry_request_user_event_and_trace_ids() {
    // The per-request line is at debug level.
    std::env::set_var("RUST_LOG", "debug");
    let capture = Capture::default();
    let writer = capture.clone();
    lottery::telemetry::init_tracing_to(LogFormat::Json, move || writer.clone()).unwrap();

    let vars = settings("logs", &[("LOTTERY_LOG_FORMAT", "json")]);
    let config = Config::from_map(&vars).unwrap();
    assert_eq!(config.log_format, LogFormat::Json);
    let base = format!("{}/api/v1", start(config).await);
    let http = reqwest::Client::new();

    let code = json!({"code": "dev:logger"});
    let login = post_json(&http, format!("{base}/auth/login"), None, &code).await;
    let token = login["data"]["token"].as_str().unwrap().to_string();
    let user_id = login["data"]["user"]["id"].as_i64().unwrap();
    let event = json!({
        "title": "logs", "draw_mode": "manual",
        "draw_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "prizes": [{"name": "p", "quantity": 1}]
    });
    let created = post_json(&http, format!("{base}/events"), Some(&token), &event).await;
    let event_id = created["data"]["id"].as_i64().unwrap();
    let joined = http
        .put(format!("{base}/events/{event_id}/participants/me"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .header("x-request-id", "req-logs-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    // The line is written after the answer.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(!lines.is_empty());
    let join_line = lines
        .iter()
        .find(|l| l["span"]["request_id"] == "req-logs-1" && l["fields"]["message"] == "done")
        .unwrap_or_else(|| panic!("no line for the join request in {text}"));
    let span = &join_line["span"];
    assert_eq!(span["user_id"], user_id, "{join_line}");
    assert_eq!(span["event_id"], event_id, "{join_line}");
    assert_eq!(span["trace_id"], TRACE_ID, "{join_line}");
    assert_eq!(span["method"], "PUT");
    assert_eq!(join_line["fields"]["status"], 200);
    assert!(join_line["timestamp"].is_string() && join_line["level"] == "DEBUG");
    assert!(!text.contains(&token), "the session token reached the log");
}
