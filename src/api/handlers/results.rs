//! A drawn event's results: who won what, and everything needed to re-run
//! the draw (docs/FAIRNESS.md). Both never change once published, so each
//! is built once and kept (`cache::results`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::conditional::{revalidated, Audience};
use crate::api::envelope::ok_body;
use crate::api::event_id;
use crate::api::state::AppState;
use crate::api::views::{PrizeRef, UserRef};
use crate::cache::results::Published;
use crate::domain::draw::{self, Award, RecordPrize, ALGORITHM};
use crate::domain::event::check_results_published;
use crate::domain::fairness::FairnessRecord;
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::events::Selection;
use crate::store::models::EventRow;

/// The event row (40400 without it).
pub(super) async fn load_row(state: &AppState, id: i64) -> AppResult<EventRow> {
    store::events::get_row(&state.db, id)
        .await?
        .ok_or_else(AppError::event_not_found)
}

#[derive(Serialize, ToSchema)]
pub struct Winner {
    user: UserRef,
    prize: PrizeRef,
    /// 1 for the draw, k for the k-th re-draw of expired prizes.
    round: i16,
}

#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    items: Vec<T>,
}

/// The event row, if its results are published (40901 before the draw).
pub(super) async fn drawn_row(state: &AppState, id: i64) -> AppResult<EventRow> {
    let row = load_row(state, id).await?;
    check_results_published(row.status)?;
    Ok(row)
}

/// Who won what, once the event is drawn.
#[utoipa::path(get, path = "/api/v1/events/{id}/winners", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the winners (with an ETag; Cache-Control: public, no-cache)", body = crate::api::envelope::Envelope<Items<Winner>>),
        (status = 304, description = "If-None-Match names the current ETag: no body"),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn winners(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let build = async {
        drawn_row(&state, id).await?;
        let items: Vec<Winner> = store::events::winners(&state.db, id)
            .await?
            .into_iter()
            .map(|w| Winner {
                user: UserRef {
                    id: w.user_id,
                    nickname: w.nickname,
                },
                prize: PrizeRef {
                    id: w.prize_id,
                    name: w.prize_name,
                },
                round: w.round,
            })
            .collect();
        Ok(ok_body(&Items { items }))
    };
    let answer = state
        .results
        .get_or_build_tagged(id, Published::Winners, build)
        .await?;
    Ok(revalidated(&req, answer, Audience::Everyone).await)
}

/// Everything needed to re-run the draw offline (docs/FAIRNESS.md).
#[utoipa::path(get, path = "/api/v1/events/{id}/fairness", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the fairness record (with an ETag; Cache-Control: public, no-cache)", body = crate::api::envelope::Envelope<FairnessRecord>),
        (status = 304, description = "If-None-Match names the current ETag: no body"),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn fairness(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let build = async {
        let row = drawn_row(&state, id).await?;
        let participants =
            draw::canonical_order(store::participants::user_ids(&state.db, id).await?);
        let (mut records, _) = store::events::load(&state.db, Selection::One(id), None).await?;
        let record = records.pop().ok_or_else(AppError::event_not_found)?;
        let winners = store::events::winners(&state.db, id).await?;
        let beacon = crate::api::views::beacon_of(&row);
        Ok(ok_body(&FairnessRecord {
            beacon,
            algorithm: ALGORITHM.into(),
            seed_hash: row.seed_hash,
            seed: hex::encode(&row.seed),
            participants,
            prizes: record
                .prizes
                .into_iter()
                .map(|p| RecordPrize {
                    id: p.id,
                    name: p.name,
                    quantity: p.quantity.max(0) as u32,
                })
                .collect(),
            winners: winners
                .into_iter()
                .filter(|w| w.round == 1)
                .map(|w| Award {
                    user_id: w.user_id,
                    prize_id: w.prize_id,
                })
                .collect(),
            redraws: store::redraws::published(&state.db, id).await?,
        }))
    };
    let answer = state
        .results
        .get_or_build_tagged(id, Published::Fairness, build)
        .await?;
    Ok(revalidated(&req, answer, Audience::Everyone).await)
}
