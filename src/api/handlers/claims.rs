//! Winner claims (docs/API.md, "Winner claims"): the winner's own claim,
//! the creator's list, export and shipping. Who may see a claim is decided
//! here before anything is opened: the winner sees their own, the creator
//! every claim of their event, nobody else any.

use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpResponse};

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::claim_views::{claim_view, claims_csv, ClaimView};
use crate::api::envelope::ok;
use crate::api::event_id;
use crate::api::handlers::results::{drawn_row, load_row};
use crate::api::page::{page_of, Page, PageQuery};
use crate::api::state::AppState;
use crate::domain::claim::{self, DetailsDraft, ShipmentDraft};
use crate::domain::event::{check_creator, check_results_published};
use crate::error::{AppError, AppResult};
use crate::pii;
use crate::store;
use crate::store::claims::ClaimRecord;
use crate::store::models::EventRow;

/// The caller's claim in a drawn event (40300 for anyone who did not win).
async fn own_claim(state: &AppState, id: i64, user_id: i64) -> AppResult<ClaimRecord> {
    store::claims::of_user(&state.db, id, user_id)
        .await?
        .ok_or_else(|| AppError::Forbidden("only a winner of this event has a claim".into()))
}

fn view(state: &AppState, record: ClaimRecord) -> AppResult<HttpResponse> {
    Ok(ok(claim_view(&state.pii, record, state.clock.now())?))
}

/// The caller's own claim.
#[utoipa::path(get, path = "/api/v1/events/{id}/claim", operation_id = "get_claim", tag = "claims",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the caller's claim", body = crate::api::envelope::Envelope<ClaimView>),
        (status = 403, description = "40300: the caller did not win", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn own(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    drawn_row(&state, id).await?;
    view(&state, own_claim(&state, id, caller.user_id).await?)
}

/// Gives (or corrects) the delivery details, until shipped or `claim_by`.
#[utoipa::path(put, path = "/api/v1/events/{id}/claim", operation_id = "give_claim_details", tag = "claims",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    request_body(content = Object, description = "address mode: {name 1..=32, phone 5..=20 of digits, spaces, + and -, address 1..=200, note? 0..=200}; contact mode: {contact 1..=200, note? 0..=200}"),
    responses(
        (status = 200, description = "the claim, claimed", body = crate::api::envelope::Envelope<ClaimView>),
        (status = 400, description = "40000: a field is missing or invalid (named)", body = crate::api::envelope::ErrorEnvelope),
        (status = 403, description = "40300: the caller did not win", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet; 40903: past claim_by, or already shipped", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn give_details(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<DetailsDraft>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let event = drawn_row(&state, id).await?;
    let user_id = caller.user_id;
    let claim = own_claim(&state, id, user_id).await?;
    let details = claim::validate_details(event.claim_mode, body.0)?;
    let now = state.clock.now();
    claim::check_details_change(claim.status, claim.claim_by.and_utc(), now)?;
    let sealed = pii::details::seal(&state.pii, id, user_id, &details);
    if !store::claims::give_details(&state.db, id, user_id, &sealed.0, now).await? {
        // Shipped, or the window closed, since it was read: say which.
        let claim = own_claim(&state, id, user_id).await?;
        claim::check_details_change(claim.status, claim.claim_by.and_utc(), now)?;
        return Err(AppError::internal("the claim changed while it was written"));
    }
    view(&state, own_claim(&state, id, user_id).await?)
}

/// The winner confirms the prize arrived.
#[utoipa::path(post, path = "/api/v1/events/{id}/claim/received", operation_id = "confirm_received", tag = "claims",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the claim, received", body = crate::api::envelope::Envelope<ClaimView>),
        (status = 403, description = "40300: the caller did not win", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet, or the prize is not shipped", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn received(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    drawn_row(&state, id).await?;
    let user_id = caller.user_id;
    let claim = own_claim(&state, id, user_id).await?;
    claim::check_received(claim.status)?;
    let now = state.clock.now();
    if !store::claims::received(&state.db, id, user_id, now).await? {
        let claim = own_claim(&state, id, user_id).await?;
        claim::check_received(claim.status)?;
    }
    view(&state, own_claim(&state, id, user_id).await?)
}

/// The event as its creator sees it: drawn, and the caller its creator.
async fn creators_event(state: &AppState, id: i64, caller: &Caller) -> AppResult<EventRow> {
    let row = load_row(state, id).await?;
    check_creator(row.creator_id, caller.user_id)?;
    check_results_published(row.status)?;
    Ok(row)
}

/// Every winner's claim, in the order they were drawn (creator only).
#[utoipa::path(get, path = "/api/v1/events/{id}/claims", operation_id = "list_claims", tag = "claims",
    params(
        ("id" = i64, Path, minimum = 1, description = "the event id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page of this list, as it was (opaque; another list's, or an edited one, is refused with 40000)"),
    ),
    responses(
        (status = 200, description = "one page", body = crate::api::envelope::Envelope<Page<ClaimView>>),
        (status = 403, description = "40300: not the event's creator", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let limit = query.limit()?;
    let after = query.position("c")?;
    creators_event(&state, id, &caller).await?;
    let rows = store::claims::page(&state.db, id, after, Some(limit + 1)).await?;
    let now = state.clock.now();
    let positions: Vec<i64> = rows.iter().map(|r| r.winner_id).collect();
    let views = rows
        .into_iter()
        .map(|r| claim_view(&state.pii, r, now))
        .collect::<AppResult<Vec<_>>>()?;
    let page = page_of(
        views.into_iter().zip(positions).collect(),
        limit,
        "c",
        |(_, position)| *position,
        |(view, _)| view,
    );
    Ok(ok(page))
}

/// Every claim as a CSV file (creator only; errors are enveloped).
#[utoipa::path(get, path = "/api/v1/events/{id}/claims/export", operation_id = "export_claims", tag = "claims",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "UTF-8 with a byte-order mark, a header row, one row per winner of every round", content_type = "text/csv; charset=utf-8", body = String),
        (status = 403, description = "40300: not the event's creator", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    creators_event(&state, id, &caller).await?;
    let rows = store::claims::page(&state.db, id, None, None).await?;
    let csv = claims_csv(&state.pii, rows, state.clock.now())?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!("claims-{id}.csv"))],
        })
        // Personal data: no shared cache keeps it.
        .insert_header(("Cache-Control", "private, no-store"))
        .body(csv))
}

