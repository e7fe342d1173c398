//! `cluster`: hot-join and share traffic over several events through the
//! balancer of a local cluster, while `load-tests/cluster.sh` injects a
//! fault (SIGKILL, SIGSTOP, an etcd leader or a Redis master killed).
//! It measures each event's unavailability (from a request that found the
//! event unavailable to the next one it served), then verifies: every join
//! answered 200 is stored, the capped event holds no more than its cap,
//! and each event due during the run is drawn soundly (the winners its
//! seed gives, among participants that include every acknowledged one).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use crate::api::Api;
use crate::scenarios::setup::{event_body, in_secs, login_many, run_tag};
use crate::scenarios::Args;
use crate::verify;

/// One event's unavailability so far.
#[derive(Default)]
struct Availability {
    failing_since: Option<Instant>,
    outages: Vec<Duration>,
}

#[derive(Default)]
struct Tally {
    joins_ok: AtomicU64,
    views_ok: AtomicU64,
    refused: AtomicU64,
    unavailable: AtomicU64,
    unexpected: AtomicU64,
}

struct Run {
    api: Api,
    users: Arc<Vec<(String, i64)>>,
    events: Vec<i64>,
    next: AtomicUsize,
    tally: Tally,
    acked: Mutex<HashSet<(i64, i64)>>,
    availability: Mutex<HashMap<i64, Availability>>,
    unexpected_examples: Mutex<Vec<String>>,
}

impl Run {
    fn served(&self, event: i64) {
        let mut all = self.availability.lock().unwrap();
        let entry = all.entry(event).or_default();
        if let Some(since) = entry.failing_since.take() {
            entry.outages.push(since.elapsed());
        }
    }

    fn failed(&self, event: i64) {
        let mut all = self.availability.lock().unwrap();
        all.entry(event)
            .or_default()
            .failing_since
            .get_or_insert_with(Instant::now);
    }

