//! The draw schedule and the two ways an event ends: the draw's conditional
//! steps and the cancel.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::models::to_db_time;
use super::notices::Queues;
use super::ownership::{self, Token};
use super::participants::whole_event;
use super::schema::{events, participants};
use super::{multi_row_insert, readable_rows, sql_time, Db};
use crate::db_run;
use crate::domain::beacon_draw;
use crate::domain::claim;
use crate::domain::count::ParticipantCount;
use crate::domain::draw::{canonical_order, Award};
use crate::domain::event::{CancelReason, EventStatus};
use crate::domain::join_rules;
use crate::domain::notice::NoticeKind;
use crate::error::{AppError, AppResult};

/// Live events whose draw is due by `until`, and every event left in
/// `drawing` (a draw a crash interrupted).
pub async fn due_for_draw(
    db: &Db,
    until: DateTime<Utc>,
    limit: i64,
) -> AppResult<Vec<(i64, DateTime<Utc>)>> {
    let until = to_db_time(until);
    db_run!(db, |conn| {
        let due = events::table
            .filter(
                events::status.eq(EventStatus::Drawing).or(events::status
                    .eq(EventStatus::Open)
                    .and(events::draw_at.le(until))),
            )
            .order(events::draw_at)
            .limit(limit);
        let (rows, skipped) = readable_rows(
            due.select((events::id, events::draw_at))
                .load_stream::<(i64, chrono::NaiveDateTime)>(conn)
                .await?,
            "events",
        )
        .await?;
        if skipped > 0 {
            // Name them, so an operator can repair them: the ids always read.
            let read: HashSet<i64> = rows.iter().map(|(id, _)| *id).collect();
            let all: Vec<i64> = due.select(events::id).load(conn).await?;
            for id in all.into_iter().filter(|id| !read.contains(id)) {
                tracing::error!(
                    event_id = id,
                    "unreadable due event skipped by the schedule"
                );
            }
        }
        Ok(rows.into_iter().map(|(id, t)| (id, t.and_utc())).collect())
    })
}

/// open → cancelled, only if still open, with its final participant count,
/// and (with `notices`) the cancellation's notices in the same transaction.
/// Returns whether it happened. `fence`: see `store::ownership`.
pub async fn cancel(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    count: ParticipantCount,
    notices: bool,
    fence: Option<Token>,
) -> AppResult<bool> {
    let begin = db.begin_write();
    db_run!(db, |conn| {
        conn.batch_execute(begin).await?;
        let written: AppResult<bool> = async {
            if let Some(token) = fence {
                conn.batch_execute(&ownership::fence_sql(id, token)).await?;
            }
            let n = diesel::update(
                events::table
                    .find(id)
                    .filter(events::status.eq(EventStatus::Open)),
            )
            .set((
                events::status.eq(EventStatus::Cancelled),
                events::cancelled_at.eq(to_db_time(now)),
                events::participant_count.eq(count.db_value()),
                events::cancel_reason.eq(CancelReason::Creator),
            ))
            .execute(conn)
            .await?;
            if n == 1 && notices {
                diesel::sql_query(super::notices::queue_sql(id, NoticeKind::Cancelled, now))
                    .execute(conn)
                    .await?;
            }
            Ok(n == 1)
        }
        .await;
        let finish = if matches!(written, Ok(true)) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        if let Err(err) = conn.batch_execute(finish).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        written
    })
}

