//! What the scenarios share before their timed phases: fresh dev users,
//! event bodies and draw times, and the join as a timed operation.

use std::sync::{Arc, OnceLock};

use lottery::wechat::open_data;
use serde_json::{json, Value};

use super::Args;
use crate::drive::drive;
use crate::output;
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
        args.load(3600, Some(n)),
        async move |i, conn: &mut Conn| {
            let user = conn.login(&format!("{p}_{i}")).await?;
            let _ = s[i].set(user);
            Ok(())
        },
    )
    .await;
    output::phase(&report);
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

/// The password of `--rules password` events.
pub const LOAD_PASSWORD: &str = "load-4821";
/// The group of `--rules group` events.
pub const LOAD_GROUP: &str = "G-load-test";

/// An event's join rule for a run, applied to its creation body.
pub fn with_rules(mut body: Value, rules: Option<&str>) -> Value {
    match rules {
        Some("password") => body["join_password"] = json!(LOAD_PASSWORD),
        Some("group") => body["group_only"] = json!(true),
        Some("risk") => body["risk_check"] = json!(true),
        _ => {}
    }
    body
}

/// What each user sends to join an event of the run's rule: the password,
/// or a group proof made with the user's dev session key (docs/LOGIN.md),
/// made before the timed phase. `names[i]` is user i's dev login name.
pub fn join_bodies(
    names: &[String],
    rules: Option<&str>,
    appid: &str,
) -> Option<Arc<Vec<bytes::Bytes>>> {
    let body = |name: &str| match rules {
        Some("password") => Some(json!({"password": LOAD_PASSWORD})),
        Some("group") => {
            let key = open_data::dev_session_key(name);
            let (data, iv) = open_data::group_proof(&key, appid, LOAD_GROUP);
            Some(json!({"group": {"encrypted_data": data, "iv": iv}}))
        }
        _ => None,
    };
    let bodies: Option<Vec<bytes::Bytes>> = names
        .iter()
        .map(|n| body(n).map(|b| bytes::Bytes::from(b.to_string())))
        .collect();
    bodies.map(Arc::new)
}

/// User i joins the event, with its body when the event has a rule.
pub fn join_op_with(
    users: &Users,
    event_id: i64,
    bodies: Option<Arc<Vec<bytes::Bytes>>>,
) -> impl AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static {
    let users = users.clone();
    async move |i, conn: &mut Conn| match &bodies {
        Some(bodies) => conn
            .join_with(&users[i].0, event_id, bodies[i].clone())
            .await?
            .ok(),
        None => conn.join(&users[i].0, event_id, false).await?.ok(),
    }
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
