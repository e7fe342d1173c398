//! The scenarios. Each prints what it measured and ends with a
//! verification pass; a failed verification exits non-zero.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::SubsecRound;
use futures::StreamExt;
use rand::Rng;
use serde_json::{json, Value};

use crate::api::Api;
use crate::stats::{drive, Report, Target};
use crate::verify;
use crate::wire::Conn;

pub struct Args {
    pub base: String,
    /// The server's address and the generator's threads, for timed phases.
    pub target: Target,
    pub concurrency: usize,
    pub users: usize,
    pub seconds: u64,
    pub events: usize,
    pub per_event: usize,
    pub lead: u64,
    /// Prize slots of a big-draw event (at most 100,000).
    pub prizes: u32,
    pub record: Option<String>,
    /// Where `ratio` writes its SVG chart.
    pub plot: Option<String>,
    /// The `wechat-mock` the server sends its notices to (`notices`).
    pub wechat: Option<String>,
    /// The server's LOTTERY_NOTIFY_RATE, to compare the drain with.
    pub rate: u64,
}

pub type Users = Arc<Vec<(String, i64)>>;

/// A tag that keeps this run's dev users apart from earlier runs'.
pub fn run_tag() -> String {
    format!("{:x}", chrono::Utc::now().timestamp_millis())
}

pub fn in_secs(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339()
}

/// An event whose prizes add up to `slots` (a first prize of one, then
/// prizes of at most 10,000 each, as the contract allows).
pub fn event_body(draw_at: String, mode: &str, slots: u32) -> Value {
    let mut prizes = vec![json!({"name": "first", "quantity": 1})];
    let mut left = slots.saturating_sub(1);
    while left > 0 && prizes.len() < 20 {
        let quantity = left.min(10_000);
        prizes.push(json!({"name": format!("prize {}", prizes.len() + 1), "quantity": quantity}));
        left -= quantity;
    }
    json!({"title": "load test", "draw_at": draw_at, "draw_mode": mode, "prizes": prizes})
}

/// Logs in `n` fresh dev users (not timed as part of a scenario).
pub async fn login_many(args: &Args, prefix: &str, n: usize) -> Result<Users, String> {
    let slots: Arc<Vec<OnceLock<(String, i64)>>> =
        Arc::new((0..n).map(|_| OnceLock::new()).collect());
    let (s, p) = (slots.clone(), prefix.to_string());
    let report = drive(
        "login",
        args.target,
        args.concurrency,
        3600,
        Some(n),
        async move |i, conn: &mut Conn| {
            let user = conn.login(&format!("{p}_{i}")).await?;
            let _ = s[i].set(user);
            Ok(())
        },
    )
    .await;
    report.print();
    if report.ok() != n {
        return Err(format!("only {} of {n} logins succeeded", report.ok()));
    }
    Ok(Arc::new(
        slots
            .iter()
            .map(|s| s.get().cloned().expect("logged in"))
            .collect(),
    ))
}

pub async fn healthz(args: &Args) -> Report {
    let report = drive(
        "healthz",
        args.target,
        args.concurrency,
        args.seconds,
        None,
        async |_, conn: &mut Conn| conn.get("healthz", "/healthz", None).await?.ok(),
    )
    .await;
    report.print();
    report
}

/// User i joins the event.
pub fn join_op(
    users: &Users,
    event_id: i64,
    notify: bool,
) -> impl AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static {
    let users = users.clone();
    async move |i, conn: &mut Conn| conn.join(&users[i].0, event_id, notify).await?.ok()
}

/// N fresh users join one event as fast as they can.
pub async fn hot_join(args: &Args) -> Result<Report, String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("hot_owner_{tag}")).await?;
    let event_id = api
        .create_event(&owner, event_body(in_secs(3600), "manual", 10))
        .await?;
    let users = login_many(args, &format!("hot_{tag}"), args.users).await?;
    eprintln!(
        "hot-join: event {event_id}, {} users, {} connections",
        args.users, args.concurrency
    );
    let report = drive(
        "hot-join",
        args.target,
        args.concurrency,
        args.seconds,
        Some(users.len()),
        join_op(&users, event_id, false),
    )
    .await;
    report.print();
    let acked: HashSet<i64> = report.succeeded.iter().map(|&i| users[i].1).collect();
    if let Some(path) = &args.record {
        let mut file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        for id in &acked {
            writeln!(file, "{event_id} {id}").map_err(|e| e.to_string())?;
        }
        eprintln!(
            "hot-join: {} acknowledged joins recorded in {path}",
            acked.len()
        );
        return Ok(report);
    }
    verify::participants_are(&api, event_id, &acked).await?;
    println!(
        "verify: event {event_id} holds exactly the {} joins answered 200",
        acked.len()
    );
    Ok(report)
}

/// After a crash and restart: every join recorded as acknowledged is stored.
pub async fn verify_joins(args: &Args) -> Result<(), String> {
    let path = args
        .record
        .as_ref()
        .ok_or("verify-joins needs --record FILE")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut by_event: HashMap<i64, HashSet<i64>> = HashMap::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace().map(|p| p.parse::<i64>());
        if let (Some(Ok(e)), Some(Ok(u))) = (parts.next(), parts.next()) {
            by_event.entry(e).or_default().insert(u);
        }
    }
    let api = Api::new(&args.base, 4);
    for (event_id, acked) in by_event {
        let stored: HashSet<i64> = api.participants(event_id).await?.into_iter().collect();
        let missing = acked.difference(&stored).count();
        println!(
            "verify-joins: event {event_id}: {} acknowledged, {} stored, {missing} acknowledged but missing",
            acked.len(),
            stored.len()
        );
        if missing > 0 {
            return Err("acknowledged joins were lost".into());
        }
    }
    Ok(())
}

