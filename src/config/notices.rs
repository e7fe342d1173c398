//! The result notices' settings: the template, its page and fields.

use std::time::Duration;

use super::parse::Vars;
use crate::domain::notice::{FieldMap, DEFAULT_FIELDS};

/// How result notices are sent (docs/NOTIFICATIONS.md).
#[derive(Clone, Debug)]
pub struct NoticeSettings {
    pub template_id: String,
    /// The mini-program page a notice opens; `{id}` becomes the event id.
    pub page: String,
    pub fields: FieldMap,
    /// `formal`, `trial` or `developer`: which version of the mini-program
    /// the notice opens.
    pub miniprogram_state: String,
    /// Messages per second, all instances together when Redis is
    /// configured (each instance alone otherwise).
    pub rate: u32,
    /// How long a claimed notice is held before another sender may take it.
    pub claim: Duration,
    /// Sends tried before a notice that keeps failing transiently is
    /// recorded as failed.
    pub max_attempts: u32,
}

/// The notice settings: all of them or none. Notices need the WeChat app
/// and a template; a notice setting without the template is a mistake,
/// said at start rather than found when no message arrives.
pub(super) fn notice_settings(
    vars: &Vars,
    template_id: Option<String>,
    has_app: bool,
) -> Result<Option<NoticeSettings>, String> {
    let rate = vars.number("LOTTERY_NOTIFY_RATE", 200, 1..=100_000)? as u32;
    let claim = Duration::from_secs(vars.number("LOTTERY_NOTIFY_CLAIM_SECS", 60, 2..=3600)?);
    let max_attempts = vars.number("LOTTERY_NOTIFY_MAX_ATTEMPTS", 12, 1..=100)? as u32;
    let Some(template_id) = template_id else {
        for key in [
            "LOTTERY_WECHAT_RESULT_PAGE",
            "LOTTERY_WECHAT_RESULT_FIELDS",
            "LOTTERY_WECHAT_MINIPROGRAM_STATE",
        ] {
            if vars.get(key).is_some() {
                return Err(format!(
                    "{key} needs LOTTERY_WECHAT_RESULT_TEMPLATE_ID: without a template no notice is sent"
                ));
            }
        }
        return Ok(None);
    };
    if !has_app {
        return Err(
            "LOTTERY_WECHAT_RESULT_TEMPLATE_ID needs LOTTERY_WECHAT_APPID and \
             LOTTERY_WECHAT_SECRET: notices are sent as the mini-program"
                .into(),
        );
    }
    let page = vars
        .get("LOTTERY_WECHAT_RESULT_PAGE")
        .unwrap_or_else(|| DEFAULT_RESULT_PAGE.into());
    if page.starts_with('/') || page.contains("://") || page.len() > 512 {
        return Err(format!(
            "LOTTERY_WECHAT_RESULT_PAGE is a mini-program page path like {DEFAULT_RESULT_PAGE}, got {page:?}"
        ));
    }
    let fields = FieldMap::parse(
        &vars
            .get("LOTTERY_WECHAT_RESULT_FIELDS")
            .unwrap_or_else(|| DEFAULT_FIELDS.into()),
    )
    .map_err(|e| format!("LOTTERY_WECHAT_RESULT_FIELDS: {e}"))?;
    let miniprogram_state = vars
        .get("LOTTERY_WECHAT_MINIPROGRAM_STATE")
        .unwrap_or_else(|| "formal".into());
    if !["formal", "trial", "developer"].contains(&miniprogram_state.as_str()) {
        return Err(format!(
            "LOTTERY_WECHAT_MINIPROGRAM_STATE must be formal, trial or developer, got {miniprogram_state:?}"
        ));
    }
    Ok(Some(NoticeSettings {
        template_id,
        page,
        fields,
        miniprogram_state,
        rate,
        claim,
        max_attempts,
    }))
}

/// The page a notice opens unless `LOTTERY_WECHAT_RESULT_PAGE` says otherwise.
pub const DEFAULT_RESULT_PAGE: &str = "pages/event/index?id={id}";
