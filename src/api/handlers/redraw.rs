//! The creator's re-draw of expired prizes (docs/API.md, "Winner claims";
//! docs/FAIRNESS.md, "Re-draws").

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::api::envelope::ok;
use crate::api::event_id;
use crate::api::handlers::results::load_row;
use crate::api::state::AppState;
use crate::api::views::{PrizeRef, UserRef};
use crate::domain::event::{check_creator, check_results_published};
use crate::error::{AppError, AppResult};
use crate::store;

#[derive(Serialize, ToSchema)]
pub struct RoundWinner {
    user: UserRef,
    prize: PrizeRef,
}

#[derive(Serialize, ToSchema)]
pub struct RedrawView {
    /// 2 for the first re-draw, then 3, …
    round: i16,
    winners: Vec<RoundWinner>,
}

/// Re-draws every prize whose claim expired, among participants who have
/// won nothing in this event (creator only).
#[utoipa::path(post, path = "/api/v1/events/{id}/redraw", operation_id = "redraw", tag = "claims",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the round and its winners", body = crate::api::envelope::Envelope<RedrawView>),
        (status = 403, description = "40300: not the event's creator", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn, no expired claim is waiting for a re-draw, or nobody is left who has not won", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn redraw(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let row = load_row(&state, id).await?;
    check_creator(row.creator_id, caller.user_id)?;
    check_results_published(row.status)?;
    let reminders = state.notices.queues().reminders;
    let Some(done) = store::redraws::redraw(&state.db, id, state.clock.now(), reminders).await?
    else {
        return Err(AppError::InvalidState(
            "no expired claim is waiting for a re-draw (or every participant has won already)"
                .into(),
        ));
    };
    // The published answers change with the round: dropped here before
    // the answer, on the other instances when they hear of it.
    state.result_changes.changed(id).await;
    state.notices.ring();
    // Every round's winners together are a short list (each round at most
    // the prize slots): this round's are picked from it, with the names
    // and order `/winners` shows, rather than by a query of their own.
    let winners = store::events::winners(&state.db, id)
        .await?
        .into_iter()
        .filter(|w| w.round == done.round)
        .map(|w| RoundWinner {
            user: UserRef {
                id: w.user_id,
                nickname: w.nickname,
            },
            prize: PrizeRef {
                id: w.prize_id,
                name: w.prize_name,
            },
        })
        .collect();
    Ok(ok(RedrawView {
        round: done.round,
        winners,
    }))
}
