//! `lottery-load beacon-standin`: a local drand relay over a chain made at
//! start (tests/support/drand_chain.rs), for load runs of a server with
//! `LOTTERY_BEACON_*` set (loopback only). It serves `/{hash}/info` and
//! `/{hash}/public/{round}` (404 before the round's time), `GET /chain`
//! the chain hash, and `GET /stats` the requests per round asked for, so a
//! run can show that many draws waiting on one round cost one request.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

#[path = "../../tests/support/drand_chain.rs"]
mod drand_chain;

use drand_chain::{round_json, sign, MadeChain};

struct Relay {
    chain: MadeChain,
    /// Requests per round, and each round's answer once signed.
    asked: Mutex<BTreeMap<u64, u64>>,
    signed: Mutex<BTreeMap<u64, serde_json::Value>>,
}

type Shared = web::Data<Relay>;

async fn info(relay: Shared, hash: web::Path<String>) -> HttpResponse {
    if *hash != relay.chain.hash {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok().json(&relay.chain.info)
}

async fn public(relay: Shared, path: web::Path<(String, u64)>) -> HttpResponse {
    let (hash, round) = path.into_inner();
    if hash != relay.chain.hash {
        return HttpResponse::NotFound().finish();
    }
    *relay.asked.lock().unwrap().entry(round).or_default() += 1;
    if !relay.chain.published(round, chrono::Utc::now().timestamp()) {
        return HttpResponse::NotFound().finish();
    }
    let answer = relay
        .signed
        .lock()
        .unwrap()
        .entry(round)
        .or_insert_with(|| round_json(&sign(&relay.chain.key, round), round))
        .clone();
    HttpResponse::Ok().json(answer)
}

async fn chain(relay: Shared) -> HttpResponse {
    HttpResponse::Ok().body(relay.chain.hash.clone())
}

async fn stats(relay: Shared) -> HttpResponse {
    let asked = relay.asked.lock().unwrap();
    HttpResponse::Ok().json(json!({
        "requests": asked.values().sum::<u64>(),
        "rounds": asked.len(),
        "per_round": asked.iter().map(|(r, n)| json!([r, n])).collect::<Vec<_>>(),
    }))
}

/// Serves until killed, on its own actix system; rounds every `period`
/// seconds (quicknet's 3 by default) since a minute before the start.
pub fn serve(listen: &str, period: u32) -> Result<(), String> {
    let addr: std::net::SocketAddr = listen.parse().map_err(|e| format!("{listen}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("refusing to listen on {addr}: loopback only"));
    }
    let relay = web::Data::new(Relay {
        chain: MadeChain::new(period.max(1), chrono::Utc::now().timestamp() - 60),
        asked: Mutex::new(BTreeMap::new()),
        signed: Mutex::new(BTreeMap::new()),
    });
    actix_web::rt::System::new().block_on(async move {
        let hash = relay.chain.hash.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(relay.clone())
                .route("/chain", web::get().to(chain))
                .route("/stats", web::get().to(stats))
                .route("/{hash}/info", web::get().to(info))
                .route("/{hash}/public/{round}", web::get().to(public))
        })
        .workers(1)
        .bind(addr)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!("beacon-standin: chain {hash} on {addr}");
        server.run().await.map_err(|e| e.to_string())
    })
}
