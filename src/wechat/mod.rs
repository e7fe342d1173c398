//! The WeChat server API client (reqwest with rustls). Base URL, app id and
//! secret come from the configuration; tests point the base at a local mock.

pub mod code2session;

use std::time::Duration;

use crate::config::{Config, Secret};

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
