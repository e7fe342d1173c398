//! Bulk sessions for load tests (`LOTTERY_LOAD_TEST_SESSIONS=true`, never
//! in the prod profile): a million-user run would otherwise spend longer
//! logging in than joining. Not part of the API (not in the OpenAPI
//! document); load-tests/README.md, "Bulk sessions", says how the load
//! tool uses it.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::api::body::JsonBody;
use crate::api::envelope::ok;
use crate::api::state::AppState;
use crate::error::{AppError, AppResult};
use crate::store;
use crate::wechat::open_data;

/// At most this many sessions per request (about 1 MB of answer).
pub const MAX_SESSIONS: u32 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsRequest {
    /// Users `<prefix>_<i>` for i in `first..first + count`.
    prefix: String,
    #[serde(default)]
    first: u64,
    count: u32,
}

#[derive(Serialize)]
struct Session {
    user_id: i64,
    token: String,
}

/// Users `<prefix>_<first>` … `<prefix>_<first + count - 1>`, created where
/// missing (openid `load_<prefix>_<i>`, a dev login's session_key derived
/// from the name), each with a fresh session, in that order.
pub async fn sessions(
    state: web::Data<AppState>,
    body: JsonBody<SessionsRequest>,
) -> AppResult<HttpResponse> {
    let SessionsRequest {
        prefix,
        first,
        count,
    } = body.0;
    if !super::auth::is_dev_name(&prefix, 40) {
        return Err(AppError::InvalidArgument(
            "prefix: 1 to 40 of [A-Za-z0-9_-]".into(),
        ));
    }
    if !(1..=MAX_SESSIONS).contains(&count) {
        return Err(AppError::InvalidArgument(format!(
            "count: 1 to {MAX_SESSIONS}"
        )));
    }
    let names: Vec<String> = (first..first + u64::from(count))
        .map(|i| format!("{prefix}_{i}"))
        .collect();
    let openids: Vec<String> = names.iter().map(|n| format!("load_{n}")).collect();
    let ids: std::collections::HashMap<String, i64> =
        store::users::upsert_many(&state.db, &openids, Utc::now())
            .await?
            .into_iter()
            .collect();
    let users = names
        .iter()
        .zip(&openids)
        .map(|(name, openid)| {
            let id = ids
                .get(openid)
                .copied()
                .ok_or_else(|| AppError::internal(format!("user {openid} was not stored")))?;
            Ok((id, Some(open_data::dev_session_key(name))))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let user_ids: Vec<i64> = users.iter().map(|(id, _)| *id).collect();
    let issued = state.sessions.create_many(users).await?;
    let sessions: Vec<Session> = user_ids
        .into_iter()
        .zip(issued)
        .map(|(user_id, issued)| Session {
            user_id,
            token: issued.token,
        })
        .collect();
    Ok(ok(serde_json::json!({ "sessions": sessions })))
}
