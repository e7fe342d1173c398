//! Health, readiness and metrics for ops.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.db.ping().await;
    let cache = state.sessions.ping().await;
    let shutting_down = state.draining.is_on();
    let body = json!({
        "database": if database.is_ok() { "ok" } else { "unavailable" },
        "cache": if cache.is_ok() { "ok" } else { "unavailable" },
        "shutting_down": shutting_down,
    });
    if database.is_ok() && cache.is_ok() && !shutting_down {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "1"))
            .json(body)
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
