//! `mixed`: mini-program traffic over many events: browse, join, leave, list
//! (closed-loop, or at `--rate`).
//! A user's requests never overlap (a lock per user, held until the answer
//! is recorded), so the last acknowledged answer per (user, event) is the
//! state the server must hold. (Two overlapping requests of one user are
//! answered by the same commit, in an order the client cannot see.)

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rand::Rng;

use super::setup::{event_body, in_secs, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::output;
use crate::stats::Report;
use crate::verify;
use crate::wire::Conn;

pub async fn run(args: &Args) -> Result<Report, String> {
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
    let report = drive("mixed", args.target, args.timed(None), op).await;
    output::phase(&report);
    let expected = expected.lock().unwrap().clone();
    for &event in events.iter() {
        let members: HashSet<i64> = expected
            .iter()
            .filter(|((_, e), joined)| *e == event && **joined)
            .map(|((u, _), _)| users[*u].1)
            .collect();
        verify::participants_are(&api, event, &members).await?;
    }
    output::verified(format!(
        "{} events hold exactly their acknowledged participants",
        events.len()
    ));
    Ok(report)
}
