//! Joining, leaving and the participant list.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::actors::messages::{Join, Leave};
use crate::api::auth::Caller;
use crate::api::body::OptionalJsonBody;
use crate::api::client_addr;
use crate::api::conditional;
use crate::api::envelope::{ok, ok_body};
use crate::api::event_id;
use crate::api::handlers::groups::{self, GroupProof};
use crate::api::page::Page;
use crate::api::page::{page_of, PageQuery};
use crate::api::risk;
use crate::api::state::AppState;
use crate::api::views::{time, UserRef};
use crate::cache::results::Published;
use crate::domain::count::ParticipantCount;
use crate::domain::membership::Membership;
use crate::domain::subscription::Subscriptions;
use crate::error::{AppError, AppResult};
use crate::secret::Secret;
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
    #[schema(value_type = Option<Vec<SubscribeTemplate>>)]
    subscribe: Option<Vec<String>>,
    /// The event's password (口令), when it has one (ignored otherwise).
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
    /// For a group-only event: what `wx.getGroupEnterInfo` returned when
    /// the user opened the event from a group.
    group: Option<GroupProof>,
}

/// A subscribe-message template a user accepted, by its name here.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // described only: `subscribe` is read as names, for our own error message
enum SubscribeTemplate {
    Result,
    ClaimReminder,
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
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    request_body(content = Option<JoinRequest>, description = "optional: without a body, a join without notices"),
    responses(
        (status = 200, description = "the participation as stored", body = crate::api::envelope::Envelope<MembershipView>),
        (status = 403, description = "40310: the password is missing or wrong; 40311: not shown to be in one of the event's groups; 40312: refused by WeChat's fraud check", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40900: the event is closed (drawing, drawn or cancelled); 40902: the event is full", body = crate::api::envelope::ErrorEnvelope),
        (status = 429, description = "42900: too many requests, or too many wrong passwords for this event", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn join(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJsonBody<JoinRequest>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let user_id = caller.user_id;
    let body = body.0;
    let accepted = Subscriptions::from_join(body.notify, body.subscribe.as_deref())?;
    let password = body.password;
    let group = match &body.group {
        Some(proof) => Some(groups::shows_group(&state, &caller, id, proof).await?),
        None => None,
    };
    // A rank this process knows goes along; the actor asks for one only
    // of a new participant of a `risk_check` event.
    let mut risk = risk::known(&state, user_id);
    let terms = JoinTerms {
        user_id,
        accepted,
        password,
        group,
    };
    let mut joined = terms.ask(&state, id, risk).await;
    if matches!(joined, Err(AppError::RiskRankNeeded)) && risk.is_none() {
        let client_ip = client_addr::of(&req, &state)
            .ok_or_else(|| AppError::internal("a request without a peer address"))?;
        risk = Some(risk::verdict(&state, user_id, client_ip).await?);
        joined = terms.ask(&state, id, risk).await;
    }
    match &joined {
        Err(AppError::WrongJoinPassword(_)) => {
            metrics::counter!("lottery_join_refusals_total", "rule" => "password").increment(1);
            // The actor counted the wrong try; kept for its next start.
            if terms.password.is_some() {
                if let Err(err) = store::join_tries::record_wrong(&state.db, id, user_id).await {
                    tracing::warn!(event_id = id, user_id, error = %err, "a wrong try not kept");
                }
            }
        }
        Err(AppError::RateLimited { .. }) => {
            metrics::counter!("lottery_join_refusals_total", "rule" => "password_tries")
                .increment(1);
        }
        Err(AppError::NotInGroup(_)) => {
            metrics::counter!("lottery_join_refusals_total", "rule" => "group").increment(1);
        }
        Err(AppError::RiskRefused(_)) => {
            metrics::counter!("lottery_join_refusals_total", "rule" => "risk").increment(1);
        }
        _ => {}
    }
    Ok(ok(MembershipView::from(joined?)))
}

/// What a join asks of the event's actor, less the fraud check's verdict
/// (which a second ask may add).
struct JoinTerms {
    user_id: i64,
    accepted: Subscriptions,
    password: Option<Secret>,
    group: Option<bool>,
}

impl JoinTerms {
    async fn ask(&self, state: &AppState, id: i64, risk: Option<bool>) -> AppResult<Membership> {
        state
            .events
            .ask(id, |reply| Join {
                user_id: self.user_id,
                accepted: self.accepted,
                password: self.password.clone(),
                group: self.group,
                risk,
                reply,
            })
            .await
    }
}

/// Leaves the event (idempotent). Answered once stored.
#[utoipa::path(delete, path = "/api/v1/events/{id}/participants/me", operation_id = "leave_event", tag = "participation",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
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
        ("id" = i64, Path, minimum = 1, description = "the event id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page of this list, as it was (opaque; another list's, or an edited one, is refused with 40000)"),
    ),
    responses(
        (status = 200, description = "one page", body = crate::api::envelope::Envelope<Page<ParticipantView>>),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn list(
    req: HttpRequest,
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
        let answer = state.results.get_or_build(id, what, build).await?;
        return Ok(conditional::send(&req, &answer).await);
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
