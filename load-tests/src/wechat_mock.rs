//! `lottery-load wechat-mock`: a local stand-in for the WeChat server API,
//! for load runs of a server with WeChat configured (loopback only). It
//! logs in `dev:<name>` codes as openid `o_<name>`, hands out one access
//! token, passes every content check, rates every user 0 in
//! `getuserriskrank`, accepts every subscribe message and counts them;
//! `GET /stats` says how many arrived, how many twice, and over how long.
//! A user's session_key is the dev one (docs/LOGIN.md), so group proofs
//! made by the load tool open on the server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

#[derive(Default)]
struct Counts {
    token_fetches: u64,
    logins: u64,
    checks: u64,
    risk_checks: u64,
    per_user: HashMap<String, u32>,
    sent: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Messages per whole second since the first one.
    per_second: Vec<u64>,
}

type Shared = web::Data<Mutex<Counts>>;

async fn stable_token(counts: Shared) -> HttpResponse {
    counts.lock().unwrap().token_fetches += 1;
    HttpResponse::Ok().json(json!({"access_token": "LOADTOKEN", "expires_in": 7200}))
}

async fn code2session(counts: Shared, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    counts.lock().unwrap().logins += 1;
    let code = query.get("js_code").map(String::as_str).unwrap_or("");
    match code.strip_prefix("dev:") {
        Some(name) => {
            let key = lottery::wechat::open_data::dev_session_key(name);
            HttpResponse::Ok()
                .json(json!({"openid": format!("o_{name}"), "session_key": key.expose()}))
        }
        None => HttpResponse::Ok().json(json!({"errcode": 40029, "errmsg": "invalid code"})),
    }
}

async fn content_check(counts: Shared) -> HttpResponse {
    counts.lock().unwrap().checks += 1;
    HttpResponse::Ok()
        .json(json!({"errcode": 0, "errmsg": "ok", "result": {"suggest": "pass", "label": 100}}))
}

async fn risk_rank(counts: Shared) -> HttpResponse {
    counts.lock().unwrap().risk_checks += 1;
    HttpResponse::Ok().json(
        json!({"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": 0, "unoin_id": 1}),
    )
}

async fn subscribe_send(counts: Shared, body: web::Json<Value>) -> HttpResponse {
    let touser = body["touser"].as_str().unwrap_or("").to_string();
    let now = Instant::now();
    let mut c = counts.lock().unwrap();
    *c.per_user.entry(touser).or_insert(0) += 1;
    c.sent += 1;
    let first = *c.first.get_or_insert(now);
    c.last = Some(now);
    let second = (now - first).as_secs() as usize;
    if c.per_second.len() <= second {
        c.per_second.resize(second + 1, 0);
    }
    c.per_second[second] += 1;
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok"}))
}

async fn stats(counts: Shared) -> HttpResponse {
    let c = counts.lock().unwrap();
    let span = match (c.first, c.last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };
    let twice: u64 = c
        .per_user
        .values()
        .map(|n| u64::from(n.saturating_sub(1)))
        .sum();
    HttpResponse::Ok().json(json!({
        "sent": c.sent,
        "distinct": c.per_user.len(),
        "twice": twice,
        "span_secs": span,
        "token_fetches": c.token_fetches,
        "logins": c.logins,
        "content_checks": c.checks,
        "risk_checks": c.risk_checks,
        "per_second": c.per_second,
    }))
}

/// Serves until killed, on its own actix system.
pub fn serve(listen: &str) -> Result<(), String> {
    let addr: std::net::SocketAddr = listen.parse().map_err(|e| format!("{listen}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("refusing to listen on {addr}: loopback only"));
    }
    let counts: Shared = web::Data::new(Mutex::new(Counts::default()));
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(counts.clone())
                .route("/cgi-bin/stable_token", web::post().to(stable_token))
                .route("/sns/jscode2session", web::get().to(code2session))
                .route("/wxa/msg_sec_check", web::post().to(content_check))
                .route("/wxa/getuserriskrank", web::post().to(risk_rank))
                .route(
                    "/cgi-bin/message/subscribe/send",
                    web::post().to(subscribe_send),
                )
                .route("/stats", web::get().to(stats))
        })
        .workers(1)
        .bind(addr)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!("wechat-mock: listening on {addr}");
        server.run().await.map_err(|e| e.to_string())
    })
}
