//! `verify-joins`: after a crash and restart, every join recorded as
//! acknowledged (`hot-join --record`) is stored.

use std::collections::{HashMap, HashSet};

use super::Args;
use crate::api::Api;
use crate::output::{self, say};

pub async fn run(args: &Args) -> Result<(), String> {
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
        say!(
            "verify-joins: event {event_id}: {} acknowledged, {} stored, {missing} acknowledged but missing",
            acked.len(),
            stored.len()
        );
        output::result(
            &format!("event {event_id}"),
            serde_json::json!({"acknowledged": acked.len(), "stored": stored.len(), "missing": missing}),
        );
        if missing > 0 {
            return Err("acknowledged joins were lost".into());
        }
    }
    Ok(())
}
