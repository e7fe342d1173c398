//! Login and logout.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::ok;
use crate::api::views::UserView;
use crate::config::Secret;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store;

#[derive(Deserialize)]
pub struct LoginRequest {
    code: Option<String>,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    expires_in: u64,
    user: UserView,
}

/// `dev:<name>` → the openid `dev_<name>`, when dev login is on.
fn dev_openid(code: &str) -> AppResult<Option<String>> {
    let Some(name) = code.strip_prefix("dev:") else {
        return Ok(None);
    };
    let valid = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(AppError::InvalidArgument(
            "code: a dev login name is 1 to 64 of [A-Za-z0-9_-]".into(),
        ));
    }
    Ok(Some(format!("dev_{name}")))
}

/// Who the login code says the user is.
struct Identity {
    openid: String,
    unionid: Option<String>,
    session_key: Option<Secret>,
}

async fn identify(state: &AppState, code: &str) -> AppResult<Identity> {
    if state.config.dev_login_enabled() {
        if let Some(openid) = dev_openid(code)? {
            return Ok(Identity {
                openid,
                unionid: None,
                session_key: None,
            });
        }
    }
    let Some(wechat) = &state.wechat else {
        return Err(AppError::WechatLoginRejected(
            "WeChat login is not configured on this server; dev login takes dev:<name>".into(),
        ));
    };
    let session = wechat.code_to_session(code).await?;
    Ok(Identity {
        openid: session.openid,
        unionid: session.unionid,
        session_key: Some(session.session_key),
    })
}

pub async fn login(
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> AppResult<HttpResponse> {
    let code = body
        .0
        .code
        .filter(|c| !c.is_empty() && c.len() <= 256)
        .ok_or_else(|| AppError::InvalidArgument("code is required (1 to 256 bytes)".into()))?;
    let who = identify(&state, &code).await?;
    let user =
        store::users::upsert_by_openid(&state.db, &who.openid, who.unionid.as_deref(), Utc::now())
            .await?;
    let issued = state
        .sessions
        .create(user.id, who.session_key.as_ref())
        .await?;
    Ok(ok(LoginResponse {
        token: issued.token,
        expires_in: issued.expires_in,
        user: user.into(),
    }))
}

pub async fn logout(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    state.sessions.revoke(&caller.token).await?;
    Ok(ok(serde_json::Value::Null))
}
