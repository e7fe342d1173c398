//! A small load generator for the lottery backend. It only talks to
//! loopback addresses and every run is bounded in time.
//!
//! lottery-load healthz  --base http://127.0.0.1:8080 --concurrency 64 --seconds 10
//! lottery-load hot-join --base http://127.0.0.1:8080 --concurrency 64 --users 20000 --seconds 10

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Args {
    scenario: String,
    base: String,
    concurrency: usize,
    users: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or("usage: lottery-load <healthz|hot-join> [--base URL] [--concurrency N] [--users N] [--seconds N]")?;
    let mut flags: HashMap<String, String> = HashMap::new();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        flags.insert(flag.trim_start_matches('-').to_string(), value);
    }
    let num = |k: &str, d: usize| -> Result<usize, String> {
        flags.get(k).map_or(Ok(d), |v| {
            v.parse().map_err(|_| format!("--{k} must be a number"))
        })
    };
    let base = flags
        .get("base")
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let host = base
        .trim_start_matches("http://")
        .split([':', '/'])
        .next()
        .unwrap_or("");
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        return Err(format!(
            "refusing to load {host}: only loopback targets are allowed"
        ));
    }
    Ok(Args {
        scenario,
        base,
        concurrency: num("concurrency", 64)?,
        users: num("users", 10_000)?,
        seconds: num("seconds", 10)?.min(600) as u64,
    })
}

/// What the workers measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: HashMap<String, usize>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn report(mut self, name: &str, elapsed: Duration) -> f64 {
        self.latencies_us.sort_unstable();
        let n = self.latencies_us.len();
        let pct = |p: f64| -> f64 {
            if n == 0 {
                0.0
            } else {
                self.latencies_us[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0
            }
        };
        let rate = n as f64 / elapsed.as_secs_f64();
        println!(
            "{name}: {n} ok in {:.2}s = {rate:.0} req/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}; errors {:?}",
            elapsed.as_secs_f64(), pct(0.50), pct(0.95), pct(0.99), pct(1.0), self.errors
        );
        rate
    }
}

fn client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn healthz(args: &Args) -> f64 {
    let client = client(args.concurrency);
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let client = client.clone();
        let url = format!("{}/healthz", args.base);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        tally.latencies_us.push(t.elapsed().as_micros() as u64);
                    }
                    Ok(r) => *tally.errors.entry(r.status().to_string()).or_default() += 1,
                    Err(e) => *tally.errors.entry(format!("{e}")).or_default() += 1,
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.unwrap());
    }
    total.report("healthz", started.elapsed())
}

async fn login(client: &reqwest::Client, base: &str, name: &str) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"code": format!("dev:{name}")}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    r["data"]["token"].as_str().expect("token").to_string()
}

async fn hot_join(args: &Args) -> f64 {
    let client = client(args.concurrency);
    let run = chrono::Utc::now().timestamp_millis();
    let owner = login(&client, &args.base, &format!("load_owner_{run}")).await;
    let event: Value = client
        .post(format!("{}/api/v1/events", args.base))
        .bearer_auth(&owner)
        .json(&json!({"title": "hot event", "draw_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
                      "prizes": [{"name": "prize", "quantity": 10}]}))
        .send().await.expect("create").json().await.expect("create json");
    let id = event["data"]["id"].as_i64().expect("event id");

    eprintln!("logging in {} users…", args.users);
    let next = Arc::new(AtomicUsize::new(0));
    let mut logins = vec![];
    for _ in 0..args.concurrency {
        let (client, base, next, users) =
            (client.clone(), args.base.clone(), next.clone(), args.users);
        logins.push(tokio::spawn(async move {
            let mut tokens = vec![];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= users {
                    break tokens;
                }
                tokens.push(login(&client, &base, &format!("load_{run}_{i}")).await);
            }
        }));
    }
    let mut tokens = vec![];
    for l in logins {
        tokens.extend(l.await.unwrap());
    }
    let tokens = Arc::new(tokens);

    eprintln!("joining event {id} for up to {}s…", args.seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..args.concurrency {
        let (client, tokens, next) = (client.clone(), tokens.clone(), next.clone());
        let url = format!("{}/api/v1/events/{id}/participants/me", args.base);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(i) else { break };
                let t = Instant::now();
                match client.put(&url).bearer_auth(token).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        tally.latencies_us.push(t.elapsed().as_micros() as u64);
                    }
                    Ok(r) => *tally.errors.entry(r.status().to_string()).or_default() += 1,
                    Err(e) => *tally.errors.entry(format!("{e}")).or_default() += 1,
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let acknowledged = total.latencies_us.len();
    let rate = total.report("hot-join", elapsed);

    // Verification: every 200 is stored, and nothing else.
    let view: Value = client
        .get(format!("{}/api/v1/events/{id}", args.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = view["data"]["participant_count"].as_u64().unwrap_or(0) as usize;
    if stored == acknowledged {
        println!("verify: participant_count {stored} = joins answered 200 ({acknowledged})");
    } else {
        println!(
            "verify: MISMATCH participant_count {stored} != joins answered 200 ({acknowledged})"
        );
        std::process::exit(2);
    }
    rate
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lottery-load: {e}");
            std::process::exit(64);
        }
    };
    match args.scenario.as_str() {
        "healthz" => {
            healthz(&args).await;
        }
        "hot-join" => {
            hot_join(&args).await;
        }
        "ratio" => {
            let base = healthz(&args).await;
            let joins = hot_join(&args).await;
            println!("ratio hot-join / healthz = {:.2}", joins / base);
        }
        other => {
            eprintln!("lottery-load: unknown scenario {other}");
            std::process::exit(64);
        }
    }
}