/// The draw's writes, on one connection: open → drawing (conditional and
/// committed on its own, so a crash after it resumes the draw), then the
/// stored participants go to `pick` (the draw algorithm, in canonical
/// order), and its winners, their claims and drawing → drawn are written in one
/// transaction, with (as `queues` says) the fan-out of the result's notice
/// to every participant who asked for it and one claim reminder, due a day before
/// `claim_by`, per winner who accepted it. An event with fewer than its
/// `min_participants` is cancelled instead (`too_few_participants`), with
/// the cancellation's notices, in the same one transaction. The draw takes the participants from the database, not
/// from memory, so it is always the one the fairness record describes.
/// Re-running it after a crash is safe: the same seed and rows give the
/// same winners, and the unique key on (event, user) refuses a second copy.
/// Returns the status the event ends in. With `fence` (cluster mode) both
/// steps check the owner first (see `store::ownership`). A beacon event's
/// draw (`beacon`) is refused unless the stored participants are the ones
/// whose hash was published when it started (`fix_for_beacon`), and it
/// needs the round's signature, which it stores with the winners.
pub async fn draw(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    queues: Queues,
    fence: Option<Token>,
    beacon: Option<BeaconUse>,
    pick: impl FnOnce(Vec<i64>) -> Vec<Award> + Send + 'static,
) -> AppResult<Option<EventStatus>> {
    let drawing = EventStatus::Drawing;
    let begin = db.begin_write();
    let start = start_sql(db, id, fence);
    db_run!(db, |conn| {
        let status = events::table.find(id).select(events::status);
        if let Err(err) = conn.batch_execute(&start).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        let before = status.first::<EventStatus>(conn).await.optional()?;
        if before != Some(EventStatus::Drawing) {
            return Ok(before);
        }
        let (claim_days, min_participants): (i16, Option<i32>) = events::table
            .find(id)
            .select((events::claim_days, events::min_participants))
            .first(conn)
            .await?;
        let claim_by = claim::claim_by(now, i64::from(claim_days));
        let participants = whole_event!(conn, id, participants::user_id => i64);
        // Sorting, shuffling and formatting 100,000 rows is CPU work: off
        // the event loop, which is an HTTP worker's.
        let script = tokio::task::spawn_blocking(move || {
            let count = participants.len();
            let mut script = vec![begin.to_string()];
            if let Some(token) = fence {
                script.push(ownership::fence_sql(id, token));
            }
            let participants = canonical_order(participants);
            // A beacon draw goes on only over the list whose hash it
            // published, whatever it ends in.
            let mut signature = None;
            if let Some(beacon) = &beacon {
                let listed = beacon_draw::participants_hash(&participants);
                if listed != beacon.participants_hash {
                    return Err(AppError::internal(format!(
                        "event {id}'s participants changed after their hash {} was published \
                         (now {listed}): not drawn",
                        beacon.participants_hash
                    )));
                }
                signature = beacon.signature.clone();
            }
            // Too few came: cancelled instead, in the transaction a draw
            // would have used, with the cancellation's notices.
            if join_rules::too_few(min_participants, count) {
                if queues.results {
                    script.push(super::notices::queue_sql(id, NoticeKind::Cancelled, now));
                }
                script.push(format!(
                    "UPDATE events SET status = {cancelled}, cancelled_at = '{}', \
                     cancel_reason = {reason}, participant_count = {count} \
                     WHERE id = {id} AND status = {drawing}",
                    sql_time(now),
                    cancelled = EventStatus::Cancelled.to_db(),
                    reason = CancelReason::TooFewParticipants.db_value(),
                    drawing = drawing.to_db(),
                ));
                script.push("COMMIT".into());
                return Ok(script.join(";\n"));
            }
            if beacon.is_some() && signature.is_none() {
                return Err(AppError::internal(format!(
                    "event {id}'s beacon round is not fetched yet: not drawn"
                )));
            }
            let awards = pick(participants);
            for chunk in awards.chunks(1000) {
                let rows = chunk
                    .iter()
                    .map(|a| format!("({id},{},{})", a.user_id, a.prize_id));
                script.push(multi_row_insert(
                    "winners (event_id, user_id, prize_id)",
                    rows,
                    "",
                ));
            }
            // Every winner's claim, in the transaction that makes them
            // winners: a committed draw never lacks one.
            script.push(super::claims::open_round_sql(id, 1, claim_by));
            if queues.results {
                script.push(super::notices::queue_sql(id, NoticeKind::Result, now));
            }
            if queues.reminders {
                let due = claim::reminder_at(claim_by, i64::from(claim_days));
                script.push(super::notices::remind_sql(id, 1, due, now));
            }
            // The count as drawn: the row may lag the actor's (see
            // participants::apply_batch).
            // The signature is hex this process encoded: safe inline.
            let signature = signature.map_or("NULL".to_string(), |hex| format!("'{hex}'"));
            script.push(format!(
                "UPDATE events SET status = {drawn}, drawn_at = '{}', \
                 participant_count = {count}, beacon_signature = {signature} \
                 WHERE id = {id} AND status = {drawing}",
                sql_time(now),
                drawn = EventStatus::Drawn.to_db(),
                drawing = drawing.to_db(),
            ));
            script.push("COMMIT".into());
            Ok(script.join(";\n"))
        })
        .await
        .map_err(|err| AppError::internal(format!("the draw's computation failed: {err}")))??;
        if let Err(err) = conn.batch_execute(&script).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            // Another instance may have finished the same draw first.
            let now_status = status.first::<EventStatus>(conn).await.optional()?;
            if !matches!(
                now_status,
                Some(EventStatus::Drawn | EventStatus::Cancelled)
            ) {
                return Err(err.into());
            }
        }
        Ok(status.first::<EventStatus>(conn).await.optional()?)
    })
}

