//! Login and logout.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::auth::Caller;
use crate::api::body::JsonBody;
use crate::api::envelope::ok;
use crate::api::state::AppState;
use crate::api::views::UserView;
use crate::error::{AppError, AppResult};
use crate::secret::Secret;
use crate::store;
use crate::wechat::open_data;

/// `code` from `wx.login()`; with dev login on, `dev:<name>`.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// 1 to 256 bytes (WeChat's codes are 32 ASCII characters; the
    /// document allows visible ASCII so that its length is its bytes).
    #[schema(value_type = String, required, min_length = 1, max_length = 256, pattern = "^[!-~]+$", example = "dev:alice")]
    code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token of later requests.
    token: String,
    /// Seconds until the token expires.
    expires_in: u64,
    user: UserView,
}

/// 1 to `max` of `[A-Za-z0-9_-]`: a dev login's name (and a bulk session
/// prefix's, `load_test`).
pub(crate) fn is_dev_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `dev:<name>` → the openid `dev_<name>`, when dev login is on.
fn dev_openid(code: &str) -> AppResult<Option<String>> {
    let Some(name) = code.strip_prefix("dev:") else {
        return Ok(None);
    };
    if !is_dev_name(name, 64) {
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
            // WeChat gives no session_key to a dev login: one derived from
            // the name stands in, so group proofs can be made for dev users.
            let name = openid.strip_prefix("dev_").unwrap_or(&openid);
            let session_key = Some(open_data::dev_session_key(name));
            return Ok(Identity {
                openid,
                unionid: None,
                session_key,
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

/// Exchanges a `wx.login()` code for a session token (dev login: `dev:<name>`).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "logged in", body = crate::api::envelope::Envelope<LoginResponse>),
        (status = 401, description = "40101: WeChat refused the code", body = crate::api::envelope::ErrorEnvelope),
        (status = 429, description = "42900: too many logins (this address, or WeChat's limit for the user)", body = crate::api::envelope::ErrorEnvelope),
        (status = 502, description = "50200: WeChat did not answer", body = crate::api::envelope::ErrorEnvelope),
    ))]
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
    let mut answer = ok(LoginResponse {
        token: issued.token,
        expires_in: issued.expires_in,
        user: user.into(),
    });
    // A session token: no cache on the way may keep it (RFC 9111 §5.2.2.5).
    answer.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(answer)
}

/// Revokes the token; later use gets 40100.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, description = "revoked", body = crate::api::envelope::EmptyEnvelope)),
    security(("bearer" = [])))]
pub async fn logout(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    state.sessions.revoke(&caller.token).await?;
    Ok(ok(serde_json::Value::Null))
}
