//! `wxa/media_check_async` (version 2): WeChat's asynchronous check of an
//! image a user publishes. The answer is only a `trace_id`; the verdict
//! arrives later as the `wxa_media_check` event at the message push URL
//! (`wechat::push`, `api::handlers::push`).
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/sec-check/mediaCheckAsync.html>

use serde::Deserialize;

use super::token::AccessTokens;
use super::{call, upstream};
use crate::error::AppResult;

/// `media_type` 2: an image (1 is audio).
const MEDIA_IMAGE: u8 = 2;

/// Scene 3 (论坛, posts others read), as for an event's text
/// (`wechat::content`): covers and prize pictures are published to
/// everyone the creator shares the event with.
const SCENE_PUBLISHED_POST: u8 = 3;

#[derive(Deserialize)]
struct Answer {
    trace_id: Option<String>,
}

/// Asks WeChat to check the image at `media_url` (which WeChat downloads),
/// uploaded by `openid`; the check's `trace_id`.
pub async fn media_check_async(
    tokens: &AccessTokens,
    openid: &str,
    media_url: &str,
) -> AppResult<String> {
    let body = serde_json::json!({
        "media_url": media_url,
        "media_type": MEDIA_IMAGE,
        "version": 2,
        "scene": SCENE_PUBLISHED_POST,
        "openid": openid,
    });
    let answer: Answer =
        call::post_json(tokens, "media_check_async", "wxa/media_check_async", &body).await?;
    answer
        .trace_id
        .filter(|t| !t.is_empty())
        .ok_or_else(|| upstream("media_check_async", "an answer without a trace_id"))
}