/// Mini-program traffic over many events: browse, join, leave, list.
/// A user's requests never overlap (a lock per user, held until the answer
/// is recorded), so the last acknowledged answer per (user, event) is the
/// state the server must hold. (Two overlapping requests of one user are
/// answered by the same commit, in an order the client cannot see.)
pub async fn mixed(args: &Args) -> Result<Report, String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("mixed_owner_{tag}")).await?;
    let mut events = vec![];
    for _ in 0..args.events.max(1) {
        events.push(
            api.create_event(&owner, event_body(in_secs(3600), "at_time", 3))
                .await?,
        );
    }
    let users = login_many(
        args,
        &format!("mixed_{tag}"),
        args.users.max(args.concurrency),
    )
    .await?;
    let events = Arc::new(events);
    // (user index, event) → joined, as last acknowledged.
    let expected: Arc<Mutex<HashMap<(usize, i64), bool>>> = Arc::default();
    let turns: Arc<Vec<tokio::sync::Mutex<()>>> = Arc::new(
        (0..users.len())
            .map(|_| tokio::sync::Mutex::new(()))
            .collect(),
    );
    let (u, ev, exp) = (users.clone(), events.clone(), expected.clone());
    let op = async move |_, conn: &mut Conn| -> Result<(), String> {
        let (users, events, expected, t) = (&u, &ev, &exp, &turns);
        {
            let (roll, user, event) = {
                let mut rng = rand::rng();
                (
                    rng.random_range(0..100),
                    rng.random_range(0..users.len()),
                    events[rng.random_range(0..events.len())],
                )
            };
            let _turn = t[user].lock().await;
            let token = &users[user].0;
            let answer = match roll {
                0..60 => {
                    conn.get("view", &format!("/api/v1/events/{event}"), Some(token))
                        .await?
                }
                60..85 => conn.join(token, event, false).await?,
                85..95 => conn.leave(token, event).await?,
                _ => {
                    conn.get(
                        "participants",
                        &format!("/api/v1/events/{event}/participants?limit=20"),
                        None,
                    )
                    .await?
                }
            };
            let data = answer.data()?;
            if (60..95).contains(&roll) {
                expected
                    .lock()
                    .unwrap()
                    .insert((user, event), data["joined"] == true);
            }
            Ok(())
        }
    };
    let report = drive(
        "mixed",
        args.target,
        args.concurrency,
        args.seconds,
        None,
        op,
    )
    .await;
    report.print();
    let expected = expected.lock().unwrap().clone();
    for &event in events.iter() {
        let members: HashSet<i64> = expected
            .iter()
            .filter(|((_, e), joined)| *e == event && **joined)
            .map(|((u, _), _)| users[*u].1)
            .collect();
        verify::participants_are(&api, event, &members).await?;
    }
    println!(
        "verify: {} events hold exactly their acknowledged participants",
        events.len()
    );
    Ok(report)
}

/// K events all due at the same second, each with participants: how long
/// until the last is drawn.
/// Events one storm user creates or joins at most.
const ACTIONS_PER_USER: usize = 20;

/// The i-th join of a storm: (event index, user index). Event e's
/// participants are users e·per_event … e·per_event + per_event − 1 (mod
/// users), distinct as there are at least per_event users.
fn storm_pair(i: usize, per_event: usize, users: usize) -> (usize, usize) {
    let (event, k) = (i / per_event, i % per_event);
    (event, (event * per_event + k) % users)
}

pub async fn draw_storm(args: &Args) -> Result<(), String> {
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
        args.concurrency,
        args.lead,
        Some(args.events),
        async move |i, conn: &mut Conn| {
            let body = event_body(d.clone(), "at_time", 3);
            let id = conn.create_event(&o[i % o.len()].0, &body).await?;
            let _ = s[i].set(id);
            Ok(())
        },
    )
    .await;
    created.print();
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
        args.concurrency,
        args.lead,
        Some(pairs),
        async move |i, conn: &mut Conn| {
            let (event, user) = storm_pair(i, per_event, u.len());
            conn.join(&u[user].0, e[event], false).await?.ok()
        },
    )
    .await;
    joins.print();
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
    println!(
        "draw-storm: {} events due at one second, the last drawn {spread:.2}s after the due time",
        ids.len()
    );
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
    println!("verify: {} draws reproduce from their seeds and took exactly the acknowledged participants", ids.len());
    Ok(())
}

/// One event with `--users` participants, then the draw.
pub async fn big_draw(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let (owner, _) = api.login(&format!("big_owner_{tag}")).await?;
    let event_id = api
        .create_event(&owner, event_body(in_secs(3600), "manual", args.prizes))
        .await?;
    let users = login_many(args, &format!("big_{tag}"), args.users).await?;
    let joins = drive(
        "join",
        args.target,
        args.concurrency,
        3600,
        Some(users.len()),
        join_op(&users, event_id, false),
    )
    .await;
    joins.print();
    let acked: HashSet<i64> = joins.succeeded.iter().map(|&i| users[i].1).collect();
    let took = api.draw(&owner, event_id).await?;
    println!("big-draw: {} participants drawn; POST /draw answered in {:.3}s (committed before the answer)", acked.len(), took.as_secs_f64());
    let winners = verify::draw_is_sound(&api, event_id, Some(&acked)).await?;
    println!("verify: {winners} distinct winners reproduce from the seed; the draw took exactly the {} acknowledged participants", acked.len());
    Ok(())
}
