//! Joining, leaving and the participant list.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actors::messages::{Join, Leave};
use crate::api::auth::Caller;
use crate::api::body::OptionalJsonBody;
use crate::api::envelope::{ok, ok_body, ok_serialized};
use crate::api::event_id;
use crate::api::page::Page;
use crate::api::page::{page_of, PageQuery};
use crate::api::state::AppState;
use crate::api::views::{time, UserRef};
use crate::cache::results::Published;
use crate::domain::count::ParticipantCount;
use crate::domain::membership::Membership;
use crate::domain::subscription::Subscriptions;
use crate::error::{AppError, AppResult};
use crate::store;

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// Send me the result through a WeChat subscribe message (the
    /// mini-program asked the user's consent first). Same as listing
    /// `result` in `subscribe`.
    notify: Option<bool>,
    /// The templates the user accepted in `wx.requestSubscribeMessage`:
    /// `result`, `claim_reminder`. Each allows one message of its kind.
    subscribe: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    joined: bool,
    #[schema(value_type = usize)]
    participant_count: ParticipantCount,
}

impl From<Membership> for MembershipView {
    fn from(m: Membership) -> Self {
        Self {
            joined: m.joined,
            participant_count: m.participant_count,
        }
    }
}

/// Joins the event (idempotent; a repeat may change `notify`). Answered
/// once stored.
#[utoipa::path(put, path = "/api/v1/events/{id}/participants/me", operation_id = "join_event", tag = "participation",
    params(("id" = i64, Path, description = "the event id")),
    request_body(content = Option<JoinRequest>, description = "optional"),
    responses(
        (status = 200, description = "the participation as stored", body = crate::api::envelope::Envelope<MembershipView>),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40900: the event is closed (drawing, drawn or cancelled); 40902: the event is full", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn join(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJsonBody<JoinRequest>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let user_id = caller.user_id;
    let accepted = Subscriptions::from_join(body.0.notify, body.0.subscribe.as_deref())?;
    let membership = state
        .events
        .ask(id, |reply| Join {
            user_id,
            accepted,
            reply,
        })
        .await?;
    Ok(ok(MembershipView::from(membership)))
}

/// Leaves the event (idempotent). Answered once stored.
#[utoipa::path(delete, path = "/api/v1/events/{id}/participants/me", operation_id = "leave_event", tag = "participation",
    params(("id" = i64, Path, description = "the event id")),
    responses(
        (status = 200, description = "the participation as stored", body = crate::api::envelope::Envelope<MembershipView>),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40900: the event is closed", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn leave(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let user_id = caller.user_id;
    let membership = state
        .events
        .ask(id, |reply| Leave { user_id, reply })
        .await?;
    Ok(ok(MembershipView::from(membership)))
}

#[derive(Serialize, ToSchema)]
pub struct ParticipantView {
    user: UserRef,
    joined_at: String,
}

/// Participants in joining order.
#[utoipa::path(get, path = "/api/v1/events/{id}/participants", operation_id = "list_participants", tag = "participation",
    params(
        ("id" = i64, Path, description = "the event id"),
        ("limit" = Option<u32>, Query, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "one page", body = crate::api::envelope::Envelope<Page<ParticipantView>>),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let limit = query.limit()?;
    let after = query.position("p")?;
    // The first page of a live event (what every visitor of a shared event
    // sees) is built once per change of the list's head: the versions are
    // read before the rows, so the page holds every acknowledged change.
    let head = after
        .is_none()
        .then(|| state.events.live_page(id).and_then(|page| page.head()))
        .flatten();
    if let Some(head) = head {
        let what = Published::FirstParticipants { limit, head };
        let build = async { Ok(ok_body(&page_body(&state, id, None, limit).await?)) };
        let body = state.results.get_or_build(id, what, build).await?;
        return Ok(ok_serialized(body));
    }
    Ok(ok(page_body(&state, id, after, limit).await?))
}

async fn page_body(
    state: &AppState,
    id: i64,
    after: Option<i64>,
    limit: i64,
) -> AppResult<impl Serialize> {
    let rows = store::participants::page(&state.db, id, after, limit + 1)
        .await?
        .ok_or_else(AppError::event_not_found)?;
    Ok(page_of(
        rows,
        limit,
        "p",
        |entry| entry.position,
        |entry| ParticipantView {
            user: UserRef {
                id: entry.user_id,
                nickname: entry.nickname,
            },
            joined_at: time(entry.joined_at),
        },
    ))
}
