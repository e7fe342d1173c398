//! Asks WeChat again about images whose check did not happen: an ask that
//! failed (WeChat down, a network error) after a few minutes, a verdict
//! that never came (WeChat promises one within 30 minutes) after an hour;
//! at most `MAX_TRIES` asks. Images still pending after that are counted
//! (`lottery_media_unchecked`, alerted on): they stay unseen by others
//! until an operator looks (docs/MEDIA.md, "A verdict that never comes").
//! Every instance runs it; two asking about one image at once cost one
//! extra call, and the later trace is the one matched.

use std::time::Duration;

use actix_web::web;

use crate::api::state::AppState;
use crate::api::upload::ask_wechat;
use crate::store;

/// How often the keeper looks.
const EVERY: Duration = Duration::from_secs(60);
/// An ask that failed is tried again after this.
const AFTER_FAILURE: chrono::Duration = chrono::Duration::minutes(5);
/// A verdict that has not come is asked for again after this.
const AFTER_SILENCE: chrono::Duration = chrono::Duration::hours(1);
/// Asks per image, the upload's included.
pub const MAX_TRIES: i16 = 5;
/// Images asked about per round.
const PER_ROUND: i64 = 100;

/// Runs until the server stops (WeChat configured only).
pub async fn keep(state: web::Data<AppState>) {
    if state.tokens.is_none() {
        return;
    }
    loop {
        actix_web::rt::time::sleep(EVERY).await;
        round(&state).await;
    }
}

/// One look: asks again where due, and counts what was given up on.
pub async fn round(state: &AppState) {
    // The app's clock: tests move it past the waits.
    let now = state.clock.now();
    match store::media::to_ask_again(
        &state.db,
        now - AFTER_FAILURE,
        now - AFTER_SILENCE,
        MAX_TRIES,
        PER_ROUND,
    )
    .await
    {
        Ok(rows) => {
            for row in rows {
                tracing::info!(image = %row.id, tries = row.tries, "asking WeChat again about an image");
                ask_wechat(state, &row, now).await;
            }
        }
        Err(err) => tracing::warn!(error = %err, "the media keeper could not look"),
    }
    if let Ok(unchecked) = store::media::given_up(&state.db, MAX_TRIES).await {
        metrics::gauge!("lottery_media_unchecked").set(unchecked as f64);
    }
}
