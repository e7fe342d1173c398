//! `big-draw`: one event with `--users` participants, then the draw.

use std::collections::HashSet;

use super::setup::{event_body, in_secs, join_op, login_many, run_tag};
use super::Args;
use crate::api::Api;
use crate::drive::drive;
use crate::output::{self, say};
use crate::verify;

pub async fn run(args: &Args) -> Result<(), String> {
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
        args.load(3600, Some(users.len())),
        join_op(&users, event_id, false),
    )
    .await;
    output::phase(&joins);
    let acked: HashSet<i64> = joins.succeeded.iter().map(|&i| users[i].1).collect();
    let took = api.draw(&owner, event_id).await?;
    say!("big-draw: {} participants drawn; POST /draw answered in {:.3}s (committed before the answer)", acked.len(), took.as_secs_f64());
    output::result("participants", acked.len());
    output::result("draw_answer_s", took.as_secs_f64());
    let winners = verify::draw_is_sound(&api, event_id, Some(&acked)).await?;
    output::verified(format!("{winners} distinct winners reproduce from the seed; the draw took exactly the {} acknowledged participants", acked.len()));
    Ok(())
}
