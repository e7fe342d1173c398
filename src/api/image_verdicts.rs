//! What WeChat's verdict on an image changes: the image's state (stored
//! before the push is answered), then its files (a rejected image's are
//! deleted) and every page that shows it, here and on the other instances.

use std::sync::Arc;

use chrono::Utc;

use crate::api::state::AppState;
use crate::domain::media::{object_key, pending_key, MediaStatus, Variant};
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::media::MediaRow;
use crate::wechat::push::{MediaVerdict, Suggest};

fn counted(verdict: &'static str) {
    metrics::counter!("lottery_media_verdicts_total", "verdict" => verdict).increment(1);
}

/// Applies a verdict. An error means it is not stored: the push is not
/// answered `success`, and WeChat sends it again.
pub async fn apply(state: &actix_web::web::Data<AppState>, verdict: MediaVerdict) -> AppResult<()> {
    if !verdict.is_judged() {
        // WeChat judged nothing (-1008: it could not download the image):
        // the image stays pending and the media keeper asks again.
        tracing::warn!(trace_id = %verdict.trace_id, errcode = verdict.errcode, "WeChat could not check an image");
        counted("unjudged");
        return Ok(());
    }
    let (status, name) = match verdict.suggest {
        Suggest::Pass => (MediaStatus::Approved, "pass"),
        // As for text (docs/NOTIFICATIONS.md): doubtful is allowed, and
        // logged with its label for a person to look at.
        Suggest::Review => (MediaStatus::Approved, "review"),
        Suggest::Risky => (MediaStatus::Rejected, "risky"),
    };
    let mut published = None;
    if status == MediaStatus::Approved {
        // Its files move to `media/` before the row says approved, so an
        // approved image is always there to serve (and only then public).
        if let Some(row) = store::media::pending_with_trace(&state.db, &verdict.trace_id).await? {
            publish(state, &row).await?;
            published = Some(row);
        }
    }
    let label = i32::try_from(verdict.label).ok();
    let decided =
        store::media::decide(&state.db, &verdict.trace_id, status, label, Utc::now()).await;
    if let (Some(copied), Ok(None) | Err(_)) = (&published, &decided) {
        // The row did not become approved (a database error, or it changed
        // between: the keeper asked again under a new trace): public
        // copies of an image not approved must not stay.
        unpublish_unless_approved(state, copied).await;
    }
    let Some(row) = decided? else {
        if store::media::traced(&state.db, &verdict.trace_id).await? {
            // Decided already: WeChat repeats a push it thinks was lost.
            counted("repeated");
            return Ok(());
        }
        // No image has this check (yet): the verdict can come before the
        // upload stored the trace WeChat answered. Not `success`, so WeChat
        // sends it again.
        counted("unknown");
        return Err(AppError::Unavailable(
            "no image has this check yet; send it again".into(),
        ));
    };
    counted(name);
    tracing::info!(image = %row.id, verdict = name, label = verdict.label, "WeChat's verdict on an image");
    let state = Arc::clone(state);
    actix_web::rt::spawn(async move { follow(&state, &row).await });
    Ok(())
}

/// Copies a pending image's files from `pending/` to `media/`. Copying
/// again (WeChat repeating the push) writes the same bytes; a pending copy
/// already gone (a repeated push whose first one finished meanwhile) is
/// fine when the public copy is there.
async fn publish(state: &AppState, row: &MediaRow) -> AppResult<()> {
    let format = row.stored()?;
    for variant in [Variant::Full, Variant::Thumb] {
        let from = pending_key(&row.id, format, variant);
        let to = object_key(&row.id, format, variant);
        if let Err(err) = state.media.objects.copy(&from, &to).await {
            if !state.media.objects.exists(&to).await? {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// Deletes the public copies of `row`'s files unless it is approved now.
async fn unpublish_unless_approved(state: &AppState, row: &MediaRow) {
    match store::media::get(&state.db, &row.id).await {
        Ok(Some(now)) if now.status == MediaStatus::Approved => return,
        Ok(_) => {}
        Err(err) => {
            // Unknown: WeChat sends the push again (not `success`), and
            // this runs again then.
            tracing::warn!(image = %row.id, error = %err, "cannot tell whether an image's public copies may stay");
            return;
        }
    }
    if let Ok(format) = row.stored() {
        for variant in [Variant::Full, Variant::Thumb] {
            let key = object_key(&row.id, format, variant);
            if let Err(err) = state.media.objects.delete(&key).await {
                tracing::warn!(key, error = %err, "a public copy of an image not approved is left in the store");
            }
        }
    }
}

/// Deletes the files an image no longer needs (its pending copies; all of
/// a rejected image's) and refreshes the pages that show the image
/// (approved: it appears; rejected: it disappears).
async fn follow(state: &AppState, row: &MediaRow) {
    if let Ok(format) = row.stored() {
        for variant in [Variant::Full, Variant::Thumb] {
            let mut keys = vec![pending_key(&row.id, format, variant)];
            if row.status == MediaStatus::Rejected {
                keys.push(object_key(&row.id, format, variant));
            }
            for key in keys {
                if let Err(err) = state.media.objects.delete(&key).await {
                    tracing::warn!(key, error = %err, "an image's file no longer needed is left in the store");
                }
            }
        }
    }
    match store::media::events_using(&state.db, &row.id).await {
        Ok(events) => {
            for event_id in events {
                state.result_changes.changed(event_id).await;
            }
        }
        Err(err) => {
            tracing::error!(image = %row.id, error = %err, "the pages showing an image could not be found; they show its old state until evicted");
        }
    }
}
