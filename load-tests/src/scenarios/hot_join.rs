//! `hot-join`: N fresh users join one event as fast as they can (or at
//! `--rate`).

use std::collections::HashSet;
use std::io::Write;

use serde_json::json;

use super::setup::{
    event_body, in_secs, join_bodies, join_op_with, login_many, run_tag, with_rules, LOAD_GROUP,
};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::output;
use crate::stats::Report;
use crate::verify;

pub async fn run(args: &Args) -> Result<Report, String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let owner_name = format!("hot_owner_{tag}");
    let (owner, _) = api.login(&owner_name).await?;
    let rules = args.rules.as_deref();
    let event_id = api
        .create_event(
            &owner,
            with_rules(event_body(in_secs(3600), "manual", 10), rules),
        )
        .await?;
    if rules == Some("group") {
        let key = lottery::wechat::open_data::dev_session_key(&owner_name);
        let (data, iv) = lottery::wechat::open_data::group_proof(&key, &args.appid, LOAD_GROUP);
        let bound = api
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/events/{event_id}/groups"),
                Some(&owner),
                Some(json!({"encrypted_data": data, "iv": iv})),
            )
            .await?;
        if bound.status != 200 {
            return Err(format!(
                "binding the group: HTTP {} code {}",
                bound.status, bound.code
            ));
        }
    }
    let prefix = format!("hot_{tag}");
    let users = login_many(args, &prefix, args.users).await?;
    let names: Vec<String> = (0..users.len()).map(|i| format!("{prefix}_{i}")).collect();
    let bodies = join_bodies(&names, rules, &args.appid);
    if rules == Some("risk") {
        // Every user rated first (untimed), on an event of its own: the
        // timed joins then measure the check of a known rank.
        let warm = api
            .create_event(
                &owner,
                with_rules(event_body(in_secs(3600), "manual", 10), rules),
            )
            .await?;
        let rated = drive(
            "risk-rating",
            args.target,
            args.load(3600, Some(users.len())),
            join_op_with(&users, warm, None),
        )
        .await;
        if rated.ok() != users.len() {
            return Err(format!(
                "only {} of {} users rated",
                rated.ok(),
                users.len()
            ));
        }
    }
    eprintln!(
        "hot-join: event {event_id} ({}), {} users, {} connections",
        rules.unwrap_or("no join rule"),
        args.users,
        args.concurrency
    );
    let report = drive(
        "hot-join",
        args.target,
        args.timed(Some(users.len())),
        join_op_with(&users, event_id, bodies),
    )
    .await;
    output::phase(&report);
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
        output::result("recorded", acked.len());
        return Ok(report);
    }
    verify::participants_are(&api, event_id, &acked).await?;
    output::verified(format!(
        "event {event_id} holds exactly the {} joins answered 200",
        acked.len()
    ));
    Ok(report)
}
