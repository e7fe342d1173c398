//! `wxa/getwxacodeunlimit`: the mini-program code (小程序码) of a page with
//! a scene, for an event's share poster. On success WeChat answers the
//! image's bytes; on failure a JSON body with an errcode.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html>

use serde::Deserialize;

use super::token::AccessTokens;
use super::{token_refused, upstream};
use crate::config::ShareSettings;
use crate::error::{AppError, AppResult};

/// The code's width in pixels (WeChat's default; 280 to 1280 allowed).
const WIDTH: u32 = 430;

#[derive(Deserialize)]
struct Failure {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// The code of `settings.page` carrying `scene` (at most 32 characters of
/// WeChat's set: the caller's to make so). Its bytes as WeChat sent them.
pub async fn getwxacodeunlimit(
    tokens: &AccessTokens,
    scene: &str,
    settings: &ShareSettings,
) -> AppResult<Vec<u8>> {
    let mut refused_once = false;
    loop {
        let token = tokens.get().await?;
        let sent = tokens
            .client()
            .http
            .post(format!("{}/wxa/getwxacodeunlimit", tokens.client().base))
            .query(&[("access_token", token.as_str())])
            .json(&serde_json::json!({
                "scene": scene,
                "page": settings.page,
                "check_path": settings.check_path,
                "env_version": settings.env_version,
                "width": WIDTH,
            }))
            .send()
            .await
            .map_err(|e| upstream("getwxacodeunlimit", &e.without_url().to_string()))?;
        if !sent.status().is_success() {
            return Err(upstream(
                "getwxacodeunlimit",
                &format!("HTTP {}", sent.status()),
            ));
        }
        let json = sent
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json") || v.starts_with("text/"));
        let bytes = sent
            .bytes()
            .await
            .map_err(|e| upstream("getwxacodeunlimit", &e.without_url().to_string()))?;
        // An image is judged by its bytes too: a JSON error never starts
        // with an image signature, whatever the content type says.
        let image = bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
        if image && !json {
            return Ok(bytes.to_vec());
        }
        let failure: Failure = serde_json::from_slice(&bytes).map_err(|_| {
            upstream(
                "getwxacodeunlimit",
                "an answer that is neither an image nor JSON",
            )
        })?;
        let errcode = failure.errcode.unwrap_or(0);
        if token_refused(errcode) && !refused_once {
            refused_once = true;
            tokens.invalidate(&token).await;
            continue;
        }
        let errmsg = failure.errmsg.unwrap_or_default();
        tracing::warn!(errcode, errmsg, "WeChat refused to make a share code");
        return Err(match errcode {
            // 45009: the call rate limit (per minute) or the daily quota.
            45009 => AppError::Unavailable(
                "WeChat's share-code quota is used up for now; try again later".into(),
            ),
            // 41030: the page does not exist in the published version
            // (or check_path refused a page of a version not released).
            41030 => AppError::Upstream(
                "WeChat does not know the share page: it must be a page of the published \
                 mini-program (LOTTERY_WECHAT_SHARE_PAGE, LOTTERY_WECHAT_SHARE_CHECK_PATH)"
                    .into(),
            ),
            // 40129: the scene is not one WeChat takes.
            40129 => AppError::Upstream("WeChat refused the share code's scene".into()),
            _ => upstream("getwxacodeunlimit", &format!("errcode {errcode} {errmsg}")),
        });
    }
}
