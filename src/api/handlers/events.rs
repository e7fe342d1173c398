//! Events: create, read, cancel and manual draw.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use crate::actors::event::EventActor;
use crate::actors::messages::{Cancel, DrawNow, Reply};
use crate::api::auth::{Caller, MaybeCaller};
use crate::api::body::JsonBodyAndBytes;
use crate::api::conditional::{revalidated, Audience};
use crate::api::envelope::{created, ok, ok_body};
use crate::api::event_id;
use crate::api::event_pages;
use crate::api::idempotency::{self, Held, Reserved};
use crate::api::state::AppState;
use crate::api::views::EventView;
use crate::cache::answers::Answer;
use crate::config::Profile;
use crate::domain::draw;
use crate::domain::event::EventStatus;
use crate::domain::media::MediaStatus;
use crate::domain::validation::{validate_event, EventDraft, NewEvent};
use crate::error::{AppError, AppResult};
use crate::pii::join_password;
use crate::store;
use crate::store::events::Creation;
use crate::wechat;

/// Creates an event; its seed is committed to by `fairness.seed_hash`.
/// With an `Idempotency-Key`, a retry with the same key and body answers
/// the event the first request made.
#[utoipa::path(post, path = "/api/v1/events", operation_id = "create_event", tag = "events",
    request_body = EventDraft,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters (a UUID): a retry with the same key and body within 24 hours answers the first creation (201, same event) instead of creating another")),
    responses(
        (status = 201, description = "created (or, for a retry under the same Idempotency-Key and body, the event the first request created)", body = crate::api::envelope::Envelope<EventView>),
        (status = 409, description = "40901: the user already has LOTTERY_MAX_OPEN_EVENTS_PER_USER events open (not drawn or cancelled); or the Idempotency-Key was used with another body, or its first request is still being handled", body = crate::api::envelope::ErrorEnvelope),
        (status = 502, description = "50200: WeChat's content check did not answer (prod)", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonBodyAndBytes<EventDraft>,
) -> AppResult<HttpResponse> {
    let key = idempotency::key_of(&req)?;
    let now = Utc::now();
    let JsonBodyAndBytes(draft, bytes) = body;
    // A retry of a creation that was made answers it before any check:
    // its draw time may have passed, or an image been refused, since.
    if let Some(key) = &key {
        if let Some(id) = idempotency::made_by(&state, caller.user_id, key, &bytes).await? {
            return Ok(created(
                event_pages::stored_view(&state, id, Some(caller.user_id)).await?,
            ));
        }
    }
    let new = validate_event(draft, now)?;
    if new.join_rules.risk_check && state.tokens.is_none() {
        return Err(AppError::InvalidArgument(
            "risk_check needs WeChat: this server has no WeChat app configured".into(),
        ));
    }
    images_usable(&state, caller.user_id, &new).await?;
    let held = match key {
        None => None,
        Some(key) => match idempotency::reserve(&state, caller.user_id, key, &bytes).await? {
            Reserved::Made(id) => {
                return Ok(created(
                    event_pages::stored_view(&state, id, Some(caller.user_id)).await?,
                ))
            }
            Reserved::Held(held) => Some(held),
        },
    };
    // A client that gives up mid-way (its request dropped) lets the key go
    // too: the guard releases it when dropped still armed.
    let guard = held.map(|held| idempotency::Guard::new(state.clone(), caller.user_id, held));
    let made = make_event(
        &state,
        caller.user_id,
        &new,
        guard.as_ref().map(|g| &g.held),
    )
    .await;
    if let Some(guard) = guard {
        guard.settle(made.is_ok()).await;
    }
    let id = made?;
    state.events.schedule(id, new.draw_at);
    // From the database: creating events must not start their actors.
    Ok(created(
        event_pages::stored_view(&state, id, Some(caller.user_id)).await?,
    ))
}

/// The quota, WeChat's content check and the stored event (bound to the
/// Idempotency-Key `held`, when there is one, in the same transaction).
async fn make_event(
    state: &AppState,
    user_id: i64,
    new: &NewEvent,
    held: Option<&Held>,
) -> AppResult<i64> {
    // Before WeChat's content check, which each creation costs; the
    // creation's transaction checks again under a lock.
    let quota = state.config.max_open_events_per_user;
    crate::domain::event::check_open_quota(
        store::events::open_count(&state.db, user_id).await?,
        quota,
    )?;
    screen_event(state, user_id, new).await?;
    let seed = draw::new_seed();
    let digest = new
        .join_password
        .as_ref()
        .map(|password| join_password::digest(&state.pii, password));
    // Events created while a beacon is configured are drawn with it.
    let creation = Creation {
        seed: &seed,
        beacon_chain: state.config.beacon.as_ref().map(|b| b.chain_hash.as_str()),
        under_key: held.map(|held| (held.key.as_str(), held.attempt)),
    };
    store::events::create(&state.db, user_id, new, digest, creation, Utc::now(), quota).await
}

/// The images the event names are the caller's own and not rejected
/// (a pending one is shown once WeChat passes it).
async fn images_usable(state: &AppState, user_id: i64, new: &NewEvent) -> AppResult<()> {
    let named = new.image_ids();
    if named.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = named.iter().map(|(_, id)| id.clone()).collect();
    let rows = store::media::many(&state.db, &ids).await?;
    for (field, id) in &named {
        let usable = rows
            .iter()
            .find(|row| &row.id == id)
            .is_some_and(|row| row.owner_id == user_id && row.status != MediaStatus::Rejected);
        if !usable {
            return Err(AppError::InvalidArgument(format!(
                "{field} must be the id of an image you uploaded that WeChat did not reject"
            )));
        }
    }
    Ok(())
}

/// WeChat's content check of what the event publishes, when WeChat is
/// configured (docs/NOTIFICATIONS.md, "Content check").
async fn screen_event(state: &AppState, user_id: i64, new: &NewEvent) -> AppResult<()> {
    let Some(tokens) = &state.tokens else {
        return Ok(());
    };
    let creator = store::users::get(&state.db, user_id).await?;
    let mut content = new.description.clone();
    for prize in &new.prizes {
        content.push('\n');
        content.push_str(&prize.name);
    }
    let fail_closed = state.config.profile == Profile::Prod;
    let text = wechat::content::Text::Post {
        title: &new.title,
        content: &content,
    };
    wechat::content::screen(tokens, fail_closed, &creator.openid, text).await
}

/// One event; with a token, `me` tells the caller's participation and prize.
#[utoipa::path(get, path = "/api/v1/events/{id}", operation_id = "get_event", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "the event (drawn or cancelled: with an ETag; Cache-Control: no-cache, private with a token)", body = crate::api::envelope::Envelope<EventView>),
        (status = 304, description = "a drawn or cancelled event whose If-None-Match names the current ETag: no body"),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
    ),
    security((), ("bearer" = [])))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeCaller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let viewer = caller.0.map(|c| c.user_id);
    let audience = Audience::Viewer(viewer);
    if let Some(answer) = event_pages::from_memory(&state, id, viewer) {
        return Ok(revalidated(&req, answer, audience).await);
    }
    let view = event_pages::view(&state, id, viewer).await?;
    // Tagged as the finished-events cache tags it: the same bytes.
    let finished = [EventStatus::Drawn, EventStatus::Cancelled]
        .iter()
        .any(|status| status.as_str() == view.status);
    let body = ok_body(&view);
    let answer = if finished {
        Answer::tagged(body)
    } else {
        Answer::plain(body)
    };
    Ok(revalidated(&req, answer, audience).await)
}

