//! `wxa/media_check_async` (version 2): WeChat's asynchronous check of an
//! image a user publishes. The answer is only a `trace_id`; the verdict
//! arrives later as the `wxa_media_check` event at the message push URL
//! (`wechat::push`, `api::handlers::push`).
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/sec-check/mediaCheckAsync.html>

use serde::Deserialize;

use super::token::AccessTokens;
use super::{token_refused, upstream};
use crate::error::AppResult;

/// `media_type` 2: an image (1 is audio).
const MEDIA_IMAGE: u8 = 2;

/// Scene 3 (论坛, posts others read), as for an event's text
/// (`wechat::content`): covers and prize pictures are published to
/// everyone the creator shares the event with.
const SCENE_PUBLISHED_POST: u8 = 3;

#[derive(Deserialize)]
struct Answer {
    errcode: Option<i64>,
    errmsg: Option<String>,
    trace_id: Option<String>,
}

/// Asks WeChat to check the image at `media_url` (which WeChat downloads),
/// uploaded by `openid`; the check's `trace_id`.
pub async fn media_check_async(
    tokens: &AccessTokens,
    openid: &str,
    media_url: &str,
) -> AppResult<String> {
    let mut refused_once = false;
    loop {
        let token = tokens.get().await?;
        let sent = tokens
            .client()
            .http
            .post(format!("{}/wxa/media_check_async", tokens.client().base))
            .query(&[("access_token", token.as_str())])
            .json(&serde_json::json!({
                "media_url": media_url,
                "media_type": MEDIA_IMAGE,
                "version": 2,
                "scene": SCENE_PUBLISHED_POST,
                "openid": openid,
            }))
            .send()
            .await
            .map_err(|e| upstream("media_check_async", &e.without_url().to_string()))?;
        if !sent.status().is_success() {
            return Err(upstream(
                "media_check_async",
                &format!("HTTP {}", sent.status()),
            ));
        }
        let answer: Answer = sent.json().await.map_err(|_| {
            upstream(
                "media_check_async",
                "an answer that is not the expected JSON",
            )
        })?;
        let errcode = answer.errcode.unwrap_or(0);
        if token_refused(errcode) && !refused_once {
            refused_once = true;
            tokens.invalidate(&token).await;
            continue;
        }
        if errcode != 0 {
            return Err(upstream(
                "media_check_async",
                &format!("errcode {errcode} {}", answer.errmsg.unwrap_or_default()),
            ));
        }
        return answer
            .trace_id
            .filter(|t| !t.is_empty())
            .ok_or_else(|| upstream("media_check_async", "an answer without a trace_id"));
    }
}