/// open → drawing, only if still open; with `fence` in a transaction that
/// checks the owner first.
fn start_sql(db: &Db, id: i64, fence: Option<Token>) -> String {
    let open_to_drawing = format!(
        "UPDATE events SET status = {} WHERE id = {id} AND status = {}",
        EventStatus::Drawing.to_db(),
        EventStatus::Open.to_db()
    );
    match fence {
        Some(token) => format!(
            "{};\n{};\n{open_to_drawing};\nCOMMIT",
            db.begin_write(),
            ownership::fence_sql(id, token)
        ),
        None => open_to_drawing,
    }
}

/// What a beacon draw fixed when it started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconFix {
    pub round: u64,
    pub participants_hash: String,
    pub fixed_at: DateTime<Utc>,
    /// Too few participants: the event is cancelled, no round needed.
    pub too_few: bool,
}

/// What `fix_for_beacon` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fixed {
    Fixed(BeaconFix),
    /// The event is not drawing: finished, or (None) gone.
    Over(Option<EventStatus>),
}

/// What a beacon event's draw writes with: the hash it must find again,
/// and the verified round's signature (hex).
#[derive(Clone, Debug)]
pub struct BeaconUse {
    pub participants_hash: String,
    /// None only when the event is cancelled for too few participants.
    pub signature: Option<String>,
}

/// A beacon event's draw starts: open → drawing (if still open), then,
/// once, the participants' hash, the round (`round_after` the instant) and
/// the instant, in one conditional write. Returns what was fixed, by this
/// call or an earlier one (before a crash, or on the instance that owned
/// the event before); None when the event is not drawing (finished, or
/// gone), which the draw itself then reports.
pub async fn fix_for_beacon(
    db: &Db,
    id: i64,
    fence: Option<Token>,
    round_after: impl Fn(i64) -> u64 + Send,
) -> AppResult<Fixed> {
    let start = start_sql(db, id, fence);
    let begin = db.begin_write();
    db_run!(db, |conn| {
        if let Err(err) = conn.batch_execute(&start).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        let fixed = events::table.find(id).select((
            events::status,
            events::beacon_round,
            events::participants_hash,
            events::beacon_fixed_at,
            events::min_participants,
            events::participant_count,
        ));
        type Row = (
            EventStatus,
            Option<i64>,
            Option<String>,
            Option<chrono::NaiveDateTime>,
            Option<i32>,
            ParticipantCount,
        );
        let Some(mut row) = fixed.first::<Row>(conn).await.optional()? else {
            return Ok(Fixed::Over(None));
        };
        if row.0 == EventStatus::Drawing && row.1.is_none() {
            let participants = whole_event!(conn, id, participants::user_id => i64);
            // Sorting and hashing a million ids is CPU work: off the event
            // loop.
            let (count, hash) = tokio::task::spawn_blocking(move || {
                let participants = canonical_order(participants);
                (
                    participants.len(),
                    beacon_draw::participants_hash(&participants),
                )
            })
            .await
            .map_err(|err| AppError::internal(format!("hashing the participants failed: {err}")))?;
            // The instant the list is published is this write's: the round
            // is the first after it, so the time is read just before it
            // (not before the pool and the read, which a storm can make
            // longer than a period).
            let now = Utc::now();
            let round = round_after(now.timestamp());
            let fence_sql = fence.map(|token| ownership::fence_sql(id, token) + ";\n");
            // Conditional: of two writers, the first one's round stands.
            let script = format!(
                "{begin};\n{}UPDATE events SET beacon_round = {round}, participants_hash = '{hash}', \
                 beacon_fixed_at = '{}', participant_count = {count} \
                 WHERE id = {id} AND status = {drawing} AND beacon_round IS NULL;\nCOMMIT",
                fence_sql.unwrap_or_default(),
                sql_time(now),
                drawing = EventStatus::Drawing.to_db(),
            );
            if let Err(err) = conn.batch_execute(&script).await {
                let _ = conn.batch_execute("ROLLBACK").await;
                return Err(err.into());
            }
            if round_after(Utc::now().timestamp()) != round {
                // The commit took past the round's time: the hash became
                // public after the round did (a database stalled longer
                // than a period). Still drawn with it; worth knowing.
                tracing::warn!(
                    event_id = id,
                    round,
                    "the participants' hash was stored after its beacon round's time"
                );
            }
            row = fixed.first::<Row>(conn).await?;
        }
        let (status, round, hash, fixed_at, min_participants, count) = row;
        let (EventStatus::Drawing, Some(round), Some(hash), Some(fixed_at)) =
            (status, round, hash, fixed_at)
        else {
            return Ok(Fixed::Over(Some(status)));
        };
        Ok(Fixed::Fixed(BeaconFix {
            round: round as u64,
            participants_hash: hash,
            fixed_at: fixed_at.and_utc(),
            too_few: join_rules::too_few(min_participants, count.get() as usize),
        }))
    })
}
