//! `wxa/getuserriskrank`: WeChat's rating of how likely a user is a bot or
//! a fraud farm's account, for scene 1 (营销作弊, marketing fraud: what a
//! lottery suffers). Documented at
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/sec-center/safety-control-capability/wxaapi_getuserriskrank.html>:
//! POST with the access token; body `appid`, `openid`, `scene`, `client_ip`
//! (the user's address, required); answer `errcode`, `errmsg`,
//! `risk_rank` 0 to 4 (higher is riskier).

use std::net::IpAddr;

use serde::Deserialize;

use super::figures::Call;
use super::{token_refused, WechatClient};

/// Marketing fraud, in WeChat's scene numbers (0 registration, 2 UGC).
const SCENE_MARKETING_FRAUD: u8 = 1;

/// What one ask gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RiskAnswer {
    Rank(u8),
    /// The access token was refused: drop it and ask again.
    TokenRefused,
    /// No rank: `reason` is short (a metric label), `detail` for the log.
    Failed {
        reason: String,
        detail: String,
    },
}

#[derive(Deserialize)]
struct Answer {
    errcode: Option<i64>,
    errmsg: Option<String>,
    risk_rank: Option<i64>,
}

impl WechatClient {
    pub async fn user_risk_rank(&self, token: &str, openid: &str, client_ip: IpAddr) -> RiskAnswer {
        let failed = |reason: &str, detail: String| RiskAnswer::Failed {
            reason: reason.into(),
            detail,
        };
        let call = Call::start("getuserriskrank");
        let sent = self
            .http
            .post(format!("{}/wxa/getuserriskrank", self.base))
            .query(&[("access_token", token)])
            .json(&serde_json::json!({
                "appid": self.appid,
                "openid": openid,
                "scene": SCENE_MARKETING_FRAUD,
                "client_ip": client_ip.to_string(),
            }))
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // The URL holds the token: never let it into a message.
            Err(err) if err.is_timeout() => {
                call.failed(&err);
                return failed("timeout", "no answer in time".into());
            }
            Err(err) => {
                call.failed(&err);
                return failed("unreachable", err.without_url().to_string());
            }
        };
        if !response.status().is_success() {
            call.http_error();
            return failed("http", format!("HTTP {}", response.status()));
        }
        let Ok(answer) = response.json::<Answer>().await else {
            call.bad_answer();
            return failed(
                "bad_answer",
                "an answer that is not the expected JSON".into(),
            );
        };
        call.answered(answer.errcode.unwrap_or(0));
        match (answer.errcode.unwrap_or(0), answer.risk_rank) {
            (0, Some(rank @ 0..=4)) => RiskAnswer::Rank(rank as u8),
            (0, other) => failed("bad_answer", format!("risk_rank {other:?}")),
            (code, _) if token_refused(code) => RiskAnswer::TokenRefused,
            (code, _) => failed(
                &code.to_string(),
                format!(
                    "errcode {code}: {}",
                    answer.errmsg.as_deref().unwrap_or_default()
                ),
            ),
        }
    }
}
