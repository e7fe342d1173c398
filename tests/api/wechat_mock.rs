//! A local WeChat server API (wiremock) with state: logins, the stable
//! access token, subscribe messages and the content check, each scriptable
//! per test. Never the internet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::TestApp;

pub const APPID: &str = "wx_notice_app";
pub const SECRET: &str = "notice-secret-5a4b3c";
pub const TEMPLATE: &str = "tmpl-result-1";
pub const CLAIM_TEMPLATE: &str = "tmpl-claim-1";

/// One subscribe message WeChat received.
#[derive(Clone, Debug)]
pub struct Received {
    pub touser: String,
    pub errcode: i64,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// The token WeChat accepts now; stable_token hands it out (normal
    /// mode) and makes a new one only when there is none.
    valid_token: Option<String>,
    tokens_issued: u64,
    token_fetches: u64,
    /// The `expires_in` stable_token answers (7200 unless a test says).
    token_lifetime: Option<u64>,
    /// After this many accepted messages the token expires (42001).
    expire_token_after: Option<usize>,
    /// Errcodes a user's next sends get, in order, before success.
    scripted: HashMap<String, VecDeque<i64>>,
    received: Vec<Received>,
    checks: Vec<Value>,
    /// One-time subscriptions, when a test turns them on (`grant`): how
    /// many messages each (openid, template id) may still get.
    grants: Option<HashMap<(String, String), u32>>,
    /// getuserriskrank: each openid's rank (0 unless set), the calls
    /// received, and whether it answers errcode -1 (busy) instead.
    ranks: HashMap<String, i64>,
    risk_calls: Vec<Value>,
    risk_down: bool,
    risk_delay: Duration,
}

/// What `subscribe/send` answers for a message, as WeChat documents it:
/// <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html>
/// and the one-time subscription rule of
/// <https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message.html>:
/// - each time a user accepts a template in `wx.requestSubscribeMessage`
///   the app may send that user one message of that template; with none
///   left, the send answers 43101 ("user refuse to accept the msg"; the
///   developer community's answers confirm it also means "used up");
/// - a value must fit its key's type: `thing` at most 20 characters,
///   `phrase` at most 5, `character_string` and `number` at most 32, and
///   not empty; otherwise 47003 ("argument invalid! data.xxx.value ...").
fn judge_send(grants: &mut Option<HashMap<(String, String), u32>>, body: &Value) -> i64 {
    if let Some(data) = body["data"].as_object() {
        for (key, value) in data {
            let text = value["value"].as_str().unwrap_or_default();
            let max = match key.trim_end_matches(|c: char| c.is_ascii_digit()) {
                "thing" => 20,
                "phrase" => 5,
                "character_string" | "number" => 32,
                _ => usize::MAX,
            };
            if text.is_empty() || text.chars().count() > max {
                return 47003;
            }
        }
    }
    let Some(grants) = grants else {
        return 0;
    };
    let key = (
        body["touser"].as_str().unwrap_or_default().to_string(),
        body["template_id"].as_str().unwrap_or_default().to_string(),
    );
    match grants.get_mut(&key) {
        Some(left) if *left > 0 => {
            *left -= 1;
            0
        }
        _ => 43101,
    }
}

#[derive(Clone)]
pub struct WechatMock {
    pub server: Arc<MockServer>,
    state: Arc<Mutex<State>>,
}

struct Handler<F>(Arc<Mutex<State>>, F);

impl<F> Respond for Handler<F>
where
    F: Fn(&mut State, &Request) -> ResponseTemplate + Send + Sync,
{
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        (self.1)(&mut state, request)
    }
}

