//! Health, readiness and metrics for ops.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::json;
use utoipa::ToSchema;

use crate::api::error_response::RETRY_AFTER_SECS;
use crate::api::readiness::Dependencies;
use crate::api::state::AppState;
use crate::telemetry::scrape::{report_pool, report_process, report_readiness};

// The answers' shapes, for the OpenAPI document: the handlers below write
// the same fields with `json!`.

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /readyz`: `ok` or `unavailable` per dependency.
#[derive(ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    pub database: String,
    #[schema(example = "ok")]
    pub cache: String,
    /// A graceful shutdown has begun: the instance takes no new requests.
    pub shutting_down: bool,
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "the process runs", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 when the database and the cache answer, 503 otherwise (and while
/// shutting down).
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "ready", body = Readiness),
        (status = 503, description = "a dependency does not answer, or the server is shutting down; Retry-After set", body = Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let Dependencies { database, cache } = state.readiness.dependencies(&state).await;
    let shutting_down = state.draining.is_on();
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "database": word(database),
        "cache": word(cache),
        "shutting_down": shutting_down,
    });
    if database && cache && !shutting_down {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            .json(body)
    }
}

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
    // Readiness as a figure, so an alert needs no probe of its own.
    let Dependencies { database, cache } = state.readiness.dependencies(&state).await;
    report_readiness(database, cache, state.draining.is_on());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
