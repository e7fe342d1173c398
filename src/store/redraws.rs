//! A re-draw's writes, in one transaction that starts by taking the event
//! row's lock (`rounds` goes up by one): two re-draws of one event run one
//! after the other, and the second finds no expired claim left, so each
//! round happens once, from whichever instance is asked. The round's
//! winners, the expired claims they replace and the new claims commit
//! together or not at all.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::models::to_db_time;
use super::participants::whole_event;
use super::schema::{claims, events, participants, prizes, winners};
use super::{multi_row_insert, Db};
use crate::db_run;
use crate::domain::beacon_draw::{mixed_seed, randomness_of};
use crate::domain::claim::{self, ClaimStatus};
use crate::domain::draw::{canonical_order, Award, RecordPrize, Seed};
use crate::domain::event::EventStatus;
use crate::domain::redraw::{self, Redraw};
use crate::error::{AppError, AppResult};

/// What a committed re-draw did.
pub struct Redrawn {
    pub round: i16,
    pub winners: Vec<Award>,
}

/// Re-draws every claim of the event still unclaimed at `claim_by <= now`.
/// With `reminders`, each new winner who accepted the claim reminder gets
/// it at once (their result message went with round 1).
/// `Ok(None)`: no such claim, or nobody left who has won nothing.
pub async fn redraw(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    reminders: bool,
) -> AppResult<Option<Redrawn>> {
    let begin = db.begin_write();
    let now_db = to_db_time(now);
    db_run!(db, |conn| {
        conn.batch_execute(begin).await?;
        let done: AppResult<Option<Redrawn>> = async {
            // The row lock first: a concurrent re-draw waits here, then
            // reads what this one committed.
            let locked = diesel::update(
                events::table
                    .find(id)
                    .filter(events::status.eq(EventStatus::Drawn)),
            )
            .set(events::rounds.eq(events::rounds + 1))
            .execute(conn)
            .await?;
            if locked == 0 {
                return Ok(None);
            }
            type Row = (i16, i16, Vec<u8>, Option<String>, Option<String>);
            let (round, claim_days, seed, beacon_chain, beacon_signature): Row = events::table
                .find(id)
                .select((
                    events::rounds,
                    events::claim_days,
                    events::seed,
                    events::beacon_chain,
                    events::beacon_signature,
                ))
                .first(conn)
                .await?;
            let expired: Vec<(i64, i64, i64)> = claims::table
                .filter(claims::event_id.eq(id))
                .filter(claims::status.eq(ClaimStatus::Unclaimed))
                .filter(claims::claim_by.le(now_db))
                .order(claims::winner_id)
                .select((claims::winner_id, claims::user_id, claims::prize_id))
                .load(conn)
                .await?;
            if expired.is_empty() {
                return Ok(None);
            }
            let participants = whole_event!(conn, id, participants::user_id => i64);
            let won: HashSet<i64> = winners::table
                .filter(winners::event_id.eq(id))
                .select(winners::user_id)
                .load::<i64>(conn)
                .await?
                .into_iter()
                .collect();
            let prize_list: Vec<(i64, String, i32)> = prizes::table
                .filter(prizes::event_id.eq(id))
                .order(prizes::position)
                .select((prizes::id, prizes::name, prizes::quantity))
                .load(conn)
                .await?;
            let seed: Seed = seed
                .try_into()
                .map_err(|_| AppError::internal(format!("event {id}'s seed is not 32 bytes")))?;
            // A beacon event's re-draws use its draw's randomness too, with
            // their own round numbers.
            let seed = match (&beacon_chain, beacon_signature.as_deref().map(hex::decode)) {
                (None, _) => seed,
                (Some(_), Some(Ok(signature))) => mixed_seed(&seed, &randomness_of(&signature)),
                // Never the seed alone for a beacon event.
                (Some(_), _) => {
                    return Err(AppError::internal(format!(
                        "event {id} is a beacon event without a readable round signature"
                    )))
                }
            };
            let prize_list: Vec<RecordPrize> = prize_list
                .into_iter()
                .map(|(id, name, quantity)| RecordPrize {
                    id,
                    name,
                    quantity: quantity.max(0) as u32,
                })
                .collect();
            let expired_awards: Vec<Award> = expired
                .iter()
                .map(|&(_, user_id, prize_id)| Award { user_id, prize_id })
                .collect();
            // Sorting and shuffling a million ids is CPU work: off the
            // event loop.
            let awards = tokio::task::spawn_blocking(move || {
                let eligible = redraw::eligible(&canonical_order(participants), &won);
                let slots = redraw::slots(&prize_list, &expired_awards);
                redraw::redraw(&seed, round as u32, &eligible, slots)
            })
            .await
            .map_err(|err| {
                AppError::internal(format!("the re-draw's computation failed: {err}"))
            })?;
            if awards.is_empty() {
                return Ok(None);
            }
            // The expired claims whose prizes found a winner, one per award.
            let mut replaced = Vec::with_capacity(awards.len());
            let mut left: Vec<(i64, i64, i64)> = expired;
            for award in &awards {
                if let Some(at) = left.iter().position(|e| e.2 == award.prize_id) {
                    replaced.push(left.remove(at).0);
                }
            }
            let rows = awards
                .iter()
                .map(|a| format!("({id},{},{},{round})", a.user_id, a.prize_id));
            conn.batch_execute(&multi_row_insert(
                "winners (event_id, user_id, prize_id, round)",
                rows,
                "",
            ))
            .await?;
            diesel::update(
                claims::table
                    .filter(claims::winner_id.eq_any(&replaced))
                    .filter(claims::status.eq(ClaimStatus::Unclaimed)),
            )
            .set((
                claims::status.eq(ClaimStatus::Expired),
                claims::redrawn_in.eq(round),
            ))
            .execute(conn)
            .await?;
            let claim_by = claim::claim_by(now, i64::from(claim_days));
            conn.batch_execute(&super::claims::open_round_sql(id, round, claim_by))
                .await?;
            if reminders {
                conn.batch_execute(&super::notices::remind_sql(id, round, now, now))
                    .await?;
            }
            Ok(Some(Redrawn {
                round,
                winners: awards,
            }))
        }
        .await;
        let finish = if matches!(done, Ok(Some(_))) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        if let Err(err) = conn.batch_execute(finish).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        done
    })
}

