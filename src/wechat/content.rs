//! `wxa/msg_sec_check` (version 2): WeChat's check of text a user publishes.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/sec-check/msgSecCheck.html>

use serde::Deserialize;

use super::token::AccessTokens;
use super::{call, upstream};
use crate::error::{AppError, AppResult};

/// Scene 3 (论坛, posts others read): an event's title and description are
/// published for everyone the creator shares it with.
const SCENE_PUBLISHED_POST: u8 = 3;
/// Scene 1 (资料): a user's own profile, whose nickname is shown to
/// everyone as creator, participant and winner.
const SCENE_PROFILE: u8 = 1;

/// What is checked.
#[derive(Clone, Copy, Debug)]
pub enum Text<'a> {
    /// An event: its title, and its description with the prizes' names.
    Post { title: &'a str, content: &'a str },
    /// A nickname (sent as the content and in the `nickname` field, which
    /// the documentation lists for scene 1).
    Nickname(&'a str),
}

/// WeChat's judgement of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Doubtful: allowed, and logged for a person to look at.
    Review {
        label: i64,
    },
    /// Refused.
    Risky {
        label: i64,
    },
}

#[derive(Deserialize)]
struct Answer {
    result: Option<Judgement>,
    trace_id: Option<String>,
}

#[derive(Deserialize)]
struct Judgement {
    suggest: String,
    label: Option<i64>,
}

/// The WeChat check of `title` and `content`, written by the user `openid`
/// (WeChat needs a user who opened the mini-program in the last two hours:
/// the creator, who just logged in). Errors are WeChat's failures; what to
/// do about them is the caller's policy.
pub async fn msg_sec_check(
    tokens: &AccessTokens,
    openid: &str,
    text: Text<'_>,
) -> AppResult<Verdict> {
    let body = match text {
        Text::Post { title, content } => serde_json::json!({
            "version": 2,
            "scene": SCENE_PUBLISHED_POST,
            "openid": openid,
            "title": title,
            "content": content,
        }),
        Text::Nickname(nickname) => serde_json::json!({
            "version": 2,
            "scene": SCENE_PROFILE,
            "openid": openid,
            "nickname": nickname,
            "content": nickname,
        }),
    };
    let answer: Answer =
        call::post_json(tokens, "msg_sec_check", "wxa/msg_sec_check", &body).await?;
    let Some(judgement) = answer.result else {
        return Err(upstream("msg_sec_check", "an answer without a result"));
    };
    let label = judgement.label.unwrap_or(0);
    let trace_id = answer.trace_id.unwrap_or_default();
    match judgement.suggest.as_str() {
        "pass" => Ok(Verdict::Pass),
        "review" => {
            tracing::info!(label, trace_id, "content check: review suggested; allowed");
            Ok(Verdict::Review { label })
        }
        "risky" => {
            tracing::info!(label, trace_id, "content check: risky; refused");
            Ok(Verdict::Risky { label })
        }
        other => Err(upstream(
            "msg_sec_check",
            &format!("an unknown suggestion {other:?}"),
        )),
    }
}

/// The policy around the check, for text about to be published: risky is
/// refused with 40000 and a plain message; review passes (logged above).
/// When WeChat cannot answer, the prod profile refuses (502: nothing
/// unchecked is published) and dev lets the text through with a warning,
/// so a developer's server works while WeChat is unreachable.
pub async fn screen(
    tokens: &AccessTokens,
    fail_closed: bool,
    openid: &str,
    text: Text<'_>,
) -> AppResult<()> {
    match msg_sec_check(tokens, openid, text).await {
        Ok(Verdict::Pass | Verdict::Review { .. }) => Ok(()),
        Ok(Verdict::Risky { .. }) => Err(AppError::InvalidArgument(match text {
            Text::Post { .. } => {
                "the title or description did not pass WeChat's content check; please reword it"
                    .into()
            }
            Text::Nickname(_) => {
                "the nickname did not pass WeChat's content check; please choose another".into()
            }
        })),
        Err(err) if fail_closed => {
            tracing::warn!(error = %err, "content check unavailable; refused (prod)");
            Err(AppError::Upstream(
                "WeChat's content check is unavailable; try again shortly".into(),
            ))
        }
        Err(err) => {
            tracing::warn!(error = %err, "content check unavailable; allowed (dev)");
            Ok(())
        }
    }
}
