//! An event's share code: the mini-program code a poster carries.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::event_id;
use crate::api::state::AppState;
use crate::error::{AppError, AppResult};
use crate::store;

/// The event's mini-program code as a PNG (not enveloped; errors are).
#[utoipa::path(get, path = "/api/v1/events/{id}/share-code", operation_id = "share_code", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the code: WeChat's mini-program code of the share page, or a standard QR code without WeChat", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 502, description = "50200: WeChat refused (the share page is not published, or another error)", body = crate::api::envelope::ErrorEnvelope),
    ),
    security((), ("bearer" = [])))]
pub async fn share_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let etag = format!("\"share-{id}\"");
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let codes = &state.media.share_codes;
    if !codes.has(id) {
        if state.events.missing().contains(id) {
            return Err(AppError::event_not_found());
        }
        if store::events::get_row(&state.db, id).await?.is_none() {
            state.events.missing().remember(id);
            return Err(AppError::event_not_found());
        }
    }
    let png = codes
        .get(
            id,
            &state.media.objects,
            state.tokens.as_deref(),
            &state.media.settings.share,
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::ETAG, etag))
        .body(png))
}
