//! `hot-join`: N fresh users join one event as fast as they can.

use std::collections::HashSet;
use std::io::Write;

use super::setup::{event_body, in_secs, join_op, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::stats::{drive, Report};
use crate::verify;

pub async fn run(args: &Args) -> Result<Report, String> {
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
