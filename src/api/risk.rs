//! WeChat's fraud check for a join to a `risk_check` event (docs/API-NOTES.md,
//! "Join rules"): the user's rank from this process, Redis, or WeChat, in
//! that order; a rank at or above `LOTTERY_RISK_MAX_RANK` is refused. What
//! a join gets when WeChat does not answer is `LOTTERY_RISK_ON_ERROR`'s.

use std::net::IpAddr;

use super::state::AppState;
use crate::config::OnError;
use crate::error::{AppError, AppResult};
use crate::store;
use crate::wechat::risk::RiskAnswer;

/// Whether a rank passes.
fn passes(state: &AppState, rank: u8) -> bool {
    rank < state.config.risk.max_rank
}

/// The verdict this process knows without waiting on anything.
pub fn known(state: &AppState, user_id: i64) -> Option<bool> {
    state
        .risk_ranks
        .known(user_id)
        .map(|rank| passes(state, rank))
}

/// The verdict, asking Redis and then WeChat when need be.
pub async fn verdict(state: &AppState, user_id: i64, client_ip: IpAddr) -> AppResult<bool> {
    if let Some(rank) = state.risk_ranks.lookup(user_id).await {
        return Ok(passes(state, rank));
    }
    match ask_wechat(state, user_id, client_ip).await? {
        Ok(rank) => {
            metrics::counter!("lottery_risk_checks_total", "result" => "rated").increment(1);
            state.risk_ranks.remember(user_id, rank).await;
            Ok(passes(state, rank))
        }
        Err((reason, detail)) => {
            metrics::counter!("lottery_risk_checks_total", "result" => "unavailable", "reason" => reason)
                .increment(1);
            match state.config.risk.on_error {
                OnError::Allow => {
                    tracing::warn!(user_id, %detail, "fraud check unavailable; join let through");
                    Ok(true)
                }
                OnError::Refuse => {
                    tracing::warn!(user_id, %detail, "fraud check unavailable; join refused");
                    Err(AppError::Upstream(
                        "WeChat's fraud check is unavailable; try again shortly".into(),
                    ))
                }
            }
        }
    }
}

/// One ask, with the token replaced once if WeChat refuses it: the rank,
/// or why there is none (a short reason for the metric, a detail for the
/// log).
async fn ask_wechat(
    state: &AppState,
    user_id: i64,
    client_ip: IpAddr,
) -> AppResult<Result<u8, (String, String)>> {
    let (Some(tokens), Some(api)) = (&state.tokens, &state.wechat) else {
        return Ok(Err((
            "not_configured".into(),
            "the WeChat app is not configured".into(),
        )));
    };
    let openid = store::users::get(&state.db, user_id).await?.openid;
    for _ in 0..2 {
        let token = match tokens.get().await {
            Ok(token) => token,
            Err(err) => return Ok(Err(("token".into(), err.to_string()))),
        };
        match api.user_risk_rank(&token, &openid, client_ip).await {
            RiskAnswer::Rank(rank) => return Ok(Ok(rank)),
            RiskAnswer::Failed { reason, detail } => return Ok(Err((reason, detail))),
            RiskAnswer::TokenRefused => tokens.invalidate(&token).await,
        }
    }
    Ok(Err((
        "token".into(),
        "a fresh access token was refused".into(),
    )))
}
