//! `cluster`: hot-join and share traffic over several events through the
//! balancer of a local cluster, while `load-tests/cluster.sh` injects a
//! fault (SIGKILL, SIGSTOP, an etcd leader or a Redis master killed).
//! It measures each event's unavailability (from a request that found the
//! event unavailable to the next one it served), then verifies: every join
//! answered 200 is stored, the capped event holds no more than its cap,
//! and each event due during the run is drawn soundly (the winners its
//! seed gives, among participants that include every acknowledged one).

mod outages;
mod traffic;
mod verification;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::setup::{event_body, in_secs, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::output::{self, say};
use crate::plot::{self, Chart, Series};
use crate::stats::Report;
use outages::percentile;
use traffic::Run;
use verification::verify_run;

pub async fn run(args: &Args) -> Result<(), String> {
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
    let started = Instant::now();
    let run = Arc::new(Run::new(api.clone(), users, events.clone(), started));
    let until = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(run.clone().worker(until)))
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    {
        let mut report = run.report.lock().unwrap();
        report.elapsed = elapsed;
        output::phase(&report);
        if let Some(path) = &args.plot {
            plot::write_svg(path, &chart(args, &report))?;
            say!("plot: {path}");
        }
    }

    let (outages, unresolved) = run.outages.ended_and_open();
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
    say!(
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
    say!("cluster-json {summary}");
    output::result("cluster", summary);
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

/// The traffic per second: answers 200 and their p99, failures (503, 502,
/// 504 or no answer), with `--mark`'s lines where cluster.sh put faults.
fn chart(args: &Args, report: &Report) -> Chart {
    Chart {
        caption: format!(
            "cluster: hot-join and share traffic through the balancer, {} connections, {} users",
            args.concurrency, args.users
        ),
        series: vec![Series::at(report, report.started)],
        marks: args.marks.clone(),
        failures: true,
    }
}
