//! `cgi-bin/message/subscribe/send`: one subscribe message to one user.
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html>

use serde::Deserialize;

use super::figures::Call;
use super::token_refused;
use super::WechatClient;

/// What became of one send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// The access token was refused: drop it and send again.
    TokenRefused,
    /// Worth trying again later: WeChat busy, a timeout, a 5xx, a quota
    /// that resets. `reason` is short and goes into metrics labels.
    Transient {
        reason: String,
        detail: String,
    },
    /// Will never succeed: recorded and not tried again.
    Permanent {
        reason: String,
        detail: String,
    },
}

#[derive(Deserialize)]
struct Answer {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// How an errcode is treated.
pub fn classify(errcode: i64, errmsg: &str) -> Delivery {
    let reason = errcode.to_string();
    let detail = format!("errcode {errcode}: {errmsg}");
    match errcode {
        0 => Delivery::Sent,
        code if token_refused(code) => Delivery::TokenRefused,
        // 43101: the user has no subscription left (refused, or used up);
        // 40003: not a user of this app; 47003: the template data breaks
        // the template's rules; 40037: no such template.
        43101 | 40003 | 47003 | 40037 => Delivery::Permanent { reason, detail },
        // -1 busy, 45009 the daily quota (resets), anything unknown: retried
        // with backoff until the attempts run out.
        _ => Delivery::Transient { reason, detail },
    }
}

/// One message: who, which template, where it leads, what it says.
pub struct Message<'a> {
    pub touser: &'a str,
    pub template_id: &'a str,
    pub page: &'a str,
    pub data: serde_json::Value,
    pub miniprogram_state: &'a str,
}

impl WechatClient {
    pub async fn send_subscribe(&self, token: &str, message: &Message<'_>) -> Delivery {
        let call = Call::start("subscribe_send");
        let sent = self
            .http
            .post(format!("{}/cgi-bin/message/subscribe/send", self.base))
            .query(&[("access_token", token)])
            .json(&serde_json::json!({
                "touser": message.touser,
                "template_id": message.template_id,
                "page": message.page,
                "data": message.data,
                "miniprogram_state": message.miniprogram_state,
                "lang": "zh_CN",
            }))
            .send()
            .await;
        let transient = |reason: &str, detail: String| Delivery::Transient {
            reason: reason.into(),
            detail,
        };
        let response = match sent {
            Ok(r) => r,
            // The URL holds the token: never let it into a message or a log.
            Err(err) if err.is_timeout() => {
                call.failed(&err);
                return transient("timeout", "WeChat did not answer in time".into());
            }
            Err(err) => {
                call.failed(&err);
                return transient("unreachable", err.without_url().to_string());
            }
        };
        let status = response.status();
        if !status.is_success() {
            call.http_error();
            return transient("http", format!("HTTP {status}"));
        }
        match response.json::<Answer>().await {
            Ok(answer) => {
                let errcode = answer.errcode.unwrap_or(0);
                call.answered(errcode);
                classify(errcode, answer.errmsg.as_deref().unwrap_or(""))
            }
            Err(err) if err.is_timeout() => {
                call.failed(&err);
                transient("timeout", "WeChat did not answer in time".into())
            }
            Err(_) => {
                call.bad_answer();
                transient(
                    "bad_answer",
                    "an answer that is not the expected JSON".into(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcodes_sort_into_retry_or_not() {
        assert_eq!(classify(0, "ok"), Delivery::Sent);
        for code in [40001, 40014, 42001] {
            assert_eq!(classify(code, ""), Delivery::TokenRefused);
        }
        for code in [43101, 40003, 47003, 40037] {
            assert!(
                matches!(classify(code, ""), Delivery::Permanent { .. }),
                "{code}"
            );
        }
        for code in [-1, 45009, 99999] {
            assert!(
                matches!(classify(code, ""), Delivery::Transient { .. }),
                "{code}"
            );
        }
    }
}
