//! Uploaded images: the upload, an image's description, and the files
//! themselves (served here for `fs://`, and for any store when no CDN
//! fronts it; pending ones only with a signed URL).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use crate::api::auth::{Caller, MaybeCaller};
use crate::api::envelope::{created, ok};
use crate::api::media_views::ImageView;
use crate::api::state::AppState;
use crate::api::upload;
use crate::domain::media::{new_id, object_key, parse_file_name, MediaStatus, Variant};
use crate::error::{AppError, AppResult};
use crate::media::urls::MediaUrls;
use crate::store;
use crate::store::media::MediaRow;

/// Uploads one image (multipart, one part `file`).
#[utoipa::path(post, path = "/api/v1/media", operation_id = "upload_image", tag = "media",
    request_body(content = String, content_type = "multipart/form-data",
        description = "one part named `file`: a JPEG, PNG or WebP image"),
    responses(
        (status = 201, description = "stored; `pending` until WeChat's check passes it", body = crate::api::envelope::Envelope<ImageView>),
        (status = 400, description = "40000: unreadable, too many pixels, or not one part named file", body = crate::api::envelope::ErrorEnvelope),
        (status = 413, description = "41300: over the upload byte limit", body = crate::api::envelope::ErrorEnvelope),
        (status = 415, description = "41500: not a JPEG, PNG or WebP image, judged by its bytes", body = crate::api::envelope::ErrorEnvelope),
        (status = 429, description = "42900: too many uploads this hour or at once, or the user's images take their whole quota", body = crate::api::envelope::ErrorEnvelope),
        (status = 503, description = "50300: the server holds as many uploads as it takes; try again shortly", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let now = Utc::now();
    // Before a byte of the body is read: what the server holds is bounded.
    let _admitted = state.media.admission.admit(caller.user_id)?;
    upload::within_limits(&state, caller.user_id, now).await?;
    let max_bytes = state.media.settings.limits.max_bytes;
    let deadlines = state.config.body;
    let within = deadlines.upload(max_bytes);
    let (format, bytes) = tokio::time::timeout(
        within,
        upload::read_image(req.headers(), payload, max_bytes, deadlines.gap),
    )
    .await
    .map_err(|_| crate::api::body::too_slow(within))??;
    let processed = state.media.process(format, bytes).await?;
    let id = new_id();
    let checked = state.tokens.is_some();
    let row = MediaRow {
        id: id.clone(),
        owner_id: caller.user_id,
        status: if checked {
            MediaStatus::Pending
        } else {
            // Without WeChat there is no check to wait for.
            MediaStatus::Approved
        },
        format: processed.format.name().to_string(),
        width: processed.width as i32,
        height: processed.height as i32,
        bytes: processed.full.len() as i32,
        thumb_bytes: processed.thumb.len() as i32,
        trace_id: None,
        label: None,
        tries: 0,
        created_at: crate::store::models::to_db_time(now),
        checked_at: None,
    };
    upload::store(&state, &row, processed).await?;
    metrics::counter!("lottery_media_uploads_total", "format" => format.stored().name())
        .increment(1);
    if checked {
        upload::ask_wechat(&state, &row, now).await;
    }
    // Read back for a verdict that came already; the image is stored
    // either way, so a failed read answers what was written, not a 500.
    let row = match store::media::get(&state.db, &id).await {
        Ok(Some(fresh)) => fresh,
        _ => row,
    };
    Ok(created(ImageView::own(
        &row,
        &state.media_urls,
        &state.pii,
        now,
    )?))
}

/// One image: approved ones to anyone, others to their uploader only.
#[utoipa::path(get, path = "/api/v1/media/{id}", operation_id = "get_image", tag = "media",
    params(("id" = String, Path, pattern = "^[A-Za-z0-9_-]{22}$", description = "the image id")),
    responses(
        (status = 200, description = "the image", body = crate::api::envelope::Envelope<ImageView>),
        (status = 404, description = "40400: no such image (or not yours while it is pending)", body = crate::api::envelope::ErrorEnvelope),
    ),
    security((), ("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let no_such = || AppError::NotFound("no such image".into());
    let id = path.into_inner();
    if !crate::domain::media::is_id(&id) {
        return Err(no_such());
    }
    let row = store::media::get(&state.db, &id)
        .await?
        .ok_or_else(no_such)?;
    let own = caller.0.is_some_and(|c| c.user_id == row.owner_id);
    if own {
        return Ok(ok(ImageView::own(
            &row,
            &state.media_urls,
            &state.pii,
            Utc::now(),
        )?));
    }
    Ok(ok(
        ImageView::shown(&row, &state.media_urls).ok_or_else(no_such)?
    ))
}

#[derive(Deserialize)]
pub struct Signed {
    expires: Option<i64>,
    sig: Option<String>,
}

/// An image's bytes. Approved: to anyone, cached by everyone forever (the
/// key never names other bytes). Pending: only with a signed URL that has
/// not expired, never cached. Rejected, unknown, or not signed: 404 (the
/// same answer, so the URL does not tell whether an image exists).
#[utoipa::path(get, path = "/media/{name}", operation_id = "image_file", tag = "media",
    params(
        ("name" = String, Path, pattern = "^[A-Za-z0-9_-]{22}(\\.thumb)?\\.(jpg|png)$", description = "`<id>.<jpg|png>` or `<id>.thumb.<jpg|png>`, as an Image's url gives it"),
        ("expires" = Option<i64>, Query, description = "a pending image's signed URL: when it expires (Unix seconds)"),
        ("sig" = Option<String>, Query, description = "a pending image's signed URL: its signature"),
    ),
    responses(
        (status = 200, description = "the image (image/jpeg or image/png); approved ones are immutable", content_type = "image/jpeg", body = Vec<u8>),
        (status = 304, description = "If-None-Match matched the ETag"),
        (status = 400, description = "40000: a query parameter that does not parse", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "no such image, rejected, or pending without a valid signature"),
    ))]
pub async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Signed>,
) -> AppResult<HttpResponse> {
    let no_such = || AppError::NotFound("no such image".into());
    let name = path.into_inner();
    let (id, format, variant) = parse_file_name(&name).ok_or_else(no_such)?;
    let key = object_key(id, format, variant);
    let public = upload::is_approved(&state, id).await?.ok_or_else(no_such)?;
    if !public {
        let now = Utc::now();
        let signed = match (query.expires, &query.sig) {
            (Some(expires), Some(sig)) => MediaUrls::verify(&state.pii, &key, expires, sig, now),
            _ => false,
        };
        if !signed {
            return Err(no_such());
        }
    }
    let etag = format!(
        "\"{id}.{}\"",
        if variant == Variant::Thumb { "t" } else { "f" }
    );
    if public
        && req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let bytes = upload::bytes_of(&state, (id, format, variant), public)
        .await?
        .ok_or_else(no_such)?;
    let mut answer = HttpResponse::Ok();
    answer
        .content_type(format.content_type())
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if public {
        answer
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::ETAG, etag));
    } else {
        answer.insert_header((header::CACHE_CONTROL, "private, no-store"));
    }
    Ok(answer.body(bytes))
}
