//! `notices`: one manual event, `--users` participants who all ask for
//! notice, then `POST /draw`. The draw's transaction records their
//! notices (a fan-out the notifier expands into outbox rows), so its answer
//! time is the draw with its notices; then the notifier drains them into the WeChat mock (`wechat-mock`, whose
//! `/stats` counts what arrived) at the server's `LOTTERY_NOTIFY_RATE`,
//! which `--rate` tells this tool (a figure to compare with, not a load rate). Verifies: every participant got exactly
//! one message, none twice.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::setup::{event_body, in_secs, join_op, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::output::{self, say};

/// What the mock has counted so far (`before` a draw, to count from).
pub async fn mock_stats(http: &reqwest::Client, wechat: &str) -> Result<Value, String> {
    http.get(format!("{wechat}/stats"))
        .send()
        .await
        .map_err(|e| format!("wechat-mock: {e}"))?
        .json()
        .await
        .map_err(|e| format!("wechat-mock stats: {e}"))
}

fn count(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or(0)
}

pub async fn run(args: &Args) -> Result<(), String> {
    let wechat = args
        .wechat
        .as_deref()
        .ok_or("notices needs --wechat, the URL of `lottery-load wechat-mock`")?;
    let http = reqwest::Client::new();
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("notice_owner_{tag}")).await?;
    let event_id = api
        .create_event(&owner, event_body(in_secs(3600), "manual", args.prizes))
        .await?;
    let users = login_many(args, &format!("notice_{tag}"), args.users).await?;
    let joins = drive(
        "join (notify)",
        args.target,
        args.load(3600, Some(users.len())),
        join_op(&users, event_id, true),
    )
    .await;
    output::phase(&joins);
    let n = joins.ok() as u64;
    if n != users.len() as u64 {
        return Err(format!("only {n} of {} joins succeeded", users.len()));
    }
    let before = mock_stats(&http, wechat).await?;
    let started = Instant::now();
    let took = api.draw(&owner, event_id).await?;
    say!(
        "notices: {n} participants with notice; POST /draw (winners and the notices to {n} participants in one transaction) answered in {:.3}s",
        took.as_secs_f64()
    );
    output::result("participants", n);
    output::result("draw_answer_s", took.as_secs_f64());

    await_drain(&http, wechat, &before, n, args, started).await
}

/// Waits for `n` messages more than `before` at the mock, bounded by twice
/// the time `notify_rate` allows plus a minute; reports the drain (rate
/// against the configured one, busiest second, token fetches) and checks
/// that each of the `n` participants got exactly one.
pub async fn await_drain(
    http: &reqwest::Client,
    wechat: &str,
    before: &Value,
    n: u64,
    args: &super::Args,
    started: Instant,
) -> Result<(), String> {
    let notify_rate = args.notify_rate;
    // Bounded: twice the time the rate allows, plus a minute.
    let bound = Duration::from_secs_f64(60.0 + 2.0 * n as f64 / notify_rate);
    let mut stats;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stats = mock_stats(http, wechat).await?;
        // Distinct recipients: a repeat (allowed after a crash) does not
        // stand in for someone never notified.
        let arrived = count(&stats, "distinct") - count(before, "distinct");
        if arrived >= n {
            break;
        }
        if started.elapsed() > bound {
            return Err(format!(
                "only {arrived} of {n} notices arrived in {bound:?}"
            ));
        }
        eprintln!("notices: {arrived}/{n} arrived");
    }
    // Anything late (a repeat) shows within a claim's poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stats = mock_stats(http, wechat).await?;
    let arrived = count(&stats, "distinct") - count(before, "distinct");
    let twice = count(&stats, "twice") - count(before, "twice");
    let span = stats["span_secs"].as_f64().unwrap_or(0.0);
    let drain_rate = (n.saturating_sub(1)) as f64 / span.max(1e-9);
    let busiest = stats["per_second"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_u64).max().unwrap_or(0))
        .unwrap_or(0);
    let fetches = count(&stats, "token_fetches") - count(before, "token_fetches");
    say!(
        "notices: {arrived} messages in {span:.1}s after the first: {drain_rate:.0}/s against the configured {} ({:.2}), busiest second {busiest}; drawn to last message {:.1}s; {fetches} token fetches during the drain",
        notify_rate,
        drain_rate / notify_rate,
        started.elapsed().as_secs_f64() - 2.0,
    );
    output::result(
        "drain",
        serde_json::json!({
            "messages": arrived,
            "twice": twice,
            "span_s": span,
            "rate": drain_rate,
            "configured_rate": notify_rate,
            "busiest_second": busiest,
            "token_fetches": fetches,
        }),
    );
    let allowed = args.repeats_allowed;
    if arrived != n || twice > allowed {
        return Err(format!(
            "{arrived} participants notified of {n}, {twice} messages repeated ({allowed} allowed)"
        ));
    }
    if allowed == 0 {
        output::verified(format!(
            "each of the {n} participants got exactly one message"
        ));
    } else {
        output::verified(format!(
            "each of the {n} participants got a message; {twice} repeated, of at most {allowed} in flight"
        ));
    }
    Ok(())
}
