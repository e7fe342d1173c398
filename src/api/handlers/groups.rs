//! Group-only events (docs/API.md, "Join rules"): the creator binds the
//! WeChat groups the event is for; a joiner shows a proof of one of them.
//! A proof is `wx.getGroupEnterInfo`'s encrypted data, opened with the
//! caller's own session_key (`wechat::open_data`), so it cannot be lent.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::envelope::ok;
use crate::api::event_id;
use crate::api::state::AppState;
use crate::domain::event::{check_creator, EventStatus};
use crate::error::{AppError, AppResult};
use crate::store;
use crate::wechat::open_data::{self, DEV_APPID};

/// What `wx.getGroupEnterInfo` returned, as the mini-program got it.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupProof {
    #[schema(value_type = String, required)]
    encrypted_data: Option<String>,
    #[schema(value_type = String, required)]
    iv: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GroupsView {
    /// How many groups the event is bound to now.
    groups: i64,
}

/// The group a proof names, opened with the caller's session key; 40311
/// when it does not open, whatever the reason (each is logged).
async fn group_of(state: &AppState, caller: &Caller, proof: &GroupProof) -> AppResult<String> {
    let (Some(data), Some(iv)) = (&proof.encrypted_data, &proof.iv) else {
        return Err(AppError::InvalidArgument(
            "a group proof needs encrypted_data and iv".into(),
        ));
    };
    let session_key = state.sessions.session_key(&caller.token).await?;
    let appid = state.config.wechat_appid.as_deref().unwrap_or(DEV_APPID);
    open_data::group_id(session_key.as_ref(), appid, data, iv).map_err(|why| {
        tracing::debug!(user_id = caller.user_id, %why, "a group proof did not open");
        AppError::NotInGroup(format!(
            "the group proof did not open ({why}); call wx.getGroupEnterInfo again after wx.login"
        ))
    })
}

/// Whether a joiner's proof names one of the event's groups.
pub(crate) async fn shows_group(
    state: &AppState,
    caller: &Caller,
    event_id: i64,
    proof: &GroupProof,
) -> AppResult<bool> {
    let opengid = match group_of(state, caller, proof).await {
        Ok(opengid) => opengid,
        Err(AppError::NotInGroup(_)) => return Ok(false),
        Err(err) => return Err(err),
    };
    if state.known_groups.contains(event_id, &opengid) {
        return Ok(true);
    }
    let bound = store::groups::contains(&state.db, event_id, &opengid).await?;
    if bound {
        state.known_groups.remember(event_id, &opengid);
    }
    Ok(bound)
}

/// Binds the WeChat group the proof names to a group-only event (creator
/// only, while the event is open). Binding a group again changes nothing.
#[utoipa::path(post, path = "/api/v1/events/{id}/groups", operation_id = "bind_group", tag = "events",
    params(("id" = i64, Path, minimum = 1, description = "the event id")),
    request_body = GroupProof,
    responses(
        (status = 200, description = "the number of groups bound", body = crate::api::envelope::Envelope<GroupsView>),
        (status = 403, description = "40300: not the event's creator; 40311: the proof did not open with the caller's session key or is another app's", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: no such event", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "40900: the event is closed; 40901: the event is not group-only", body = crate::api::envelope::ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn bind(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody<GroupProof>,
) -> AppResult<HttpResponse> {
    let id = event_id::from_route(path)?;
    let row = store::events::get_row(&state.db, id)
        .await?
        .ok_or_else(AppError::event_not_found)?;
    check_creator(row.creator_id, caller.user_id)?;
    if row.status != EventStatus::Open {
        return Err(AppError::EventClosed(format!(
            "the event is {}: groups are bound while it is open",
            row.status.as_str()
        )));
    }
    if !row.group_only {
        return Err(AppError::InvalidState(
            "the event is not group-only: create it with group_only: true".into(),
        ));
    }
    let opengid = group_of(&state, &caller, &body.0).await?;
    let groups = store::groups::bind(&state.db, id, &opengid, Utc::now()).await?;
    state.known_groups.remember(id, &opengid);
    Ok(ok(GroupsView { groups }))
}
