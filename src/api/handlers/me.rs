//! The caller's own profile and events.

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::api::auth::Caller;
use crate::api::body::OptionalJsonBody;
use crate::api::handlers::events::views;
use crate::api::ok;
use crate::api::page::{page_of, PageQuery};
use crate::api::views::UserView;
use crate::domain::validation::{validate_https_url, validate_nickname};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;
use crate::store::events::{Role, Selection};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    nickname: Option<String>,
    avatar_url: Option<String>,
}

pub async fn get(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let user = store::users::get(&state.db, caller.user_id).await?;
    Ok(ok(UserView::from(user)))
}

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
    let user =
        store::users::update_profile(&state.db, caller.user_id, nickname, patch.avatar_url).await?;
    Ok(ok(UserView::from(user)))
}

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
    let views = views(&state, selection, Some(caller.user_id)).await?;
    Ok(ok(page_of(views, limit, "e", |v| v.id, |v| v)))
}
