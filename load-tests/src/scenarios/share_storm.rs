//! share-storm: the mini-program's flow when a lottery is shared in a big
//! group. Each fresh user opens the page, joins asking for notice and opens
//! the page again; the event draws at its time while views go on; then
//! every user reads the result (`me.prize`) and the winners list.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::SubsecRound;
use serde_json::Value;

use super::setup::{event_body, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::drive::Load;
use crate::output::{self, say};
use crate::plot::{self, Chart, Mark, Series};
use crate::verify;
use crate::wire::Conn;

/// Statuses a page can show, in the order an event goes through them.
fn rank(status: &Value) -> u8 {
    match status.as_str() {
        Some("open") => 0,
        Some("locked") => 1,
        Some("drawn") => 2,
        _ => 3,
    }
}

/// The chart's resolution: with tens of thousands of users the share and
/// result phases last about a second each.
const STRETCH: Duration = Duration::from_millis(250);

fn phase(args: &Args, seconds: u64, count: Option<usize>) -> Load {
    Load {
        resolution: STRETCH,
        ..args.load(seconds, count)
    }
}

pub async fn run(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.base, 8);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("share_owner_{tag}")).await?;
    let users = login_many(args, &format!("share_{tag}"), args.users).await?;
    let n = users.len();
    let lead = args.lead.max(2);
    let draw_at = (chrono::Utc::now() + chrono::Duration::seconds(lead as i64)).trunc_subsecs(0);
    let draw_text = draw_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event_id = api
        .create_event(
            &owner,
            event_body(draw_text.clone(), "at_time", args.prizes),
        )
        .await?;
    // The draw time on the generator's clock, for the chart's mark.
    let draw_instant = Instant::now() + (draw_at - chrono::Utc::now()).to_std().unwrap_or_default();
    let page = Arc::new(format!("/api/v1/events/{event_id}"));
    eprintln!("share-storm: event {event_id}, {n} users, draw at {draw_text}");

    // 1. open, join (notify), open again: until every user is through or
    // one second before the draw.
    let joined: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(false)).collect());
    let stale = Arc::new(AtomicU64::new(0));
    let (u, p, j, st) = (users.clone(), page.clone(), joined.clone(), stale.clone());
    let flow = drive(
        "share",
        args.target,
        phase(args, lead - 1, Some(n)),
        async move |i, conn: &mut Conn| {
            let token = u[i].0.as_str();
            let before = conn.get("open", &p, Some(token)).await?.data()?;
            if before["status"] != "open" {
                return Err(format!("page shows {}", before["status"]));
            }
            conn.join(token, event_id, true).await?.ok()?;
            j[i].store(true, Ordering::Relaxed);
            let after = conn.get("reopen", &p, Some(token)).await?.data()?;
            if after["me"]["joined"] != true {
                st.fetch_add(1, Ordering::Relaxed);
                return Err("the page after a join does not show it".into());
            }
            Ok(())
        },
    )
    .await;
    output::phase(&flow);

    // 2. Views go on across the draw: a view sent after another view showed
    // the event drawn must show it drawn too (no cache may serve an older
    // state once the new one was served).
    let drawn_seen = Arc::new(AtomicBool::new(false));
    let backwards = Arc::new(AtomicU64::new(0));
    let until = (draw_at - chrono::Utc::now()).num_seconds().max(0) as u64 + 3;
    let (u, p, seen, back) = (
        users.clone(),
        page.clone(),
        drawn_seen.clone(),
        backwards.clone(),
    );
    let during = drive(
        "views across the draw",
        args.target,
        phase(args, until, None),
        async move |i, conn: &mut Conn| {
            let after_drawn = seen.load(Ordering::Acquire);
            let view = conn.get("view", &p, Some(&u[i % n].0)).await?.data()?;
            let r = rank(&view["status"]);
            if r == 2 {
                seen.store(true, Ordering::Release);
            } else if after_drawn {
                back.fetch_add(1, Ordering::Relaxed);
                return Err(format!("{} after drawn", view["status"]));
            }
            Ok(())
        },
    )
    .await;
    output::phase(&during);
    let event = wait_drawn(&api, event_id).await?;
    let drawn_at = event["drawn_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .ok_or("a drawn event without drawn_at")?;
    let lag = (drawn_at.with_timezone(&chrono::Utc) - draw_at).num_milliseconds() as f64 / 1000.0;

    // 3. Every user reads the result and the winners list.
    let results: Arc<Vec<OnceLock<Option<i64>>>> =
        Arc::new((0..n).map(|_| OnceLock::new()).collect());
    let first_winners: Arc<OnceLock<Bytes>> = Arc::default();
    let (u, p, r, w) = (
        users.clone(),
        page.clone(),
        results.clone(),
        first_winners.clone(),
    );
    let winners_path = format!("/api/v1/events/{event_id}/winners");
    let read = drive(
        "result",
        args.target,
        phase(args, args.seconds.max(30), Some(n)),
        async move |i, conn: &mut Conn| {
            let view = conn.get("result", &p, Some(&u[i].0)).await?.data()?;
            if view["status"] != "drawn" {
                return Err(format!("result page shows {}", view["status"]));
            }
            let _ = r[i].set(view["me"]["prize"]["id"].as_i64());
            let list = conn.get("winners", &winners_path, Some(&u[i].0)).await?;
            list.ok()?;
            if *w.get_or_init(|| list.body.clone()) != list.body {
                return Err("two answers of the winners list differ".into());
            }
            Ok(())
        },
    )
    .await;
    output::phase(&read);
    if let Some(path) = &args.plot {
        let origin = flow.started;
        let chart = Chart {
            caption: format!(
                "share-storm: {n} users, {} connections (a share item: open + join + reopen; a result item: result + winners)",
                args.concurrency
            ),
            series: [&flow, &during, &read]
                .into_iter()
                .map(|r| Series::at(r, origin))
                .collect(),
            marks: vec![Mark {
                at: draw_instant.saturating_duration_since(origin).as_secs_f64(),
                label: format!("draw_at (drawn {lag:.2} s after)"),
            }],
            failures: false,
        };
        plot::write_svg(path, &chart)?;
        say!("plot: {path}");
    }

    // Verification.
    let acked: HashSet<i64> = (0..n)
        .filter(|&i| joined[i].load(Ordering::Relaxed))
        .map(|i| users[i].1)
        .collect();
    verify::participants_are(&api, event_id, &acked).await?;
    verify::draw_is_sound(&api, event_id, Some(&acked)).await?;
    let list = api
        .get_data(&format!("/api/v1/events/{event_id}/winners"))
        .await?;
    let won: HashMap<i64, i64> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| Some((w["user"]["id"].as_i64()?, w["prize"]["id"].as_i64()?)))
        .collect();
    let mut checked = 0;
    for (i, result) in results.iter().enumerate() {
        if let Some(prize) = result.get() {
            let user = users[i].1;
            if *prize != won.get(&user).copied() {
                return Err(format!(
                    "user {user}: me.prize {prize:?}, the winners list {:?}",
                    won.get(&user)
                ));
            }
            checked += 1;
        }
    }
    let stale = stale.load(Ordering::Relaxed);
    let backwards = backwards.load(Ordering::Relaxed);
    if stale > 0 || backwards > 0 {
        return Err(format!(
            "{stale} pages right after a join did not show it; {backwards} views showed an older state after one showed the draw"
        ));
    }
    say!(
        "share-storm: {} users through open + join + reopen at {:.0} users/s; drawn {lag:.2}s after draw_at; {} users read their result and the winners at {:.0} users/s",
        flow.ok(),
        flow.rate(),
        read.ok(),
        read.rate()
    );
    output::result("users_through", flow.ok());
    output::result("users_through_per_second", flow.rate());
    output::result("drawn_after_draw_at_s", lag);
    output::result("results_read", read.ok());
    output::result("results_read_per_second", read.rate());
    output::verified(format!(
        "{} acknowledged joins stored and drawn from, {} distinct winners re-run from the seed, {checked} users' me.prize agree with the winners list, no stale page",
        acked.len(),
        won.len()
    ));
    Ok(())
}

/// The event's page once it shows `drawn` (at most a minute of polling).
async fn wait_drawn(api: &Api, event_id: i64) -> Result<Value, String> {
    let started = Instant::now();
    loop {
        let event = api.event(event_id).await?;
        if event["status"] == "drawn" {
            return Ok(event);
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "event {event_id} still {} a minute after its draw time",
                event["status"]
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
