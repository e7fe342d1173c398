//! lottery-load: load scenarios and their verification for the lottery
//! backend. It only talks to loopback addresses, and every run is bounded
//! in time. See load-tests/README.md.

mod api;
mod beacon_standin;
mod plot;
mod scenarios;
mod stats;
mod verify;
mod wechat_mock;
mod wire;

use std::collections::HashMap;

use scenarios::{
    big_draw, cluster, draw_storm, healthz, hot_join, media, mixed, notices, share_storm,
    verify_joins, Args,
};
use stats::Target;

const USAGE: &str = "usage: lottery-load <healthz|hot-join|ratio|media|mixed|share-storm|draw-storm|big-draw|notices|cluster|verify-joins|wechat-mock|beacon-standin> \
[--base URL] [--concurrency N] [--threads N] [--users N] [--seconds N] [--events N] [--per-event N] [--lead SECONDS] [--prizes N] [--record FILE] [--plot FILE.svg] [--wechat URL] [--rate N] [--listen ADDR] [--rules password|group|risk|none] [--appid APPID] [--uploaders N] [--upload-rate PER_SECOND]";

fn loopback_url(url: &str) -> bool {
    let host = url
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

fn parse_args() -> Result<(String, Args), String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or(USAGE)?;
    let mut flags: HashMap<String, String> = HashMap::new();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        flags.insert(flag.trim_start_matches('-').to_string(), value);
    }
    let num = |k: &str, d: u64| -> Result<u64, String> {
        flags.get(k).map_or(Ok(d), |v| {
            v.parse().map_err(|_| format!("--{k} must be a number"))
        })
    };
    let base = flags
        .get("base")
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    for url in std::iter::once(&base).chain(flags.get("wechat")) {
        if !loopback_url(url) {
            return Err(format!("refusing {url}: only loopback targets are allowed"));
        }
    }
    // Resolved once: the timed phases connect to the address itself.
    let addr = std::net::ToSocketAddrs::to_socket_addrs(
        base.trim_start_matches("http://").trim_end_matches('/'),
    )
    .map_err(|e| format!("{base}: {e}"))?
    .find(|a| a.ip().is_loopback())
    .ok_or(format!("{base} names no loopback address"))?;
    Ok((
        scenario,
        Args {
            target: Target {
                addr,
                threads: num("threads", 2)?.max(1) as usize,
            },
            base,
            concurrency: num("concurrency", 64)?.max(1) as usize,
            users: num("users", 10_000)? as usize,
            seconds: num("seconds", 10)?.min(600),
            events: num("events", 1000)? as usize,
            per_event: num("per-event", 3)? as usize,
            lead: num("lead", 30)?.min(600),
            prizes: num("prizes", 1000)?.clamp(1, 100_000) as u32,
            record: flags.get("record").cloned(),
            wechat: flags
                .get("wechat")
                .map(|u| u.trim_end_matches('/').to_string()),
            rate: num("rate", 200)?.max(1),
            appid: flags
                .get("appid")
                .cloned()
                .unwrap_or_else(|| lottery::wechat::open_data::DEV_APPID.to_string()),
            rules: match flags.get("rules").map(String::as_str) {
                None | Some("none") => None,
                Some(rule @ ("password" | "group" | "risk")) => Some(rule.to_string()),
                Some(other) => {
                    return Err(format!(
                        "--rules is password, group, risk or none, not {other}"
                    ))
                }
            },
            plot: flags.get("plot").cloned(),
            uploaders: num("uploaders", 2)?.clamp(1, 64) as usize,
            upload_rate: flags.get("upload-rate").map_or(Ok(0.0), |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && *r >= 0.0)
                    .ok_or("--upload-rate must be a number of photos a second".to_string())
            })?,
        },
    ))
}

async fn run(scenario: &str, args: &Args) -> Result<(), String> {
    match scenario {
        "healthz" => {
            healthz::run(args).await;
        }
        "hot-join" => {
            hot_join::run(args).await?;
        }
        "ratio" => {
            let base = healthz::run(args).await;
            let joins = hot_join::run(args).await?;
            let ratio = joins.rate() / base.rate().max(1e-9);
            println!("ratio hot-join / healthz = {ratio:.2}");
            if let Some(path) = &args.plot {
                let caption = format!("{} connections, ratio {ratio:.2}", args.concurrency);
                plot::write_svg(path, &caption, &[&base, &joins])?;
                println!("plot: {path}");
            }
        }
        "mixed" => {
            mixed::run(args).await?;
        }
        "media" => media::run(args).await?,
        "share-storm" => share_storm::run(args).await?,
        "draw-storm" => draw_storm::run(args).await?,
        "big-draw" => big_draw::run(args).await?,
        "notices" => notices::run(args).await?,
        "cluster" => cluster::run(args).await?,
        "verify-joins" => verify_joins::run(args).await?,
        other => return Err(format!("unknown scenario {other}\n{USAGE}")),
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    // The mock serves on its own actix system until killed.
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("beacon-standin") {
        let listen = match (args.next().as_deref(), args.next()) {
            (Some("--listen"), Some(addr)) => addr,
            _ => "127.0.0.1:18391".to_string(),
        };
        let period = match (args.next().as_deref(), args.next()) {
            (Some("--period"), Some(p)) => p.parse().unwrap_or(3),
            _ => 3,
        };
        let served =
            tokio::task::spawn_blocking(move || beacon_standin::serve(&listen, period)).await;
        if let Ok(Err(e)) | Err(e) = served.map_err(|e| e.to_string()) {
            eprintln!("lottery-load beacon-standin: {e}");
            std::process::exit(1);
        }
        return;
    }
    if first.as_deref() == Some("wechat-mock") {
        let listen = match (args.next().as_deref(), args.next()) {
            (Some("--listen"), Some(addr)) => addr,
            _ => "127.0.0.1:18390".to_string(),
        };
        let served = tokio::task::spawn_blocking(move || wechat_mock::serve(&listen)).await;
        if let Ok(Err(e)) | Err(e) = served.map_err(|e| e.to_string()) {
            eprintln!("lottery-load wechat-mock: {e}");
            std::process::exit(1);
        }
        return;
    }
    let (scenario, args) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("lottery-load: {e}");
            std::process::exit(64);
        }
    };
    if let Err(e) = run(&scenario, &args).await {
        println!("FAILED: {e}");
        std::process::exit(1);
    }
}
