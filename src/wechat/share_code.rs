//! `wxa/getwxacodeunlimit`: the mini-program code (小程序码) of a page with
//! a scene, for an event's share poster. On success WeChat answers the
//! image's bytes; on failure a JSON body with an errcode.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html>

use super::call::{self, Answer};
use super::token::AccessTokens;
use super::upstream;
use crate::config::ShareSettings;
use crate::error::{AppError, AppResult};

const API: &str = "getwxacodeunlimit";

/// The code's width in pixels (WeChat's default; 280 to 1280 allowed).
const WIDTH: u32 = 430;

/// The code of `settings.page` carrying `scene` (at most 32 characters of
/// WeChat's set: the caller's to make so). Its bytes as WeChat sent them.
pub async fn getwxacodeunlimit(
    tokens: &AccessTokens,
    scene: &str,
    settings: &ShareSettings,
) -> AppResult<Vec<u8>> {
    let body = serde_json::json!({
        "scene": scene,
        "page": settings.page,
        "check_path": settings.check_path,
        "env_version": settings.env_version,
        "width": WIDTH,
    });
    let json = match call::post(tokens, API, "wxa/getwxacodeunlimit", &body).await? {
        Answer::File(image) => return Ok(image.to_vec()),
        Answer::Json(json) => json,
    };
    let errcode = call::errcode_of(&json);
    let errmsg = json["errmsg"].as_str().unwrap_or_default();
    tracing::warn!(errcode, errmsg, "WeChat refused to make a share code");
    Err(match errcode {
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
        // 40129: characters WeChat does not take; 40169: too long.
        40129 | 40169 => AppError::Upstream("WeChat refused the share code's scene".into()),
        0 => upstream(API, "a JSON answer without an image"),
        _ => upstream(API, &format!("errcode {errcode} {errmsg}")),
    })
}
