//! The access token every server API call carries, from `cgi-bin/stable_token`
//! in its normal mode (never `force_refresh`, which would cut off every
//! other holder of the current token).
//! <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html>
//!
//! The token is kept in the process and, with Redis, in
//! `cache::access_token` for every instance; it is fetched again once `refresh_at` passes:
//! five minutes before expiry, when WeChat's normal mode starts handing out
//! the next token while the current one stays valid. One instance at a time
//! refreshes (a Redis lock with expiry); the others keep using the current
//! token meanwhile. Normal mode never invalidates a token, so two instances
//! that both fetch (Redis down, a lock holder that died) cost a call, not
//! an outage.

use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;

use super::figures::Call;
use super::{upstream, WechatClient};
use crate::cache::access_token::{CachedToken, SharedToken};
use crate::error::AppResult;

/// Ask for the next token this long before the current one expires.
const REFRESH_BEFORE_MS: i64 = 5 * 60 * 1000;
/// How long another instance's refresh is waited for.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(3);
const LOCK_HOLD: Duration = Duration::from_secs(10);

/// WeChat's answer. No Debug: it carries the token.
#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    expires_in: Option<i64>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

pub struct AccessTokens {
    api: WechatClient,
    /// This process's copy: every call reads it first.
    local: Mutex<Option<CachedToken>>,
    /// The copy every instance shares, when Redis is configured.
    shared: Option<SharedToken>,
    /// One fetch at a time in this process.
    fetching: tokio::sync::Mutex<()>,
    /// This process's name on the Redis lock.
    owner: String,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl AccessTokens {
    pub fn new(api: WechatClient, shared: Option<SharedToken>) -> Self {
        Self {
            api,
            local: Mutex::new(None),
            shared,
            fetching: tokio::sync::Mutex::new(()),
            owner: format!("{:016x}", rand::random::<u64>()),
        }
    }

    /// The API client the token is for.
    pub fn client(&self) -> &WechatClient {
        &self.api
    }

    /// A token WeChat accepts now.
    pub async fn get(&self) -> AppResult<String> {
        if let Some(token) = self.fresh_local() {
            return Ok(token);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(token) = self.fresh_local() {
            return Ok(token);
        }
        let Some(shared) = &self.shared else {
            return self.fetch().await;
        };
        let current = match shared.get().await {
            Ok(current) => current.filter(|c| now_ms() < c.expires_at),
            Err(err) => {
                tracing::warn!(error = %err, "shared access token unavailable; fetching alone");
                return self.fetch().await;
            }
        };
        if let Some(fresh) = current.as_ref().filter(|c| now_ms() < c.refresh_at) {
            *self.local.lock() = Some(fresh.clone());
            return Ok(fresh.token.clone());
        }
        match shared.try_lock(&self.owner, LOCK_HOLD).await {
            Ok(true) => {
                // Another instance may have refreshed and let go of the
                // lock between our read and our lock: use theirs (a busy
                // machine widened that gap until two instances both
                // refreshed, the flaky CI failure of 2026-12-06).
                if let Ok(Some(theirs)) = shared.get().await {
                    if now_ms() < theirs.refresh_at {
                        if let Err(err) = shared.unlock(&self.owner).await {
                            tracing::warn!(error = %err, "cannot release the access token lock");
                        }
                        *self.local.lock() = Some(theirs.clone());
                        return Ok(theirs.token);
                    }
                }
                let fetched = self.fetch().await;
                if let Err(err) = shared.unlock(&self.owner).await {
                    tracing::warn!(error = %err, "cannot release the access token lock");
                }
                fetched
            }
            Ok(false) => {
                // Another instance is refreshing: the current token still
                // works meanwhile; without one, wait for theirs.
                if let Some(valid) = current.filter(|c| now_ms() < c.expires_at - 30_000) {
                    return Ok(valid.token);
                }
                let waited = tokio::time::Instant::now();
                while waited.elapsed() < WAIT_FOR_OTHERS {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if let Ok(Some(theirs)) = shared.get().await {
                        if now_ms() < theirs.refresh_at {
                            *self.local.lock() = Some(theirs.clone());
                            return Ok(theirs.token);
                        }
                    }
                }
                self.fetch().await
            }
            Err(err) => {
                tracing::warn!(error = %err, "access token lock unavailable; fetching alone");
                self.fetch().await
            }
        }
    }

    /// WeChat refused `token` (40001, 40014, 42001): forget it, unless it was
    /// already replaced, so the next `get` fetches a new one.
    pub async fn invalidate(&self, token: &str) {
        {
            let mut local = self.local.lock();
            if local.as_ref().is_some_and(|c| c.token == token) {
                *local = None;
            }
        }
        if let Some(shared) = &self.shared {
            if let Err(err) = shared.drop_if_same(token).await {
                tracing::warn!(error = %err, "cannot drop the refused access token");
            }
        }
    }

    fn fresh_local(&self) -> Option<String> {
        let local = self.local.lock();
        local
            .as_ref()
            .filter(|c| now_ms() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    async fn fetch(&self) -> AppResult<String> {
        metrics::counter!("lottery_wechat_token_fetches_total").increment(1);
        let call = Call::start("stable_token");
        let sent = match self
            .api
            .http
            .post(format!("{}/cgi-bin/stable_token", self.api.base))
            .json(&serde_json::json!({
                "grant_type": "client_credential",
                "appid": self.api.appid,
                "secret": self.api.secret.expose(),
                "force_refresh": false,
            }))
            .send()
            .await
        {
            Ok(sent) => sent,
            Err(e) => {
                call.failed(&e);
                return Err(upstream("stable_token", &e.without_url().to_string()));
            }
        };
        if !sent.status().is_success() {
            call.http_error();
            return Err(upstream("stable_token", &format!("HTTP {}", sent.status())));
        }
        let Ok(answer) = sent.json::<Answer>().await else {
            call.bad_answer();
            return Err(upstream(
                "stable_token",
                "an answer that is not the expected JSON",
            ));
        };
        call.answered(answer.errcode.unwrap_or(0));
        let (Some(token), Some(expires_in)) = (answer.access_token, answer.expires_in) else {
            return Err(upstream(
                "stable_token",
                &format!(
                    "errcode {} {}",
                    answer.errcode.unwrap_or(0),
                    answer.errmsg.unwrap_or_default()
                ),
            ));
        };
        let now = now_ms();
        let lifetime = expires_in.clamp(1, 7 * 24 * 3600) * 1000;
        let cached = CachedToken {
            token: token.clone(),
            expires_at: now + lifetime,
            // A token that lives less than the margin is refreshed halfway.
            refresh_at: now + (lifetime - REFRESH_BEFORE_MS).max(lifetime / 2),
        };
        *self.local.lock() = Some(cached.clone());
        if let Some(shared) = &self.shared {
            // Without it, other instances fetch their own: normal mode allows it.
            if let Err(err) = shared.put(&cached, now).await {
                tracing::warn!(error = %err, "cannot share the access token");
            }
        }
        Ok(token)
    }
}
