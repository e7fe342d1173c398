//! What the scenarios share before their timed phases: fresh dev users,
//! event bodies and draw times, and the join as a timed operation.

use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};

use super::Args;
use crate::stats::drive;
use crate::wire::Conn;

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

/// User i joins the event.
pub fn join_op(
    users: &Users,
    event_id: i64,
    notify: bool,
) -> impl AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static {
    let users = users.clone();
    async move |i, conn: &mut Conn| conn.join(&users[i].0, event_id, notify).await?.ok()
}
