//! WeChat's fraud check at join (docs/API-NOTES.md, "Join rules").

use std::time::Duration;

use super::parse::Vars;

/// How `risk_check` events judge their joiners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskSettings {
    /// Ranks at or above this are refused (WeChat's ranks run 0 to 4).
    pub max_rank: u8,
    /// How long a user's rank is kept (shared by instances with Redis).
    pub keep: Duration,
    /// What a join gets when WeChat does not answer: let through (and
    /// counted) or refused with 502.
    pub on_error: OnError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    Allow,
    Refuse,
}

pub(super) fn risk_settings(vars: &Vars) -> Result<RiskSettings, String> {
    let max_rank = vars.number("LOTTERY_RISK_MAX_RANK", 3, 1..=4)? as u8;
    let keep =
        Duration::from_secs(vars.number("LOTTERY_RISK_KEEP_SECS", 86_400, 60..=30 * 86_400)?);
    let on_error = match vars.get("LOTTERY_RISK_ON_ERROR").as_deref() {
        None | Some("allow") => OnError::Allow,
        Some("refuse") => OnError::Refuse,
        Some(other) => {
            return Err(format!(
                "LOTTERY_RISK_ON_ERROR must be allow or refuse, got {other:?}"
            ))
        }
    };
    Ok(RiskSettings {
        max_rank,
        keep,
        on_error,
    })
}
