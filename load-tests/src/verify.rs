//! Verification over the API: what was acknowledged is stored, and every
//! draw is one the published seed reproduces.

use std::collections::{HashMap, HashSet};

use lottery::domain::fairness::{self as draw, FairnessRecord};

use crate::api::Api;

/// The event's stored participants are exactly `expected`.
pub async fn participants_are(
    api: &Api,
    event_id: i64,
    expected: &HashSet<i64>,
) -> Result<(), String> {
    let stored = api.participants(event_id).await?;
    let set: HashSet<i64> = stored.iter().copied().collect();
    if set.len() != stored.len() {
        return Err(format!("event {event_id}: a participant is listed twice"));
    }
    let missing = expected.difference(&set).count();
    let extra = set.difference(expected).count();
    if missing > 0 || extra > 0 {
        return Err(format!(
            "event {event_id}: {missing} acknowledged participations missing, {extra} unacknowledged present"
        ));
    }
    let count = api.event(event_id).await?["participant_count"]
        .as_u64()
        .unwrap_or(u64::MAX);
    if count != expected.len() as u64 {
        return Err(format!(
            "event {event_id}: participant_count {count} != {}",
            expected.len()
        ));
    }
    Ok(())
}

/// A drawn event: the seed matches its hash, the winners are the re-run's,
/// distinct, participants, within each prize's quantity. With `expected`,
/// the draw considered exactly those participants.
pub async fn draw_is_sound(
    api: &Api,
    event_id: i64,
    expected: Option<&HashSet<i64>>,
) -> Result<usize, String> {
    let event = api.event(event_id).await?;
    if event["status"] != "drawn" {
        return Err(format!(
            "event {event_id} is {}, not drawn",
            event["status"]
        ));
    }
    let f = api.fairness(event_id).await?;
    let record: FairnessRecord = serde_json::from_value(f)
        .map_err(|e| format!("event {event_id}: not a fairness record: {e}"))?;
    draw::verify(&record, None).map_err(|e| format!("event {event_id}: {e}"))?;
    if let Some(expected) = expected {
        let considered: HashSet<i64> = record.participants.iter().copied().collect();
        if &considered != expected {
            return Err(format!(
                "event {event_id}: the draw considered {} participants, {} were acknowledged",
                considered.len(),
                expected.len()
            ));
        }
    }
    let published: Vec<(i64, i64)> = record
        .winners
        .iter()
        .map(|w| (w.user_id, w.prize_id))
        .collect();
    let prizes = &record.prizes;
    let winners: HashSet<i64> = published.iter().map(|w| w.0).collect();
    if winners.len() != published.len() {
        return Err(format!("event {event_id}: a user won twice"));
    }
    let mut per_prize: HashMap<i64, u32> = HashMap::new();
    for (_, prize) in &published {
        *per_prize.entry(*prize).or_default() += 1;
    }
    if prizes
        .iter()
        .any(|p| per_prize.get(&p.id).copied().unwrap_or(0) > p.quantity)
    {
        return Err(format!(
            "event {event_id}: a prize was given more often than its quantity"
        ));
    }
    Ok(published.len())
}
