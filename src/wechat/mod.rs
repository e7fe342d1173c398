//! The WeChat server API client (reqwest with rustls). Base URL, app id and
//! secret come from the configuration; tests point the base at a local mock.

pub mod call;
pub mod code2session;
pub mod content;
pub mod figures;
pub mod media_check;
pub mod open_data;
pub mod push;
pub mod risk;
pub mod share_code;
pub mod subscribe;
pub mod token;

use std::time::Duration;

use crate::config::Config;
use crate::error::AppError;
use crate::secret::Secret;

pub use code2session::WxSession;

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    appid: String,
    secret: Secret,
}

impl WechatClient {
    /// A client when the app id and secret are configured.
    pub fn from_config(config: &Config) -> Result<Option<Self>, String> {
        let (Some(appid), Some(secret)) = (&config.wechat_appid, &config.wechat_secret) else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(config.wechat_timeout)
            .connect_timeout(config.wechat_timeout.min(Duration::from_secs(3)))
            .user_agent(concat!("lottery/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the WeChat HTTP client: {e}"))?;
        Ok(Some(Self {
            http,
            base: config.wechat_api_base.trim_end_matches('/').to_string(),
            appid: appid.clone(),
            secret: secret.clone(),
        }))
    }
}

/// A call to the WeChat API failed; `detail` names how (never a secret).
fn upstream(api: &str, detail: &str) -> AppError {
    AppError::Upstream(format!("WeChat {api} failed: {detail}"))
}

/// WeChat's answer to a token-carrying call said the token is no good:
/// 40001 invalid, 40014 malformed, 42001 expired.
pub fn token_refused(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001)
}
