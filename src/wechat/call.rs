//! One call to a WeChat API that carries the access token, as every such
//! API wants it: POST, the token in the query, a JSON body; a refused
//! token (40001, 40014, 42001) is dropped and the call made once more
//! with a fresh one. Errors never hold the URL (it holds the token).

use actix_web::web::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::figures::Call;
use super::token::AccessTokens;
use super::{token_refused, upstream};
use crate::error::{AppError, AppResult};

/// What WeChat answered: JSON (an `errcode` other than 0 in it is the
/// caller's to judge), or the bytes of a file (an image).
pub enum Answer {
    Json(Value),
    File(Bytes),
}

/// POSTs `body` to `path` (`wxa/msg_sec_check`): the answer, after at
/// most one token refresh. `api` names the call in errors.
pub async fn post(
    tokens: &AccessTokens,
    api: &'static str,
    path: &str,
    body: &Value,
) -> AppResult<Answer> {
    let mut refused_once = false;
    loop {
        let token = tokens.get().await?;
        let call = Call::start(api);
        let sent = match tokens
            .client()
            .http
            .post(format!("{}/{path}", tokens.client().base))
            .query(&[("access_token", token.as_str())])
            .json(body)
            .send()
            .await
        {
            Ok(sent) => sent,
            Err(e) => {
                call.failed(&e);
                return Err(upstream(api, &e.without_url().to_string()));
            }
        };
        if !sent.status().is_success() {
            call.http_error();
            return Err(upstream(api, &format!("HTTP {}", sent.status())));
        }
        let bytes = match sent.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                call.failed(&e);
                return Err(upstream(api, &e.without_url().to_string()));
            }
        };
        // A file is told by its bytes: WeChat's content types vary
        // (errors come as JSON labelled application/json or text/plain).
        if !bytes.trim_ascii_start().starts_with(b"{") {
            call.answered(0);
            return Ok(Answer::File(bytes));
        }
        let Ok(json) = serde_json::from_slice::<Value>(&bytes) else {
            call.bad_answer();
            return Err(upstream(api, "an answer that is not the expected JSON"));
        };
        let errcode = json["errcode"].as_i64().unwrap_or(0);
        call.answered(errcode);
        if token_refused(errcode) && !refused_once {
            refused_once = true;
            tokens.invalidate(&token).await;
            continue;
        }
        return Ok(Answer::Json(json));
    }
}

/// A JSON API's answer as `T`, when its errcode is 0; another errcode is
/// an upstream error naming it.
pub async fn post_json<T: DeserializeOwned>(
    tokens: &AccessTokens,
    api: &'static str,
    path: &str,
    body: &Value,
) -> AppResult<T> {
    let Answer::Json(json) = post(tokens, api, path, body).await? else {
        return Err(upstream(api, "a file where JSON was expected"));
    };
    let errcode = errcode_of(&json);
    if errcode != 0 {
        return Err(AppError::Upstream(format!(
            "WeChat {api} failed: errcode {errcode} {}",
            json["errmsg"].as_str().unwrap_or_default()
        )));
    }
    serde_json::from_value(json)
        .map_err(|_| upstream(api, "an answer that is not the expected JSON"))
}

/// An answer's errcode (0 when absent, as WeChat leaves it on success).
pub fn errcode_of(json: &Value) -> i64 {
    json["errcode"].as_i64().unwrap_or(0)
}
