//! Health, readiness and metrics for ops.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;
use crate::telemetry::scrape::{report_pool, report_process, report_readiness};

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "the process runs", body = crate::api::openapi::Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database and the cache answer, 503 otherwise (and while
/// shutting down).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "ready", body = crate::api::openapi::Readiness),
        (status = 503, description = "a dependency does not answer, or the server is shutting down; Retry-After set", body = crate::api::openapi::Readiness),
    ))]
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

/// How long a scrape waits for the dependencies' answers.
const SCRAPE_PING_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Prometheus text format: HTTP, actor, draw, notice and limit figures.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    report_pool(
        "database",
        state.db.max_connections(),
        &state.db.pool_state(),
    );
    if let Some((max, pool)) = state.sessions.pool_state() {
        report_pool("redis_sessions", max, &pool);
    }
    if let Some((max, pool)) = state.limits.pool_state() {
        report_pool("redis_limits", max, &pool);
    }
    report_process();
    // Readiness as a figure, so an alert needs no probe of its own; a
    // dependency that hangs counts as down rather than stalling the scrape.
    let pings = futures::future::join(state.db.ping(), state.sessions.ping());
    let (database, cache) = match tokio::time::timeout(SCRAPE_PING_WITHIN, pings).await {
        Ok((database, cache)) => (database.is_ok(), cache.is_ok()),
        Err(_) => (false, false),
    };
    report_readiness(database, cache, state.draining.is_on());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