/// The creator ships a claimed prize.
#[utoipa::path(post, path = "/api/v1/events/{id}/claims/{user_id}/ship", operation_id = "ship_prize", tag = "claims",
    params(
        ("id" = i64, Path, minimum = 1, description = "the event id"),
        ("user_id" = i64, Path, minimum = 1, description = "the winner (a user id)"),
    ),
    request_body(content = Object, description = "{carrier 1..=32, tracking_no 1..=64}"),
    responses(
        (status = 200, description = "the claim, shipped", body = crate::api::envelope::Envelope<ClaimView>),
        (status = 400, description = "40000: a field is missing or invalid (named)", body = crate::api::envelope::ErrorEnvelope),
        (status = 403, description = "40300: not the event's creator", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event, or that user has no claim in it", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not drawn yet, or the claim is not claimed", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn ship(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody<ShipmentDraft>,
) -> AppResult<HttpResponse> {
    let (event, winner) = path.into_inner();
    let id = event_id::parse(&event).ok_or_else(AppError::event_not_found)?;
    let winner = event_id::parse(&winner)
        .ok_or_else(|| AppError::NotFound("no such winner in this event".into()))?;
    creators_event(&state, id, &caller).await?;
    let shipment = claim::validate_shipment(body.0)?;
    let no_claim = || AppError::NotFound("no such winner in this event".into());
    let claim = store::claims::of_user(&state.db, id, winner)
        .await?
        .ok_or_else(no_claim)?;
    let now = state.clock.now();
    claim::check_ship(claim.status, claim.claim_by.and_utc(), now)?;
    let shipped = store::claims::ship(
        &state.db,
        id,
        winner,
        &shipment.carrier,
        &shipment.tracking_no,
        now,
    )
    .await?;
    let claim = store::claims::of_user(&state.db, id, winner)
        .await?
        .ok_or_else(no_claim)?;
    if !shipped {
        claim::check_ship(claim.status, claim.claim_by.and_utc(), now)?;
    }
    view(&state, claim)
}