/// The longest a creator's order keeps its caller waiting: a draw queued
/// behind thousands of others (draw permits) answers 503 and goes on.
const ORDER_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands a creator's order to the event's actor (which checks who may give
/// it), then answers the event as it now is.
async fn creator_order<M>(
    state: &AppState,
    caller: Caller,
    path: web::Path<String>,
    order: impl Fn(i64, Reply<()>) -> M,
) -> AppResult<HttpResponse>
where
    M: crate::actors::messages::Request + Send + 'static,
    EventActor: actix::Handler<crate::actors::messages::Timed<M>>,
{
    let id = event_id::from_route(path)?;
    let user_id = caller.user_id;
    let asked = state.events.ask(id, |reply| order(user_id, reply));
    actix_web::rt::time::timeout(ORDER_ANSWER_WITHIN, asked)
        .await
        .map_err(|_| {
            AppError::Unavailable(
                "the order is still being carried out; check the event shortly".into(),
            )
        })??;
    Ok(ok(event_pages::view(state, id, Some(user_id)).await?))
}

/// The creator cancels the event before its draw.
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", operation_id = "cancel_event", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "cancelled", body = crate::api::envelope::Envelope<EventView>),
        (status = 403, description = "40300: only the creator may cancel", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: already drawing, drawn or cancelled", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    creator_order(&state, caller, path, |user_id, reply| Cancel {
        user_id,
        reply,
    })
    .await
}

/// The creator draws a `manual` event now.
#[utoipa::path(post, path = "/api/v1/events/{id}/draw", operation_id = "draw_event", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    responses(
        (status = 200, description = "drawn", body = crate::api::envelope::Envelope<EventView>),
        (status = 403, description = "40300: only the creator may draw", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40901: not a manual event, or already drawn or cancelled", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn draw(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    creator_order(&state, caller, path, |user_id, reply| DrawNow {
        user_id,
        reply,
    })
    .await
}
