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
/// The one page the mock's published mini-program has.
pub const SHARE_PAGE: &str = "pages/event/index";

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
    /// getwxacodeunlimit: the calls received, and errcodes the next ones
    /// answer (in order) before success.
    code_calls: Vec<Value>,
    code_errors: VecDeque<i64>,
    /// media_check_async: the checks asked (each with the trace_id it was
    /// given) and errcodes the next asks answer before success.
    media_checks: Vec<Value>,
    media_errors: VecDeque<i64>,
}

/// The mini-program's username in pushes (`ToUserName`).
const GH_ID: &str = "gh_9df7d78a1234";

/// A small JPEG standing in for a mini-program code (WeChat's default
/// answer is a JPEG; `is_hyaline` asks for a PNG).
fn code_image() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(43, 43, image::Rgb([20, 160, 60]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

/// getwxacodeunlimit's checks of a request, as its documentation states:
/// <https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/qrcode-link/qr-code/getUnlimitedQRCode.html>
/// - `scene`: required, at most 32 visible characters (else 40169) of
///   digits, letters and `!#$&'()*+,/:;=?@-._~` (else 40129);
/// - `page`: a page of the published version, without a leading `/` and
///   without parameters (else 41030, "invalid page");
/// - `env_version`: `release`, `trial` or `develop`;
/// - on success the body is the image (Content-Type `image/jpeg`), on
///   failure JSON `{errcode, errmsg}` (Content-Type `application/json`);
///   45009 is the call-rate limit.
fn judge_code(body: &Value) -> i64 {
    let scene = body["scene"].as_str().unwrap_or_default();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c);
    if scene.is_empty() || scene.len() > 32 {
        return 40169;
    }
    if !scene.chars().all(allowed) {
        return 40129;
    }
    let page = body["page"].as_str().unwrap_or_default();
    if page.starts_with('/') || page.contains('?') || page != SHARE_PAGE {
        return 41030;
    }
    if !["release", "trial", "develop"].contains(&body["env_version"].as_str().unwrap_or("release"))
    {
        return 40097;
    }
    0
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
        // media_check_async as documented (api_mediacheckasync.html):
        // POST with the access token, JSON {media_url, media_type (2:
        // image), version (2), scene (1..=4), openid}; answers
        // {errcode: 0, errmsg: "ok", trace_id} when the check is taken
        // (not when it passed: the verdict is pushed later, within 30
        // minutes). The test then downloads media_url, as WeChat would.
        Mock::given(method("POST"))
            .and(path("/wxa/media_check_async"))
            .respond_with(Handler(state.clone(), |s: &mut State, r: &Request| {
                let mut body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if query(r, "access_token") != s.valid_token {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
                }
                if let Some(code) = s.media_errors.pop_front() {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": code, "errmsg": "scripted"}));
                }
                let complete = body["media_url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("http"))
                    && body["media_type"] == 2
                    && body["version"] == 2
                    && (1..=4).contains(&body["scene"].as_i64().unwrap_or(0))
                    && body["openid"].is_string();
                if !complete {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 47001, "errmsg": "data format error"}));
                }
                let trace_id = format!("60f96f1d-3845297a-{:08x}", s.media_checks.len() + 1);
                body["trace_id"] = json!(trace_id);
                s.media_checks.push(body);
                ResponseTemplate::new(200)
                    .set_body_json(json!({"errcode": 0, "errmsg": "ok", "trace_id": trace_id}))
            }))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/wxa/getwxacodeunlimit"))
            .respond_with(Handler(state.clone(), |s: &mut State, r: &Request| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if query(r, "access_token") != s.valid_token {
                    return ResponseTemplate::new(200)
                        .set_body_json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
                }
                s.code_calls.push(body.clone());
                let errcode = match s.code_errors.pop_front() {
                    Some(code) => code,
                    None => judge_code(&body),
                };
                // Slow enough that concurrent requests overlap, refused
                // or not.
                if errcode != 0 {
                    return ResponseTemplate::new(200)
                        .set_delay(Duration::from_millis(200))
                        .set_body_json(json!({"errcode": errcode, "errmsg": "scripted"}));
                }
                ResponseTemplate::new(200)
                    .set_delay(Duration::from_millis(200))
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(code_image())
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

    /// getwxacodeunlimit's calls received, in order.
    pub fn code_calls(&self) -> Vec<Value> {
        self.state.lock().unwrap().code_calls.clone()
    }

    /// The next getwxacodeunlimit calls answer these errcodes, in order.
    pub fn code_errors(&self, errcodes: &[i64]) {
        self.state.lock().unwrap().code_errors = errcodes.iter().copied().collect();
    }

    /// The image checks asked so far (the request body and its trace_id).
    pub fn media_checks(&self) -> Vec<Value> {
        self.state.lock().unwrap().media_checks.clone()
    }

    /// The next media_check_async asks answer these errcodes, in order.
    pub fn media_errors(&self, errcodes: &[i64]) {
        self.state.lock().unwrap().media_errors = errcodes.iter().copied().collect();
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

/// How WeChat delivers a push (the console's 消息加解密方式 and 数据格式).
#[derive(Clone, Copy, Debug)]
pub enum PushMode {
    /// 明文模式, JSON.
    PlainJson,
    /// 明文模式, XML.
    PlainXml,
    /// 安全模式 with this EncodingAESKey, JSON.
    SafeJson(&'static str),
}

/// The verdict push of `wxa_media_check`, as the documentation's example
/// has it (api_mediacheckasync.html, "异步检测结果推送"): JSON, or the
/// same tags in XML with strings in CDATA (WeChat prints no XML example;
/// this is the shape Senparc's SDK tests record).
pub fn verdict_body(trace_id: &str, suggest: &str, errcode: i64, xml: bool) -> String {
    let label = if suggest == "pass" { 100 } else { 20002 };
    if xml {
        return format!(
            "<xml><ToUserName><![CDATA[{GH_ID}]]></ToUserName>\
             <FromUserName><![CDATA[o4_t144jTUSEoxydysUA2E234_tc]]></FromUserName>\
             <CreateTime>1626959646</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[wxa_media_check]]></Event><appid><![CDATA[{APPID}]]></appid>\
             <trace_id><![CDATA[{trace_id}]]></trace_id><version>2</version>\
             <detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode>\
             <suggest><![CDATA[pass]]></suggest><label>100</label><prob>90</prob></detail>\
             <errcode>{errcode}</errcode><errmsg><![CDATA[ok]]></errmsg>\
             <result><suggest><![CDATA[{suggest}]]></suggest><label>{label}</label></result></xml>"
        );
    }
    json!({
        "ToUserName": GH_ID,
        "FromUserName": "o4_t144jTUSEoxydysUA2E234_tc",
        "CreateTime": 1626959646,
        "MsgType": "event",
        "Event": "wxa_media_check",
        "appid": APPID,
        "trace_id": trace_id,
        "version": 2,
        "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}],
        "errcode": errcode,
        "errmsg": "ok",
        "result": {"suggest": suggest, "label": label}
    })
    .to_string()
}

/// Sends `body` to the app's push URL as WeChat would: `signature` =
/// SHA-1 of the sorted Token, timestamp and nonce; in safe mode the body
/// encrypted (random 16 bytes, length, message, appid; AES-256-CBC) in an
/// envelope, with `encrypt_type=aes` and `msg_signature` over the
/// ciphertext too (message-push.html). The signing and sealing are the
/// server's own functions, which their unit tests hold to WeChat's
/// published examples. Returns (status, body).
pub async fn push(app: &TestApp, token: &str, mode: PushMode, body: &str) -> (u16, String) {
    let now = chrono::Utc::now().timestamp();
    push_at(app, token, mode, body, now).await
}

/// `push` with the timestamp WeChat would have sent at `timestamp`.
pub async fn push_at(
    app: &TestApp,
    token: &str,
    mode: PushMode,
    body: &str,
    timestamp: i64,
) -> (u16, String) {
    use lottery::wechat::push::{signature, PushKey};
    let timestamp = timestamp.to_string();
    let (timestamp, nonce) = (timestamp.as_str(), "415670741");
    let mut query = vec![
        ("signature", signature(token, &[timestamp, nonce])),
        ("timestamp", timestamp.to_string()),
        ("nonce", nonce.to_string()),
    ];
    let sent = match mode {
        PushMode::PlainJson | PushMode::PlainXml => body.to_string(),
        PushMode::SafeJson(key) => {
            let key = PushKey::parse(key).unwrap();
            let encrypt = key.encrypt(body, APPID, *b"a8eedb185eb2fecf");
            query.push(("encrypt_type", "aes".into()));
            query.push((
                "msg_signature",
                signature(token, &[timestamp, nonce, &encrypt]),
            ));
            json!({"ToUserName": GH_ID, "Encrypt": encrypt}).to_string()
        }
    };
    let res = app
        .client
        .post(format!("{}/api/v1/wechat/push", app.base))
        .query(&query)
        .body(sent)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}
