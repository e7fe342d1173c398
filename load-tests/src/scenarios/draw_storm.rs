//! `draw-storm`: K events all due at the same second, each with
//! participants: how long until the last is drawn.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::SubsecRound;
use futures::StreamExt;

use super::setup::{event_body, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::output::{self, say};
use crate::verify;
use crate::wire::Conn;

/// Events one storm user creates or joins at most.
const ACTIONS_PER_USER: usize = 20;

/// The i-th join of a storm: (event index, user index). Event e's
/// participants are users e·per_event … e·per_event + per_event − 1 (mod
/// users), distinct as there are at least per_event users.
fn storm_pair(i: usize, per_event: usize, users: usize) -> (usize, usize) {
    let (event, k) = (i / per_event, i % per_event);
    (event, (event * per_event + k) % users)
}

pub async fn run(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let per_event = args.per_event.max(1);
    // Many people, each doing what a person does: nobody creates or joins
    // more than ACTIONS_PER_USER events, far inside the per-user rate limit.
    let people = |actions: usize| actions.div_ceil(ACTIONS_PER_USER);
    let users = login_many(
        args,
        &format!("storm_{tag}"),
        per_event.max(people(args.events * per_event)),
    )
    .await?;
    let owners = login_many(
        args,
        &format!("storm_owner_{tag}"),
        args.concurrency.max(people(args.events)),
    )
    .await?;
    // Whole seconds: every event gets exactly this draw_at.
    let due = (chrono::Utc::now() + chrono::Duration::seconds(args.lead as i64)).trunc_subsecs(0);
    let due_text = due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ids: Arc<Vec<OnceLock<i64>>> =
        Arc::new((0..args.events).map(|_| OnceLock::new()).collect());
    let (o, s, d) = (owners.clone(), ids.clone(), due_text.clone());
    let created = drive(
        "create",
        args.target,
        args.load(args.lead, Some(args.events)),
        async move |i, conn: &mut Conn| {
            let body = event_body(d.clone(), "at_time", 3);
            let id = conn.create_event(&o[i % o.len()].0, &body).await?;
            let _ = s[i].set(id);
            Ok(())
        },
    )
    .await;
    output::phase(&created);
    let ids: Vec<i64> = ids.iter().filter_map(|c| c.get().copied()).collect();
    if ids.len() != args.events {
        return Err(format!(
            "only {} of {} events were created before the draw time",
            ids.len(),
            args.events
        ));
    }
    let ids = Arc::new(ids);
    let (u, e) = (users.clone(), ids.clone());
    let pairs = ids.len() * per_event;
    let joins = drive(
        "join",
        args.target,
        args.load(args.lead, Some(pairs)),
        async move |i, conn: &mut Conn| {
            let (event, user) = storm_pair(i, per_event, u.len());
            conn.join(&u[user].0, e[event], false).await?.ok()
        },
    )
    .await;
    output::phase(&joins);
    let mut acked: HashMap<i64, HashSet<i64>> = HashMap::new();
    for &i in &joins.succeeded {
        let (event, user) = storm_pair(i, per_event, users.len());
        acked.entry(ids[event]).or_default().insert(users[user].1);
    }
    let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
    eprintln!(
        "draw-storm: {} events due at {due_text}; waiting {:.1}s",
        ids.len(),
        wait.as_secs_f64()
    );
    tokio::time::sleep(wait).await;
    let started = Instant::now();
    let mut pending: Vec<i64> = ids.to_vec();
    let mut last_drawn = due;
    while !pending.is_empty() {
        if started.elapsed() > Duration::from_secs(args.seconds.max(30) * 4) {
            return Err(format!(
                "{} events still not drawn after {:?}",
                pending.len(),
                started.elapsed()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut still = vec![];
        let mut answers = futures::stream::iter(pending)
            .map(|id| {
                let api = api.clone();
                async move { (id, api.event(id).await) }
            })
            .buffer_unordered(32);
        while let Some((id, answer)) = answers.next().await {
            let e = answer?;
            match e["status"].as_str() {
                Some("drawn") => {
                    if let Some(t) = e["drawn_at"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    {
                        last_drawn = last_drawn.max(t.with_timezone(&chrono::Utc));
                    }
                }
                _ => still.push(id),
            }
        }
        eprintln!(
            "  draw-storm: {:>5.1}s after due, {} not drawn yet",
            started.elapsed().as_secs_f64(),
            still.len()
        );
        pending = still;
    }
    let spread = (last_drawn - due).num_milliseconds() as f64 / 1000.0;
    say!(
        "draw-storm: {} events due at one second, the last drawn {spread:.2}s after the due time",
        ids.len()
    );
    output::result("events", ids.len());
    output::result("last_drawn_after_s", spread);
    let empty = HashSet::new();
    let mut checks = futures::stream::iter(ids.iter().copied())
        .map(|id| {
            let (api, expected) = (api.clone(), acked.get(&id).unwrap_or(&empty));
            async move { verify::draw_is_sound(&api, id, Some(expected)).await }
        })
        .buffer_unordered(16);
    let mut verified = 0;
    while let Some(result) = checks.next().await {
        result?;
        verified += 1;
        if verified % 1000 == 0 {
            eprintln!("  verified {verified} draws");
        }
    }
    output::verified(format!(
        "{} draws reproduce from their seeds and took exactly the acknowledged participants",
        ids.len()
    ));
    Ok(())
}
