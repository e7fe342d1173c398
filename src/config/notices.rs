//! The notices' settings: the templates, their page and fields.

use std::time::Duration;

use super::parse::Vars;
use crate::domain::notice::{FieldMap, Purpose, DEFAULT_CLAIM_FIELDS, DEFAULT_FIELDS};

/// One subscribe-message template and which of its keys carries what.
#[derive(Clone, Debug)]
pub struct Template {
    pub id: String,
    pub fields: FieldMap,
}

/// How notices are sent (docs/NOTIFICATIONS.md). At least one template is
/// set, else there are no settings at all.
#[derive(Clone, Debug)]
pub struct NoticeSettings {
    /// Results and cancellations (`LOTTERY_WECHAT_RESULT_TEMPLATE_ID`).
    pub result: Option<Template>,
    /// Claim reminders (`LOTTERY_WECHAT_CLAIM_TEMPLATE_ID`).
    pub reminder: Option<Template>,
    /// The mini-program page a notice opens; `{id}` becomes the event id.
    pub page: String,
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
/// and a template; a notice setting without its template is a mistake,
/// said at start rather than found when no message arrives.
pub(super) fn notice_settings(
    vars: &Vars,
    has_app: bool,
) -> Result<Option<NoticeSettings>, String> {
    let rate = vars.number("LOTTERY_NOTIFY_RATE", 200, 1..=100_000)? as u32;
    let claim = Duration::from_secs(vars.number("LOTTERY_NOTIFY_CLAIM_SECS", 60, 2..=3600)?);
    let max_attempts = vars.number("LOTTERY_NOTIFY_MAX_ATTEMPTS", 12, 1..=100)? as u32;
    let result = template(
        vars,
        "LOTTERY_WECHAT_RESULT_TEMPLATE_ID",
        "LOTTERY_WECHAT_RESULT_FIELDS",
        DEFAULT_FIELDS,
        Purpose::Result,
    )?;
    let reminder = template(
        vars,
        "LOTTERY_WECHAT_CLAIM_TEMPLATE_ID",
        "LOTTERY_WECHAT_CLAIM_FIELDS",
        DEFAULT_CLAIM_FIELDS,
        Purpose::ClaimReminder,
    )?;
    if result.is_none() && reminder.is_none() {
        for key in [
            "LOTTERY_WECHAT_RESULT_PAGE",
            "LOTTERY_WECHAT_MINIPROGRAM_STATE",
        ] {
            if vars.get(key).is_some() {
                return Err(format!(
                    "{key} needs LOTTERY_WECHAT_RESULT_TEMPLATE_ID or \
                     LOTTERY_WECHAT_CLAIM_TEMPLATE_ID: without a template no notice is sent"
                ));
            }
        }
        return Ok(None);
    }
    if !has_app {
        let key = if result.is_some() {
            "LOTTERY_WECHAT_RESULT_TEMPLATE_ID"
        } else {
            "LOTTERY_WECHAT_CLAIM_TEMPLATE_ID"
        };
        return Err(format!(
            "{key} needs LOTTERY_WECHAT_APPID and LOTTERY_WECHAT_SECRET: \
             notices are sent as the mini-program"
        ));
    }
    let page = vars
        .get("LOTTERY_WECHAT_RESULT_PAGE")
        .unwrap_or_else(|| DEFAULT_RESULT_PAGE.into());
    if page.starts_with('/') || page.contains("://") || page.len() > 512 {
        return Err(format!(
            "LOTTERY_WECHAT_RESULT_PAGE is a mini-program page path like {DEFAULT_RESULT_PAGE}, got {page:?}"
        ));
    }
    let miniprogram_state = vars
        .get("LOTTERY_WECHAT_MINIPROGRAM_STATE")
        .unwrap_or_else(|| "formal".into());
    if !["formal", "trial", "developer"].contains(&miniprogram_state.as_str()) {
        return Err(format!(
            "LOTTERY_WECHAT_MINIPROGRAM_STATE must be formal, trial or developer, got {miniprogram_state:?}"
        ));
    }
    Ok(Some(NoticeSettings {
        result,
        reminder,
        page,
        miniprogram_state,
        rate,
        claim,
        max_attempts,
    }))
}

/// One template's id and field map; the field map without the id is a
/// mistake.
fn template(
    vars: &Vars,
    id_key: &str,
    fields_key: &str,
    default_fields: &str,
    purpose: Purpose,
) -> Result<Option<Template>, String> {
    let Some(id) = vars.get(id_key) else {
        if vars.get(fields_key).is_some() {
            return Err(format!(
                "{fields_key} needs {id_key}: without a template no notice is sent"
            ));
        }
        return Ok(None);
    };
    let fields = FieldMap::parse(
        &vars
            .get(fields_key)
            .unwrap_or_else(|| default_fields.into()),
        purpose,
    )
    .map_err(|e| format!("{fields_key}: {e}"))?;
    Ok(Some(Template { id, fields }))
}

/// The page a notice opens unless `LOTTERY_WECHAT_RESULT_PAGE` says otherwise.
pub const DEFAULT_RESULT_PAGE: &str = "pages/event/index?id={id}";
