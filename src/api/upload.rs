//! The steps of an upload and of serving its files, so the handlers stay
//! thin: the user's limits, reading the one part (sniffed at its first
//! bytes, cut at the byte limit), storing both objects and the row, and
//! asking WeChat.

use actix_multipart::Multipart;
use actix_web::http::header::HeaderMap;
use actix_web::web::{self, Bytes};
use chrono::{DateTime, Duration, Utc};

use crate::api::body::next_within;
use crate::api::state::AppState;
use crate::domain::media::{
    object_key, stored_key, MediaStatus, Stored, Upload, Variant, SNIFF_BYTES,
};
use crate::error::{AppError, AppResult};
use crate::media::process::Processed;
use crate::store;
use crate::store::media::MediaRow;

/// 429 when the user made their hour's uploads, or their images already
/// take their quota. Checked before a byte of the file is read.
pub async fn within_limits(state: &AppState, user_id: i64, now: DateTime<Utc>) -> AppResult<()> {
    let settings = &state.media.settings;
    let usage = store::media::usage(&state.db, user_id, now - Duration::hours(1)).await?;
    if usage.recent >= i64::from(settings.uploads_per_hour) {
        let frees_at = usage.oldest_recent.unwrap_or(now) + Duration::hours(1);
        return Err(AppError::RateLimited {
            message: format!(
                "at most {} uploads an hour; try again later",
                settings.uploads_per_hour
            ),
            retry_after_secs: (frees_at - now).num_seconds().max(1) as u64,
        });
    }
    if usage.kept_bytes >= settings.quota_bytes as i64 {
        return Err(AppError::RateLimited {
            message: format!(
                "your images take your whole quota of {} MB",
                settings.quota_bytes >> 20
            ),
            retry_after_secs: 3600,
        });
    }
    Ok(())
}

/// The one part `file` of a multipart body: its format, judged by its
/// first bytes (41500 before the rest is read), and its bytes, never more
/// than `max_bytes` of them held (41300 at the first byte beyond). Each
/// piece must follow the last within `gap`; the handler bounds the whole
/// (`BodyDeadlines::upload`: 10 s and the bytes at 64 KiB/s by default, a
/// slow 3G link). The admission bound (`media::admission`) limits how many
/// uploads can be arriving at once; these bound how long each holds its
/// place and its connection (issue 24, finding 1).
pub async fn read_image(
    headers: &HeaderMap,
    payload: web::Payload,
    max_bytes: u64,
    gap: std::time::Duration,
) -> AppResult<(Upload, Vec<u8>)> {
    let malformed = || {
        AppError::InvalidArgument(
            "the upload must be multipart/form-data with one part named file".into(),
        )
    };
    let mut parts = Multipart::new(headers, payload);
    let mut image: Option<(Upload, Vec<u8>)> = None;
    while let Some(part) = next_within(&mut parts, gap).await? {
        let mut part = part.map_err(|_| malformed())?;
        if part.name() != Some("file") || image.is_some() {
            return Err(malformed());
        }
        let mut bytes: Vec<u8> = Vec::new();
        let mut format = None;
        while let Some(chunk) = next_within(&mut part, gap).await? {
            let chunk = chunk.map_err(|_| malformed())?;
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(AppError::UploadTooLarge(format!(
                    "the file is over the upload limit of {} KiB",
                    max_bytes / 1024
                )));
            }
            bytes.extend_from_slice(&chunk);
            if format.is_none() && bytes.len() >= SNIFF_BYTES {
                format = Some(Upload::sniff(&bytes)?);
            }
        }
        let format = match format {
            Some(format) => format,
            None => Upload::sniff(&bytes)?,
        };
        image = Some((format, bytes));
    }
    image.ok_or_else(malformed)
}

/// Both objects, then the row: a 201 means all three are stored. A row
/// that cannot be written, or a thumbnail that cannot, takes the objects
/// already written back with it. A pending image's objects go under
/// `pending/`, an approved one's under `media/` (`stored_key`).
pub async fn store(state: &AppState, row: &MediaRow, processed: Processed) -> AppResult<()> {
    let objects = &state.media.objects;
    let approved = row.status == MediaStatus::Approved;
    let full = stored_key(&row.id, processed.format, Variant::Full, approved);
    let thumb = stored_key(&row.id, processed.format, Variant::Thumb, approved);
    objects.put(&full, processed.full).await?;
    let stored = match objects.put(&thumb, processed.thumb).await {
        Ok(()) => store::media::insert(&state.db, row.clone()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = stored {
        for key in [&full, &thumb] {
            if let Err(e) = objects.delete(key).await {
                tracing::warn!(key, error = %e, "an unrecorded image's object was left behind");
            }
        }
        return Err(err);
    }
    Ok(())
}

/// Sends a pending image to WeChat's check. A failure leaves it pending
/// without a trace: the media keeper asks again (docs/MEDIA.md).
pub async fn ask_wechat(state: &AppState, row: &MediaRow, now: DateTime<Utc>) {
    let Some(tokens) = &state.tokens else {
        return;
    };
    let asked = async {
        let format = row.stored()?;
        let url =
            state
                .media_urls
                .signed(&state.pii, &object_key(&row.id, format, Variant::Full), now);
        let owner = store::users::get(&state.db, row.owner_id).await?;
        let trace_id =
            crate::wechat::media_check::media_check_async(tokens, &owner.openid, &url).await?;
        store::media::checking(&state.db, &row.id, &trace_id, now).await
    };
    let result = match asked.await {
        Ok(()) => "asked",
        Err(err) => {
            tracing::warn!(image = %row.id, error = %err, "the image check could not be asked; it stays pending");
            if let Err(err) = store::media::ask_failed(&state.db, &row.id, now).await {
                tracing::warn!(image = %row.id, error = %err, "a failed image check was not recorded");
            }
            "error"
        }
    };
    metrics::counter!("lottery_media_checks_total", "result" => result).increment(1);
}

/// Whether the image may be served to anyone (Some(true)), only with a
/// signature (Some(false): pending), or not at all (None: rejected or
/// unknown). Approved is remembered: it never changes again.
pub async fn is_approved(state: &AppState, id: &str) -> AppResult<Option<bool>> {
    if state.media.files.is_approved(id) {
        return Ok(Some(true));
    }
    match store::media::get(&state.db, id).await? {
        Some(row) if row.status == MediaStatus::Approved => {
            state.media.files.approved(id);
            Ok(Some(true))
        }
        Some(row) if row.status == MediaStatus::Pending => Ok(Some(false)),
        _ => Ok(None),
    }
}

/// The bytes of an image's variant; an approved image's are kept in
/// memory. A pending image's are read from `pending/`, and from `media/`
/// if it was approved (and its pending copy deleted) since it was looked up.
pub async fn bytes_of(
    state: &AppState,
    (id, format, variant): (&str, Stored, Variant),
    approved: bool,
) -> AppResult<Option<Bytes>> {
    let key = object_key(id, format, variant);
    if approved {
        if let Some(bytes) = state.media.files.get(&key) {
            return Ok(Some(bytes));
        }
    } else {
        let pending = stored_key(id, format, variant, false);
        if let Some(bytes) = state.media.objects.get(&pending).await? {
            return Ok(Some(bytes));
        }
    }
    let bytes = state.media.objects.get(&key).await?;
    if let (true, Some(bytes)) = (approved, &bytes) {
        state.media.files.keep(&key, bytes.clone());
    }
    Ok(bytes)
}
