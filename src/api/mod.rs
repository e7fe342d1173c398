//! The HTTP side: routes, extractors, views and thin handlers. Handlers
//! parse, authorize, send one message or run one query, and shape the answer.

pub mod auth;
pub mod body;
pub mod handlers;
pub mod middleware;
pub mod page;
pub mod views;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;

use crate::error::AppError;

/// Bodies above this get 413, before any handler runs.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(json!({"code": 0, "message": "ok", "data": data}))
}

pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(json!({"code": 0, "message": "ok", "data": data}))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers::{auth, events, me, ops, participation};
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|err, _| AppError::InvalidArgument(format!("bad path: {err}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        AppError::InvalidArgument(format!("bad query string: {err}")).into()
    }))
    .route("/healthz", web::get().to(ops::healthz))
    .route("/readyz", web::get().to(ops::readyz))
    .route("/metrics", web::get().to(ops::metrics))
    .service(
        web::scope("/api/v1")
            .route("/auth/login", web::post().to(auth::login))
            .route("/auth/logout", web::post().to(auth::logout))
            .route("/me", web::get().to(me::get))
            .route("/me", web::patch().to(me::update))
            .route("/me/events", web::get().to(me::events))
            .route("/events", web::post().to(events::create))
            .route("/events/{id}", web::get().to(events::get))
            .route("/events/{id}/cancel", web::post().to(events::cancel))
            .route("/events/{id}/draw", web::post().to(events::draw))
            .route("/events/{id}/winners", web::get().to(events::winners))
            .route("/events/{id}/fairness", web::get().to(events::fairness))
            .route(
                "/events/{id}/participants",
                web::get().to(participation::list),
            )
            .route(
                "/events/{id}/participants/me",
                web::put().to(participation::join),
            )
            .route(
                "/events/{id}/participants/me",
                web::delete().to(participation::leave),
            ),
    )
    .default_service(web::to(not_found));
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound("no such endpoint (or method)".into()))
}
