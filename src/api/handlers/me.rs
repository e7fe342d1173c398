//! The caller's own profile and events.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::api::body::OptionalJsonBody;
use crate::api::envelope::ok;
use crate::api::event_pages;
use crate::api::page::Page;
use crate::api::page::{page_of, PageQuery};
use crate::api::state::AppState;
use crate::api::views::UserView;
use crate::api::views::{time, EventView, MyClaim};
use crate::config::Profile;
use crate::domain::claim;
use crate::domain::validation::{validate_https_url, validate_nickname};
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::events::{Role, Selection};
use crate::wechat;

/// Which of the caller's events `GET /me/events` lists.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // described only: the query is read by hand, for our own error message
enum EventsRole {
    Created,
    Joined,
    Won,
}

/// Fields to change; absent ones stay.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 32 characters, trimmed; no control characters.
    #[schema(min_length = 1, max_length = 32)]
    nickname: Option<String>,
    /// An https URL of at most 512 bytes.
    #[schema(max_length = 512, pattern = "^https://[^/?#\\s]+\\S*$")]
    avatar_url: Option<String>,
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "get_me", tag = "me",
    responses((status = 200, description = "the profile", body = crate::api::envelope::Envelope<UserView>)),
    security(("bearer" = [])))]
pub async fn get(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let user = store::users::get(&state.db, caller.user_id).await?;
    Ok(ok(UserView::from(user)))
}

/// Changes the caller's nickname or avatar.
#[utoipa::path(patch, path = "/api/v1/me", operation_id = "update_me", tag = "me",
    request_body(content = Option<ProfilePatch>, description = "optional: without a body, nothing changes"),
    responses((status = 200, description = "the profile as changed", body = crate::api::envelope::Envelope<UserView>)),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    body: OptionalJsonBody<ProfilePatch>,
) -> AppResult<HttpResponse> {
    let patch = body.0;
    let nickname = patch
        .nickname
        .as_deref()
        .map(validate_nickname)
        .transpose()?;
    if let Some(url) = &patch.avatar_url {
        validate_https_url("avatar_url", url)?;
    }
    if let (Some(nickname), Some(tokens)) = (&nickname, &state.tokens) {
        // Shown to everyone as creator, participant and winner: checked
        // like an event's title (docs/NOTIFICATIONS.md, "Content check").
        let user = store::users::get(&state.db, caller.user_id).await?;
        let fail_closed = state.config.profile == Profile::Prod;
        let text = wechat::content::Text::Nickname(nickname);
        wechat::content::screen(tokens, fail_closed, &user.openid, text).await?;
    }
    let renamed = nickname.clone();
    let user =
        store::users::update_profile(&state.db, caller.user_id, nickname, patch.avatar_url).await?;
    if let Some(nickname) = renamed {
        event_pages::forget_nickname(&state, caller.user_id, &nickname).await?;
    }
    Ok(ok(UserView::from(user)))
}

/// Events the caller created, joined or won, newest first.
#[utoipa::path(get, path = "/api/v1/me/events", operation_id = "my_events", tag = "me",
    params(
        ("role" = inline(Option<EventsRole>), Query, description = "`created` (default), `joined` or `won`"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 20"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page of this list, as it was (opaque; another list's, or an edited one, is refused with 40000)"),
    ),
    responses((status = 200, description = "one page", body = crate::api::envelope::Envelope<Page<EventView>>)),
    security(("bearer" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> AppResult<HttpResponse> {
    let role = match query.role.as_deref() {
        None | Some("created") => Role::Created,
        Some("joined") => Role::Joined,
        Some("won") => Role::Won,
        Some(_) => {
            return Err(AppError::InvalidArgument(
                "role must be one of created, joined, won".into(),
            ))
        }
    };
    let limit = query.limit()?;
    let before = query.position("e")?;
    let selection = Selection::OfUser {
        user_id: caller.user_id,
        role,
        before,
        limit: limit + 1,
    };
    let mut views = event_pages::list(&state, selection, Some(caller.user_id)).await?;
    if role == Role::Won {
        with_claims(&state, caller.user_id, &mut views).await?;
    }
    Ok(ok(page_of(views, limit, "e", |v| v.id, |v| v)))
}

/// Each won event's claim status, as it stands on the claim clock.
async fn with_claims(state: &AppState, user_id: i64, views: &mut [EventView]) -> AppResult<()> {
    let ids: Vec<i64> = views.iter().map(|v| v.id).collect();
    let now = state.clock.now();
    let mut claims: HashMap<i64, MyClaim> = store::claims::statuses(&state.db, user_id, &ids)
        .await?
        .into_iter()
        .map(|(event_id, stored, claim_by)| {
            let status = claim::status_at(stored, claim_by.and_utc(), now);
            (
                event_id,
                MyClaim {
                    status: status.as_str(),
                    claim_by: time(claim_by),
                },
            )
        })
        .collect();
    for view in views {
        if let Some(me) = view.me.as_mut() {
            me.claim = claims.remove(&view.id);
        }
    }
    Ok(())
}
