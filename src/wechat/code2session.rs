//! `sns/jscode2session`: a mini-program login code → openid + session_key.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html>

use serde::Deserialize;

use super::figures::Call;
use super::WechatClient;
use crate::error::{AppError, AppResult};
use crate::secret::Secret;

/// Who WeChat says the user is. `session_key` never leaves the server.
pub struct WxSession {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: Secret,
}

/// WeChat's answer. No Debug: it carries the session_key.
#[derive(Deserialize)]
struct Answer {
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

enum Attempt {
    Done(AppResult<WxSession>),
    /// errcode -1: WeChat is busy; worth one more try.
    Busy,
}

fn upstream(what: &str) -> AppError {
    AppError::Upstream(format!("WeChat login failed: {what}"))
}

/// The contract's answer for a WeChat errcode.
fn map_errcode(errcode: i64) -> AppError {
    if matches!(errcode, 40029 | 40163 | 40226 | 45011) {
        metrics::counter!("lottery_wechat_logins_refused_total", "errcode" => errcode.to_string())
            .increment(1);
    }
    match errcode {
        40029 | 40163 => AppError::WechatLoginRejected(
            "WeChat rejected the login code: it is invalid, expired or already used".into(),
        ),
        40226 => AppError::Forbidden(
            "WeChat refused this login: it rates the account as high-risk (errcode 40226)".into(),
        ),
        45011 => AppError::RateLimited {
            message: "too many logins for this user; try again in a minute".into(),
            retry_after_secs: 60,
        },
        other => upstream(&format!("WeChat answered errcode {other}")),
    }
}

impl WechatClient {
    pub async fn code_to_session(&self, code: &str) -> AppResult<WxSession> {
        match self.exchange(code).await {
            Attempt::Done(result) => result,
            Attempt::Busy => match self.exchange(code).await {
                Attempt::Done(result) => result,
                Attempt::Busy => Err(upstream("WeChat is busy (errcode -1)")),
            },
        }
    }

    async fn exchange(&self, code: &str) -> Attempt {
        let call = Call::start("jscode2session");
        let sent = self
            .http
            .get(format!("{}/sns/jscode2session", self.base))
            .query(&[
                ("appid", self.appid.as_str()),
                ("secret", self.secret.expose()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // The URL holds the secret: never let it into a message or a log.
            Err(err) if err.is_timeout() => {
                call.failed(&err);
                return Attempt::Done(Err(upstream("WeChat did not answer in time")));
            }
            Err(err) => {
                call.failed(&err);
                tracing::warn!(error = %err.without_url(), "jscode2session request failed");
                return Attempt::Done(Err(upstream("WeChat could not be reached")));
            }
        };
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), "jscode2session answered an HTTP error");
            call.http_error();
            return Attempt::Done(Err(upstream("WeChat answered an HTTP error")));
        }
        let answer: Answer = match response.json().await {
            Ok(a) => a,
            Err(err) if err.is_timeout() => {
                call.failed(&err);
                return Attempt::Done(Err(upstream("WeChat did not answer in time")));
            }
            Err(_) => {
                call.bad_answer();
                return Attempt::Done(Err(upstream(
                    "WeChat answered something that is not the expected JSON",
                )));
            }
        };
        call.answered(answer.errcode.unwrap_or(0));
        match answer.errcode.unwrap_or(0) {
            0 => Attempt::Done(match (answer.openid, answer.session_key) {
                (Some(openid), Some(session_key)) if !openid.is_empty() => Ok(WxSession {
                    openid,
                    unionid: answer.unionid.filter(|u| !u.is_empty()),
                    session_key: Secret::new(session_key),
                }),
                _ => Err(upstream("WeChat's answer lacks openid or session_key")),
            }),
            -1 => Attempt::Busy,
            errcode => {
                tracing::warn!(
                    errcode,
                    errmsg = answer.errmsg.as_deref().unwrap_or(""),
                    "jscode2session refused"
                );
                Attempt::Done(Err(map_errcode(errcode)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::map_errcode;

    #[test]
    fn errcodes_map_to_the_contract() {
        assert_eq!(map_errcode(40029).code(), 40101);
        assert_eq!(map_errcode(40163).code(), 40101);
        assert_eq!(map_errcode(40226).code(), 40300);
        assert_eq!(map_errcode(45011).code(), 42900);
        assert_eq!(map_errcode(40013).code(), 50200);
    }
}
