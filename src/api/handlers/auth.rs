//! Login and logout.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::ok;
use crate::api::views::UserView;
use crate::error::{AppError, AppResult};
use crate::startup::AppState;
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

pub async fn login(
    state: web::Data<AppState>,
    body: JsonBody<LoginRequest>,
) -> AppResult<HttpResponse> {
    let code = body
        .0
        .code
        .filter(|c| !c.is_empty() && c.len() <= 256)
        .ok_or_else(|| AppError::InvalidArgument("code is required (1 to 256 bytes)".into()))?;
    let openid = match state.config.dev_login_enabled() {
        true => dev_openid(&code)?,
        false => None,
    };
    let Some(openid) = openid else {
        // The jscode2session exchange is tracked as its own issue.
        return Err(if state.config.wechat_appid.is_none() {
            AppError::WechatLoginRejected(
                "WeChat login is not configured on this server; dev login takes dev:<name>".into(),
            )
        } else {
            AppError::Upstream("WeChat login is not available yet".into())
        });
    };
    let user = store::users::upsert_by_openid(&state.db, &openid, None, Utc::now()).await?;
    let issued = state.sessions.create(user.id).await?;
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