/// (round, user, prize) of a re-draw's winner.
type RoundAward = (i16, i64, i64);
/// (the round that re-drew it, user, prize) of an expired award.
type RedrawnAward = (Option<i16>, i64, i64);

/// Each re-draw as `/fairness` publishes it, in round order.
pub async fn published(db: &Db, id: i64) -> AppResult<Vec<Redraw>> {
    let (won, expired): (Vec<RoundAward>, Vec<RedrawnAward>) = db_run!(db, |conn| {
        let won = winners::table
            .filter(winners::event_id.eq(id))
            .filter(winners::round.gt(1))
            .order(winners::id)
            .select((winners::round, winners::user_id, winners::prize_id))
            .load(conn)
            .await?;
        let expired = claims::table
            .filter(claims::event_id.eq(id))
            .filter(claims::redrawn_in.is_not_null())
            .order(claims::winner_id)
            .select((claims::redrawn_in, claims::user_id, claims::prize_id))
            .load(conn)
            .await?;
        Ok((won, expired))
    })?;
    let last = won.iter().map(|w| w.0).max().unwrap_or(1);
    Ok((2..=last)
        .map(|round| Redraw {
            round: round as u32,
            expired: expired
                .iter()
                .filter(|e| e.0 == Some(round))
                .map(|&(_, user_id, prize_id)| Award { user_id, prize_id })
                .collect(),
            winners: won
                .iter()
                .filter(|w| w.0 == round)
                .map(|&(_, user_id, prize_id)| Award { user_id, prize_id })
                .collect(),
        })
        .collect())
}
