//! After the run, through the balancer: nothing acknowledged is missing,
//! the cap holds, and the due events are drawn soundly.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::Api;
use crate::output;
use crate::verify;

pub async fn verify_run(
    api: &Api,
    events: &[i64],
    capped: i64,
    cap: i64,
    due: &[i64],
    acked: &HashSet<(i64, i64)>,
) -> Result<(), String> {
    for &event in events {
        let want: HashSet<i64> = acked
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, u)| *u)
            .collect();
        let stored: HashSet<i64> = api.participants(event).await?.into_iter().collect();
        let missing = want.difference(&stored).count();
        if missing > 0 {
            return Err(format!(
                "event {event}: {missing} of {} acknowledged joins are not stored",
                want.len()
            ));
        }
        if event == capped && stored.len() as i64 > cap {
            return Err(format!(
                "event {event}: {} participants stored, over its cap of {cap}",
                stored.len()
            ));
        }
    }
    output::verified(format!(
        "all {} acknowledged joins are stored; the capped event holds at most {cap}",
        acked.len()
    ));
    for &event in due {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status: Value = api.event(event).await?["status"].clone();
            if status == "drawn" {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "event {event} is still {status} a minute after its draw time"
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let winners = verify::draw_is_sound(api, event, None).await?;
        let considered: HashSet<i64> =
            serde_json::from_value::<Vec<i64>>(api.fairness(event).await?["participants"].clone())
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect();
        let want: HashSet<i64> = acked
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, u)| *u)
            .collect();
        if !want.is_subset(&considered) {
            return Err(format!(
                "event {event}: the draw left out an acknowledged participant"
            ));
        }
        output::verified(format!(
            "due event {event} drawn: {winners} winners as its seed gives, among {} participants",
            considered.len()
        ));
    }
    Ok(())
}
