//! `million`: one event joined by `--users` fresh users (a million for
//! issue 26), every one asking for notice, its live page viewed during the
//! joins, then the draw, every user reading their result, the fairness
//! record fetched compressed, and the notices drained into the WeChat mock;
//! verified throughout: every 200 stored, the draw re-run from the record,
//! each participant notified exactly once.
//!
//! Sessions come in bulk (`POST /load-test/sessions`), so a million logins
//! do not dominate the run, a block of `BLOCK` users at a time just before
//! that block joins (and reads its results), as people log in shortly
//! before they join; the timed phases count only the joins and reads. `--stage joins` stops after the joins and
//! writes `--state`; `--stage draw` goes on from it (million.sh restarts
//! the server between the two, to time the reload of a live event of that
//! size); `--stage all` does both without a restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use super::notices::{await_drain, mock_stats};
use super::setup::{event_body, in_secs, join_op, run_tag, Users};
use super::Args;
use crate::api::Api;
use crate::drive::{drive, drive_until, Load, Target};
use crate::output::{self, say};
use crate::verify;
use crate::wire::Conn;

/// What `--stage joins` leaves for `--stage draw`.
struct Run {
    event_id: i64,
    tag: String,
    users: usize,
}

/// Sessions per bulk request (the server's most).
const BULK: usize = 10_000;
/// Users whose sessions are made before they join (or read) together: a
/// tenth of an instance's session cache (`trust::MAX_ENTRIES`), so a
/// block's sessions are all still cached when it joins. Made all at once
/// before a million joins, half of them would no longer be, and those
/// joins would each ask Redis (docs/BENCHMARKS.md measures both).
const BLOCK: usize = 100_000;

pub async fn run(args: &Args) -> Result<(), String> {
    let wechat = args
        .wechat
        .as_deref()
        .ok_or("million needs --wechat, the URL of `lottery-load wechat-mock`")?;
    let api = Api::new(&args.base, args.concurrency);
    let run = match args.stage.as_str() {
        "draw" => read_state(args)?,
        _ => joins(args, &api).await?,
    };
    if args.stage == "joins" {
        let state = args.state.as_deref().ok_or("--stage joins needs --state")?;
        let text = json!({"event_id": run.event_id, "tag": run.tag, "users": run.users});
        std::fs::write(state, text.to_string()).map_err(|e| format!("{state}: {e}"))?;
        say!("million: joins done; the run is in {state} for --stage draw");
        return Ok(());
    }
    draw(args, &api, wechat, &run).await
}

fn read_state(args: &Args) -> Result<Run, String> {
    let state = args.state.as_deref().ok_or("--stage draw needs --state")?;
    let text = std::fs::read_to_string(state).map_err(|e| format!("{state}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{state}: {e}"))?;
    Ok(Run {
        event_id: v["event_id"].as_i64().ok_or("state: event_id")?,
        tag: v["tag"].as_str().ok_or("state: tag")?.to_string(),
        users: v["users"].as_u64().ok_or("state: users")? as usize,
    })
}

/// Users `<prefix>_<first>` … `<prefix>_<end - 1>` in bulk requests of
/// `BULK`, two at a time.
async fn bulk_users(api: &Api, prefix: &str, first: usize, end: usize) -> Result<Users, String> {
    let chunks: Vec<(u64, u32)> = (first..end)
        .step_by(BULK)
        .map(|from| (from as u64, (end - from).min(BULK) as u32))
        .collect();
    let parts: Vec<Result<Vec<(String, i64)>, String>> = futures::stream::iter(chunks)
        .map(|(first, count)| {
            let (api, prefix) = (api.clone(), prefix.to_string());
            async move { api.bulk_sessions(&prefix, first, count).await }
        })
        .buffered(2)
        .collect()
        .await;
    let mut users = Vec::with_capacity(end - first);
    for part in parts {
        users.extend(part?);
    }
    Ok(Arc::new(users))
}

/// Runs `phase` over the users block by block, each block's sessions made
/// just before it; the phase's reports merged (elapsed: the phases' own
/// time, not the sessions'). Returns the merged report and every user.
async fn in_blocks<F, Fut>(
    api: &Api,
    prefix: &str,
    n: usize,
    mut phase: F,
) -> Result<(crate::stats::Report, Vec<(String, i64)>), String>
where
    F: FnMut(Users) -> Fut,
    Fut: std::future::Future<Output = crate::stats::Report>,
{
    let mut merged: Option<crate::stats::Report> = None;
    let mut everyone = Vec::with_capacity(n);
    let mut sessions = Duration::ZERO;
    for first in (0..n).step_by(BLOCK) {
        let started = Instant::now();
        let users = bulk_users(api, prefix, first, (first + BLOCK).min(n)).await?;
        sessions += started.elapsed();
        let report = phase(users.clone()).await;
        everyone.extend(users.iter().cloned());
        merged = Some(match merged {
            None => report,
            Some(mut total) => {
                let elapsed = total.elapsed + report.elapsed;
                total.merge(report);
                total.elapsed = elapsed;
                total
            }
        });
    }
    let took = sessions.as_secs_f64();
    say!(
        "sessions: {n} users with sessions in {took:.1}s ({:.0}/s, bulk, a block of {BLOCK} before its phase)",
        n as f64 / took.max(1e-9)
    );
    output::result("sessions_s", took);
    Ok((merged.ok_or("no users")?, everyone))
}

fn owner_prefix(tag: &str) -> String {
    format!("mo{tag}")
}

fn users_prefix(tag: &str) -> String {
    format!("m{tag}")
}

