//! WeChat's message push (消息推送): the URL set in the mini-program
//! console, where WeChat verifies the server (GET) and delivers events
//! (POST), here the verdicts of `media_check_async`. Signed with the
//! console's Token (`LOTTERY_WECHAT_PUSH_TOKEN`); in safe mode the body is
//! encrypted with its EncodingAESKey (`LOTTERY_WECHAT_PUSH_AES_KEY`).
//! <https://developers.weixin.qq.com/miniprogram/dev/framework/server-ability/message-push.html>

use actix_web::web;
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::api::image_verdicts;
use crate::api::state::AppState;
use crate::error::{AppError, AppResult};
use crate::wechat::push::{self, Push};

#[derive(Deserialize)]
pub struct PushQuery {
    signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
    encrypt_type: Option<String>,
    msg_signature: Option<String>,
}

fn counted(result: &'static str) {
    metrics::counter!("lottery_wechat_pushes_total", "result" => result).increment(1);
}

/// A push that is not WeChat's: changes nothing, logged (without what it
/// carried) and counted.
fn refused(why: &'static str) -> AppError {
    tracing::warn!(why, "a message push was refused");
    counted("refused");
    AppError::Unauthorized("the push's signature does not verify".into())
}

fn token(state: &AppState) -> AppResult<&str> {
    state
        .media
        .settings
        .push_token
        .as_ref()
        .map(|t| t.expose())
        .ok_or_else(|| AppError::NotFound("the message push is not configured here".into()))
}

/// How far a push's timestamp may be from this server's clock: a signature
/// (which covers the timestamp, not the body) cannot be replayed later.
const FRESH_SECS: i64 = 300;

/// `signature` is SHA-1 of the sorted (Token, timestamp, nonce), and the
/// timestamp is within `FRESH_SECS` of now.
fn signed(token: &str, q: &PushQuery, extra: Option<&str>, got: Option<&String>) -> bool {
    let (Some(timestamp), Some(nonce), Some(got)) = (&q.timestamp, &q.nonce, got) else {
        return false;
    };
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= FRESH_SECS);
    if !fresh {
        return false;
    }
    let mut parts = vec![timestamp.as_str(), nonce.as_str()];
    parts.extend(extra);
    push::signature_matches(&push::signature(token, &parts), got)
}

/// The console's check of the URL: `echostr` back, as plain text, when the
/// signature verifies.
#[utoipa::path(get, path = "/api/v1/wechat/push", operation_id = "wechat_push_verify", tag = "wechat",
    params(
        ("signature" = String, Query, description = "SHA-1 of the sorted Token, timestamp and nonce"),
        ("timestamp" = String, Query), ("nonce" = String, Query),
        ("echostr" = String, Query, description = "answered back when the signature verifies"),
    ),
    responses(
        (status = 200, description = "echostr, as text/plain", content_type = "text/plain", body = String),
        (status = 401, description = "40100: the signature does not verify", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: LOTTERY_WECHAT_PUSH_TOKEN is not set", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn verify(
    state: web::Data<AppState>,
    query: web::Query<PushQuery>,
) -> AppResult<HttpResponse> {
    let token = token(&state)?;
    if !signed(token, &query, None, query.signature.as_ref()) {
        return Err(refused("bad signature on the URL check"));
    }
    counted("verified");
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(query.echostr.clone().unwrap_or_default()))
}

/// An event from WeChat. Answered `success` once what it says is stored
/// (within WeChat's 5 s: one row update); what follows from it (deleting a
/// rejected image's files, refreshing the pages that show it) is done after.
#[utoipa::path(post, path = "/api/v1/wechat/push", operation_id = "wechat_push", tag = "wechat",
    params(
        ("signature" = String, Query), ("timestamp" = String, Query), ("nonce" = String, Query),
        ("encrypt_type" = Option<String>, Query, description = "`aes` in safe mode"),
        ("msg_signature" = Option<String>, Query, description = "safe mode: SHA-1 of the sorted Token, timestamp, nonce and Encrypt"),
    ),
    request_body(content = String, description = "the event, JSON or XML; in safe mode an envelope holding it encrypted"),
    responses(
        (status = 200, description = "`success`, as text/plain", content_type = "text/plain", body = String),
        (status = 400, description = "40000: not a push this server can read", body = crate::api::envelope::ErrorEnvelope),
        (status = 401, description = "40100: the signature does not verify", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "40400: LOTTERY_WECHAT_PUSH_TOKEN is not set", body = crate::api::envelope::ErrorEnvelope),
    ))]
pub async fn receive(
    state: web::Data<AppState>,
    query: web::Query<PushQuery>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let token = token(&state)?;
    // The push is public and read before its signature is checked: read
    // it as every JSON body is, within 16 KiB and its deadlines (408 after).
    let body = crate::api::body::read_limited(&mut payload.into_inner(), state.config.body).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| AppError::InvalidArgument("the push is not UTF-8 text".into()))?;
    let clear = if query.encrypt_type.as_deref() == Some("aes") {
        let Some(key) = state.media.push_key.as_ref() else {
            return Err(refused(
                "a safe-mode push, and no LOTTERY_WECHAT_PUSH_AES_KEY",
            ));
        };
        let unreadable = |e: push::PushError| {
            counted("unreadable");
            AppError::InvalidArgument(format!("the push cannot be read: {e}"))
        };
        let encrypt = push::parse_envelope(text).map_err(unreadable)?;
        // Safe mode is verified by msg_signature over the ciphertext, and
        // before decrypting: CBC alone would answer tampering with padding
        // errors (WeChat: "不要使用signature验证").
        if !signed(token, &query, Some(&encrypt), query.msg_signature.as_ref()) {
            return Err(refused("bad msg_signature"));
        }
        let appid = state.config.wechat_appid.as_deref().unwrap_or_default();
        key.decrypt(&encrypt, appid).map_err(unreadable)?
    } else {
        // With an EncodingAESKey set, the console is in safe mode: a plain
        // push (whose signature does not cover the body) is not WeChat's.
        if state.media.push_key.is_some() {
            return Err(refused("a plain push while safe mode is configured"));
        }
        if !signed(token, &query, None, query.signature.as_ref()) {
            return Err(refused("bad signature"));
        }
        text.to_string()
    };
    match push::parse_push(&clear) {
        Ok(Push::MediaCheck(verdict)) => {
            counted("media_check");
            image_verdicts::apply(&state, verdict).await?;
        }
        Ok(Push::Other { event }) => {
            counted("other");
            tracing::info!(
                event = event.as_deref().unwrap_or("message"),
                "a push this server does not act on"
            );
        }
        Err(e) => {
            counted("unreadable");
            return Err(AppError::InvalidArgument(format!(
                "the push cannot be read: {e}"
            )));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("success"))
}
