//! Traces over OTLP (issue 27, item 4): with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! set, a request's span continues the caller's W3C `traceparent`, the
//! actor's batch commit and the draw are its children (linked from the
//! other requests of the batch), database calls are client spans under
//! them, and the JSON logs carry the exported trace id. Against a local
//! OTLP/HTTP receiver that decodes what arrives with the OpenTelemetry
//! project's protobuf types, as a collector does: `POST /v1/traces`,
//! `application/x-protobuf`, an `ExportTraceServiceRequest` (the OTLP
//! specification, "OTLP/HTTP"). Its own test binary: it installs the
//! process-wide subscriber.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use lottery::config::{Config, LogFormat};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};

#[path = "support/log_capture.rs"]
mod log_capture;
#[path = "support/post_json.rs"]
mod post_json;
use log_capture::{settings, start, Capture};
use post_json::post_json;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

type Received = Arc<Mutex<Vec<Span>>>;

/// The receiver: every span of every export request, kept.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let kept = received.clone();
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let spans = request
                        .resource_spans
                        .into_iter()
                        .flat_map(|r| r.scope_spans)
                        .flat_map(|s| s.spans);
                    kept.lock().unwrap().extend(spans);
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .finish()
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (format!("http://127.0.0.1:{port}"), received)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?;
    match value.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::IntValue(i) => Some(i.to_string()),
        V::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Waits (the batch goes every 100 ms here) until `find` holds.
async fn spans_until(received: &Received, what: &str, find: impl Fn(&[Span]) -> bool) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans = received.lock().unwrap().clone();
        if find(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not exported; got {:#?}",
            names(&spans)
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(spans: &[Span]) -> Vec<(String, String)> {
    spans
        .iter()
        .map(|s| (s.name.clone(), hex(&s.trace_id)))
        .collect()
}

#[actix_web::test]
async fn requests_continue_the_callers_trace_and_the_actors_writes_are_their_children() {
    let (endpoint, received) = receiver().await;
    // The standard variables, read by the SDK (a short batch delay so the
    // test does not wait the default 5 s).
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "100");
    std::env::set_var("OTEL_SERVICE_NAME", "lottery-test");
    std::env::set_var("RUST_LOG", "debug");
    let capture = Capture::default();
    let writer = capture.clone();
    lottery::telemetry::init_tracing_to(LogFormat::Json, move || writer.clone()).unwrap();
    assert!(lottery::telemetry::traces::exporting());

    let vars = settings("traces", &[("LOTTERY_LOG_FORMAT", "json")]);
    let root = start(Config::from_map(&vars).unwrap()).await;
    let base = format!("{root}/api/v1");
    let http = reqwest::Client::new();
    let login = |name: &str| {
        let (http, url) = (http.clone(), format!("{base}/auth/login"));
        let body = json!({"code": format!("dev:{name}")});
        async move {
            post_json(&http, url, None, &body).await["data"]["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (creator, joiner) = (login("tracer").await, login("traced").await);
    let event = json!({
        "title": "traces", "draw_mode": "manual",
        "draw_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "prizes": [{"name": "p", "quantity": 1}]
    });
    let created = post_json(&http, format!("{base}/events"), Some(&creator), &event).await;
    let event_id = created["data"]["id"].as_i64().unwrap();

    // A join from a caller that is tracing.
    let joined = http
        .put(format!("{base}/events/{event_id}/participants/me"))
        .bearer_auth(&joiner)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    let in_trace = |s: &Span| hex(&s.trace_id) == CALLER_TRACE;
    let spans = spans_until(&received, "the join's commit", |spans| {
        spans
            .iter()
            .any(|s| in_trace(s) && s.name == "event.batch_commit")
            && spans
                .iter()
                .any(|s| in_trace(s) && s.name.starts_with("PUT "))
    })
    .await;
    let request = spans
        .iter()
        .find(|s| in_trace(s) && s.name == "PUT /api/v1/events/{id}/participants/me")
        .unwrap_or_else(|| panic!("no server span of the join: {:#?}", names(&spans)));
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(
        hex(&request.parent_span_id),
        CALLER_SPAN,
        "the caller's span is the parent"
    );
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attribute(request, "event_id"), Some(event_id.to_string()));
    let commit = spans
        .iter()
        .find(|s| in_trace(s) && s.name == "event.batch_commit")
        .unwrap();
    assert_eq!(
        commit.parent_span_id, request.span_id,
        "the commit is the join's child"
    );
    let db = spans
        .iter()
        .find(|s| in_trace(s) && s.parent_span_id == commit.span_id)
        .unwrap_or_else(|| panic!("no database span under the commit: {:#?}", names(&spans)));
    assert!(db.name.starts_with("db lottery::store::"), "{}", db.name);
    assert_eq!(db.kind, SpanKind::Client as i32);
    assert_eq!(attribute(db, "db.system.name").as_deref(), Some("sqlite"));

    // A draw from a caller without a trace: a new one, whose id the logs
    // carry, with the draw as the request's child.
    let drawn = http
        .post(format!("{base}/events/{event_id}/draw"))
        .bearer_auth(&creator)
        .header("x-request-id", "req-traces-draw")
        .send()
        .await
        .unwrap();
    assert_eq!(drawn.status(), 200);
    let spans = spans_until(&received, "the draw", |spans| {
        spans.iter().any(|s| s.name == "event.draw")
            && spans
                .iter()
                .any(|s| s.name == "POST /api/v1/events/{id}/draw")
    })
    .await;
    let request = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/events/{id}/draw")
        .unwrap();
    assert!(request.parent_span_id.is_empty(), "a trace of its own");
    let draw = spans.iter().find(|s| s.name == "event.draw").unwrap();
    assert_eq!(
        (&draw.trace_id, &draw.parent_span_id),
        (&request.trace_id, &request.span_id),
        "the draw is the request's child"
    );
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["span"]["request_id"] == "req-traces-draw" && l["fields"]["message"] == "done")
        .unwrap_or_else(|| panic!("no line of the draw in {text}"));
    assert_eq!(line["span"]["trace_id"], hex(&request.trace_id), "{line}");

    // Probes are logged, never traced.
    let probed = http.get(format!("{root}/healthz")).send().await.unwrap();
    assert_eq!(probed.status(), 200);
    lottery::telemetry::traces::flush();
    let spans = received.lock().unwrap().clone();
    assert!(
        !spans
            .iter()
            .any(|s| attribute(s, "path").as_deref() == Some("/healthz")),
        "{:#?}",
        names(&spans)
    );
}