    async fn worker(self: Arc<Self>, until: Instant) {
        while Instant::now() < until {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            let event = self.events[k % self.events.len()];
            let (token, user) = &self.users[(k / self.events.len()) % self.users.len()];
            // One request in four is a visitor opening a shared event.
            let view = rand::rng().random_ratio(1, 4);
            let answer = if view {
                self.api
                    .call(
                        reqwest::Method::GET,
                        &format!("/api/v1/events/{event}"),
                        None,
                        None,
                    )
                    .await
            } else {
                self.api
                    .call(
                        reqwest::Method::PUT,
                        &format!("/api/v1/events/{event}/participants/me"),
                        Some(token),
                        Some(json!({})),
                    )
                    .await
            };
            match answer {
                Ok(a) if a.status == 200 => {
                    self.served(event);
                    if view {
                        self.tally.views_ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.tally.joins_ok.fetch_add(1, Ordering::Relaxed);
                        self.acked.lock().unwrap().insert((event, *user));
                    }
                }
                // Full, or closed once drawn: the event answered.
                Ok(a) if a.status == 409 => {
                    self.served(event);
                    self.tally.refused.fetch_add(1, Ordering::Relaxed);
                }
                Ok(a) if a.status == 503 || a.status == 502 || a.status == 504 => {
                    self.failed(event);
                    self.tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => {
                    self.failed(event);
                    self.tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(a) => {
                    self.tally.unexpected.fetch_add(1, Ordering::Relaxed);
                    let mut examples = self.unexpected_examples.lock().unwrap();
                    if examples.len() < 5 {
                        examples.push(format!("HTTP {} code {}", a.status, a.code));
                    }
                }
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64()
}

pub async fn cluster(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("cluster_owner_{tag}")).await?;
    let users = login_many(args, &format!("cluster_{tag}"), args.users).await?;
    let cap = (args.users / 4).max(1) as i64;
    let mut events = Vec::new();
    for i in 0..args.events.max(2) {
        let mut body = event_body(in_secs(3600), "at_time", 10);
        if i == 0 {
            body["max_participants"] = json!(cap);
        }
        events.push(api.create_event(&owner, body).await?);
    }
    let capped = events[0];
    // Events due while the fault is on (`--lead` seconds after the start).
    let mut due = Vec::new();
    if args.lead > 0 {
        for _ in 0..2 {
            let body = event_body(in_secs(args.lead as i64), "at_time", 3);
            let id = api.create_event(&owner, body).await?;
            events.push(id);
            due.push(id);
        }
    }
    eprintln!(
        "cluster: events {events:?} (capped at {cap}: {capped}; due in {} s: {due:?}), {} users, {} connections, {} s",
        args.lead, args.users, args.concurrency, args.seconds
    );
    let run = Arc::new(Run {
        api: api.clone(),
        users,
        events: events.clone(),
        next: AtomicUsize::new(0),
        tally: Tally::default(),
        acked: Mutex::default(),
        availability: Mutex::default(),
        unexpected_examples: Mutex::default(),
    });
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(run.clone().worker(until)))
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();

    // Unavailability: every outage that ended, and those still open.
    let mut outages = Vec::new();
    let mut unresolved = Vec::new();
    for (event, availability) in run.availability.lock().unwrap().iter() {
        outages.extend(availability.outages.iter().copied());
        if let Some(since) = availability.failing_since {
            unresolved.push((*event, since.elapsed()));
        }
    }
    outages.sort_unstable();
    let t = &run.tally;
    let summary = json!({
        "seconds": elapsed.as_secs_f64(),
        "joins_ok": t.joins_ok.load(Ordering::Relaxed),
        "views_ok": t.views_ok.load(Ordering::Relaxed),
        "refused_409": t.refused.load(Ordering::Relaxed),
        "unavailable": t.unavailable.load(Ordering::Relaxed),
        "unexpected": t.unexpected.load(Ordering::Relaxed),
        "outages": outages.len(),
        "outage_p99_s": percentile(&outages, 0.99),
        "outage_max_s": outages.last().map_or(0.0, Duration::as_secs_f64),
        "unresolved": unresolved.len(),
    });
    println!(
        "cluster: {} joins and {} views answered 200 in {:.1} s ({:.0} req/s); {} answers 503/502/504 or no answer; {} outages, p99 {:.2} s, longest {:.2} s",
        summary["joins_ok"],
        summary["views_ok"],
        elapsed.as_secs_f64(),
        (t.joins_ok.load(Ordering::Relaxed) + t.views_ok.load(Ordering::Relaxed)) as f64
            / elapsed.as_secs_f64(),
        summary["unavailable"],
        outages.len(),
        percentile(&outages, 0.99),
        outages.last().map_or(0.0, Duration::as_secs_f64),
    );
    println!("cluster-json {summary}");
    if !unresolved.is_empty() {
        return Err(format!(
            "events still unavailable at the end: {unresolved:?}"
        ));
    }
    if t.unexpected.load(Ordering::Relaxed) > 0 {
        return Err(format!(
            "unexpected answers: {:?}",
            run.unexpected_examples.lock().unwrap()
        ));
    }

    let acked = run.acked.lock().unwrap().clone();
    if let Some(path) = &args.record {
        let mut file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        for (event, user) in &acked {
            writeln!(file, "{event} {user}").map_err(|e| e.to_string())?;
        }
    }
    verify_run(&api, &events, capped, cap, &due, &acked).await
}

/// After the run, through the balancer: nothing acknowledged is missing,
/// the cap holds, and the due events are drawn soundly.
async fn verify_run(
    api: &Api,
    events: &[i64],
    capped: i64,
    cap: i64,
    due: &[i64],
    acked: &HashSet<(i64, i64)>,
) -> Result<(), String> {
    for &event in events {
        let want: HashSet<i64> = acked
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, u)| *u)
            .collect();
        let stored: HashSet<i64> = api.participants(event).await?.into_iter().collect();
        let missing = want.difference(&stored).count();
        if missing > 0 {
            return Err(format!(
                "event {event}: {missing} of {} acknowledged joins are not stored",
                want.len()
            ));
        }
        if event == capped && stored.len() as i64 > cap {
            return Err(format!(
                "event {event}: {} participants stored, over its cap of {cap}",
                stored.len()
            ));
        }
    }
    println!(
        "verify: all {} acknowledged joins are stored; the capped event holds at most {cap}",
        acked.len()
    );
    for &event in due {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status: Value = api.event(event).await?["status"].clone();
            if status == "drawn" {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "event {event} is still {status} a minute after its draw time"
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let winners = verify::draw_is_sound(api, event, None).await?;
        let considered: HashSet<i64> =
            serde_json::from_value::<Vec<i64>>(api.fairness(event).await?["participants"].clone())
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect();
        let want: HashSet<i64> = acked
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, u)| *u)
            .collect();
        if !want.is_subset(&considered) {
            return Err(format!(
                "event {event}: the draw left out an acknowledged participant"
            ));
        }
        println!(
            "verify: due event {event} drawn: {winners} winners as its seed gives, among {} participants",
            considered.len()
        );
    }
    Ok(())
}