fn query(request: &Request, key: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl WechatMock {
    /// The mock; each subscribe answer is delayed by `send_delay`.
    pub async fn start(send_delay: Duration) -> Self {
        let server = MockServer::start().await;
        let state: Arc<Mutex<State>> = Arc::default();
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .respond_with(Handler(state.clone(), |_: &mut State, r: &Request| {
                let code = query(r, "js_code").unwrap_or_default();
                match code.strip_prefix("code:") {
                    Some(name) => ResponseTemplate::new(200)
                        .set_body_json(json!({"openid": format!("o_{name}"), "session_key": "sk"})),
                    None => ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40029, "errmsg": "invalid code"})),
                }
            }))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .respond_with(Handler(state.clone(), |s: &mut State, r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                s.token_fetches += 1;
                if body["appid"] != APPID
                    || body["secret"] != SECRET
                    || body["grant_type"] != "client_credential"
                    || body["force_refresh"] == true
                {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40013, "errmsg": "bad request"}));
                }
                if s.valid_token.is_none() {
                    s.tokens_issued += 1;
                    s.valid_token = Some(format!("TOKEN_{}", s.tokens_issued));
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": s.valid_token,
                    "expires_in": s.token_lifetime.unwrap_or(7200),
                }))
            }))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/cgi-bin/message/subscribe/send"))
            .respond_with(Handler(state.clone(), move |s: &mut State, r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let touser = body["touser"].as_str().unwrap_or_default().to_string();
                let errcode = if query(r, "access_token") != s.valid_token {
                    42001
                } else {
                    match s.scripted.get_mut(&touser).and_then(|q| q.pop_front()) {
                        Some(code) => code,
                        None => judge_send(&mut s.grants, &body),
                    }
                };
                if errcode != 42001 {
                    s.received.push(Received {
                        touser,
                        errcode,
                        body,
                    });
                }
                let accepted = s.received.iter().filter(|m| m.errcode == 0).count();
                if s.expire_token_after == Some(accepted) {
                    s.expire_token_after = None;
                    s.valid_token = None;
                }
                ResponseTemplate::new(200)
                    .set_delay(send_delay)
                    .set_body_json(json!({"errcode": errcode, "errmsg": "scripted"}))
            }))
            .mount(&server)
            .await;
        // getuserriskrank as documented (wxaapi_getuserriskrank.html):
        // POST with the access token, JSON {appid, openid, scene, client_ip}
        // all required; answers {errcode: 0, errmsg: "getuserriskrank succ",
        // risk_rank: 0..=4, unoin_id} (sic), or an errcode (-1: busy).
        Mock::given(method("POST"))
            .and(path("/wxa/getuserriskrank"))
            .respond_with(Handler(state.clone(), |s: &mut State, r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if query(r, "access_token") != s.valid_token {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
                }
                s.risk_calls.push(body.clone());
                let complete = body["appid"] == APPID
                    && body["openid"].is_string()
                    && body["scene"].is_u64()
                    && body["client_ip"]
                        .as_str()
                        .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok());
                if !complete {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 47001, "errmsg": "data format error"}));
                }
                if s.risk_down {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": -1, "errmsg": "system error"}));
                }
                let rank = s
                    .ranks
                    .get(body["openid"].as_str().unwrap_or_default())
                    .copied()
                    .unwrap_or(0);
                ResponseTemplate::new(200)
                    .set_delay(s.risk_delay)
                    .set_body_json(json!({
                        "errcode": 0, "errmsg": "getuserriskrank succ",
                        "risk_rank": rank, "unoin_id": 123456
                    }))
            }))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/wxa/msg_sec_check"))
            .respond_with(Handler(state.clone(), |s: &mut State, r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                s.checks.push(body.clone());
                if query(r, "access_token") != s.valid_token {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40001, "errmsg": "invalid token"}));
                }
                let text = format!("{} {}", body["title"], body["content"]);
                if text.contains("CHECKDOWN") {
                    return ResponseTemplate::new(503);
                }
                let suggest = if text.contains("RISKY") {
                    "risky"
                } else if text.contains("REVIEW") {
                    "review"
                } else {
                    "pass"
                };
                ResponseTemplate::new(200).set_body_json(json!({
                    "errcode": 0, "errmsg": "ok", "trace_id": "t1",
                    "result": {"suggest": suggest, "label": if suggest == "pass" { 100 } else { 20001 }},
                    "detail": []
                }))
            }))
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Settings for an app that logs in, checks content and sends notices here.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("LOTTERY_WECHAT_APPID".into(), APPID.into()),
            ("LOTTERY_WECHAT_SECRET".into(), SECRET.into()),
            ("LOTTERY_WECHAT_API_BASE".into(), self.uri()),
            ("LOTTERY_WECHAT_RESULT_TEMPLATE_ID".into(), TEMPLATE.into()),
        ]
    }

    /// An app on `url` that uses this mock, with `extra` settings too.
    pub async fn app(&self, url: &str, extra: &[(&str, &str)]) -> TestApp {
        let mut settings = self.settings();
        settings.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        TestApp::spawn_on(url.to_string(), &pairs).await
    }

    /// The next sends to `openid` get these errcodes, then success.
    pub fn script(&self, openid: &str, errcodes: &[i64]) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .insert(openid.into(), errcodes.iter().copied().collect());
    }

    /// Turns on one-time subscriptions (every user starts with none) and
    /// gives `openid` one message of `template`, as one acceptance in
    /// `wx.requestSubscribeMessage` does.
    pub fn grant(&self, openid: &str, template: &str) {
        let mut s = self.state.lock().unwrap();
        *s.grants
            .get_or_insert_with(HashMap::new)
            .entry((openid.into(), template.into()))
            .or_insert(0) += 1;
    }

    /// WeChat rates `openid` at `rank` from now on.
    pub fn rank(&self, openid: &str, rank: i64) {
        self.state.lock().unwrap().ranks.insert(openid.into(), rank);
    }

    /// getuserriskrank answers errcode -1 (busy) while `down`.
    pub fn risk_down(&self, down: bool) {
        self.state.lock().unwrap().risk_down = down;
    }

    /// getuserriskrank answers only after `delay`.
    pub fn risk_delay(&self, delay: Duration) {
        self.state.lock().unwrap().risk_delay = delay;
    }

    /// The getuserriskrank calls received, in order.
    pub fn risk_calls(&self) -> Vec<Value> {
        self.state.lock().unwrap().risk_calls.clone()
    }

    /// Tokens are handed out with this lifetime (`expires_in`, seconds).
    pub fn token_lifetime(&self, secs: u64) {
        self.state.lock().unwrap().token_lifetime = Some(secs);
    }

    /// The current token expires now.
    pub fn expire_token(&self) {
        self.state.lock().unwrap().valid_token = None;
    }

    /// The current token expires after `n` more accepted messages.
    pub fn expire_token_after(&self, n: usize) {
        let mut s = self.state.lock().unwrap();
        let accepted = s.received.iter().filter(|m| m.errcode == 0).count();
        s.expire_token_after = Some(accepted + n);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Messages accepted (errcode 0), per openid.
    pub fn delivered(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for m in self.received().into_iter().filter(|m| m.errcode == 0) {
            *counts.entry(m.touser).or_insert(0) += 1;
        }
        counts
    }

    pub fn token_fetches(&self) -> u64 {
        self.state.lock().unwrap().token_fetches
    }

    pub fn content_checks(&self) -> Vec<Value> {
        self.state.lock().unwrap().checks.clone()
    }

    /// Polls until `done` holds for what was delivered, or fails after `secs`.
    pub async fn wait_for(
        &self,
        secs: u64,
        what: &str,
        done: impl Fn(&HashMap<String, usize>) -> bool,
    ) -> HashMap<String, usize> {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let delivered = self.delivered();
            if done(&delivered) {
                return delivered;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} not reached in {secs} s: {delivered:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl WechatMock {
    /// Waits until `total` messages were delivered, then `settle` longer,
    /// and fails if anything more arrived: a late or repeated notice.
    pub async fn settled(
        &self,
        secs: u64,
        total: usize,
        settle: Duration,
    ) -> HashMap<String, usize> {
        let delivered = self
            .wait_for(secs, &format!("{total} notices"), |d| {
                d.values().sum::<usize>() >= total
            })
            .await;
        actix_web::rt::time::sleep(settle).await;
        assert_eq!(delivered, self.delivered(), "late or repeated notices");
        delivered
    }
}

/// Logs `name` in through the mock (openid `o_{name}`): (token, user id).
pub async fn login(app: &TestApp, name: &str) -> (String, i64) {
    let r = app
        .post("/auth/login", None, json!({"code": format!("code:{name}")}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.data()["token"].as_str().unwrap().to_string(),
        r.data()["user"]["id"].as_i64().unwrap(),
    )
}