async fn owner(api: &Api, tag: &str) -> Result<String, String> {
    let mut one = api.bulk_sessions(&owner_prefix(tag), 0, 1).await?;
    Ok(one.pop().ok_or("no owner session")?.0)
}

async fn joins(args: &Args, api: &Api) -> Result<Run, String> {
    let tag = run_tag();
    let owner = owner(api, &tag).await?;
    let event_id = api
        .create_event(&owner, event_body(in_secs(86_400), "manual", args.prizes))
        .await?;
    output::result("event_id", event_id);
    let viewers = bulk_users(api, &format!("mv{tag}"), 0, 64).await?;

    // The live page during the joins, with a token (its `me` is filled),
    // at --view-rate: a fixed rate, so its latencies count any wait
    // behind the joins.
    let stop = Arc::new(AtomicBool::new(false));
    let views = {
        let (users, stop) = (viewers, stop.clone());
        let path = format!("/api/v1/events/{event_id}");
        let load = Load {
            concurrency: 4,
            seconds: 3600,
            count: None,
            pace: Some(args.view_rate),
            resolution: Duration::from_secs(1),
        };
        let target = Target {
            addr: args.target.addr,
            threads: 1,
        };
        tokio::spawn(async move {
            drive_until(
                "live page (during the joins)",
                target,
                load,
                Some(stop),
                async move |i, conn: &mut Conn| {
                    let token = &users[(i * 7919) % users.len()].0;
                    conn.get("view", &path, Some(token)).await?.ok()
                },
            )
            .await
        })
    };
    let joined = in_blocks(api, &users_prefix(&tag), args.users, |users| {
        drive(
            "join (notify)",
            args.target,
            args.load(3600, Some(users.len())),
            join_op(&users, event_id, true),
        )
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (joined, users) = joined?;
    let views = views.await.map_err(|e| format!("views: {e}"))?;
    output::phase(&joined);
    output::phase(&views);
    if joined.ok() != users.len() {
        return Err(format!(
            "only {} of {} joins succeeded",
            joined.ok(),
            users.len()
        ));
    }
    let failed_views: u64 = views.errors.values().sum();
    if failed_views > 0 {
        return Err(format!("{failed_views} views failed"));
    }
    Ok(Run {
        event_id,
        tag,
        users: users.len(),
    })
}

async fn draw(args: &Args, api: &Api, wechat: &str, run: &Run) -> Result<(), String> {
    let n = run.users;
    let event_id = run.event_id;
    let page = format!("/api/v1/events/{event_id}");
    // After a restart the event's actor loads its members on first touch:
    // the first view's time is the reload's.
    let started = Instant::now();
    let event = api.event(event_id).await?;
    let reload = started.elapsed().as_secs_f64();
    say!("million: first view of the live event answered in {reload:.3}s");
    output::result("first_view_s", reload);
    if event["status"] != "open" || event["participant_count"].as_u64() != Some(n as u64) {
        return Err(format!(
            "before the draw: status {} with {} participants, {n} acknowledged",
            event["status"], event["participant_count"]
        ));
    }
    let owner = owner(api, &run.tag).await?;

    let http = reqwest::Client::new();
    let before = mock_stats(&http, wechat).await?;
    let drawn_at = Instant::now();
    let took = api.draw(&owner, event_id).await?;
    say!(
        "million: {n} participants with notice; POST /draw answered in {:.3}s (committed before the answer)",
        took.as_secs_f64()
    );
    output::result("participants", n);
    output::result("draw_answer_s", took.as_secs_f64());

    // Every user reads their result (the same users as the joins: bulk
    // sessions of the same names, a block at a time).
    let winners = Arc::new(AtomicUsize::new(0));
    let (results, users) = in_blocks(api, &users_prefix(&run.tag), n, |users| {
        let (winners, page) = (winners.clone(), page.clone());
        drive(
            "result (every participant)",
            args.target,
            args.load(3600, Some(users.len())),
            async move |i, conn: &mut Conn| {
                let data = conn.get("result", &page, Some(&users[i].0)).await?.data()?;
                if data["me"]["joined"] != true {
                    return Err("not joined".into());
                }
                if !data["me"]["prize"].is_null() {
                    winners.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            },
        )
    })
    .await?;
    let acked: HashSet<i64> = users.iter().map(|u| u.1).collect();
    output::phase(&results);
    let won = winners.load(Ordering::Relaxed);
    let slots = (args.prizes as usize).min(n);
    if results.ok() != n || won != slots {
        return Err(format!(
            "{} of {n} results read, {won} winners for {slots} prize slots",
            results.ok()
        ));
    }

    // The fairness record, compressed: built on first request, then cached.
    let fairness = format!("{page}/fairness");
    for round in ["first", "again"] {
        let started = Instant::now();
        let (status, bytes, encoding) = api.get_encoded(&fairness).await?;
        let took = started.elapsed().as_secs_f64();
        if status != 200 {
            return Err(format!("GET {fairness}: HTTP {status}"));
        }
        say!("million: /fairness ({round}) answered in {took:.3}s: {bytes} bytes, {encoding}");
        output::result(
            &format!("fairness_{round}"),
            json!({"seconds": took, "bytes": bytes, "encoding": encoding}),
        );
    }
    let started = Instant::now();
    let winners = verify::draw_is_sound(api, event_id, Some(&acked)).await?;
    output::verified(format!(
        "{winners} distinct winners reproduce from the seed, the draw took exactly the {n} acknowledged participants ({:.1}s)",
        started.elapsed().as_secs_f64()
    ));
    await_drain(&http, wechat, &before, n as u64, args, drawn_at).await
}
