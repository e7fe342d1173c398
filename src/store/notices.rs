//! The outbox of notices (table `notices`, see its migration).
//!
//! Rows are written by the draw's, the cancel's and the re-draw's
//! transactions (`queue_sql`, `remind_sql`) and drained by the notifier: it claims due rows with a
//! random token (`claim`), sends them, then marks each sent, retried or
//! failed. A claim moves the row's `due_at` to the claim's end, so two
//! senders never hold one row at once, and a row whose sender died becomes
//! due again by itself when its claim runs out.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{Queryable, Selectable};

use super::models::{from_db_time, to_db_time};
use super::schema::{
    claims, events, notice_fanouts, notices, participants, prizes, users, winners,
};
use super::{sql_time, Db};
use crate::db_run;
use crate::domain::claim::{self, ClaimStatus};
use crate::domain::notice::{NoticeContent, NoticeKind, NoticeState, Outcome};
use crate::error::AppResult;

/// Which notices the transactions write: those whose template is set.
/// Without a template a kind is never sent, so its rows are never written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queues {
    /// Results and cancellations, to participants who asked for them.
    pub results: bool,
    /// Claim reminders, to winners who accepted them.
    pub reminders: bool,
}

/// The statement that queues one notice of `kind` for every participant of
/// `event_id` who asked for notice, as a fan-out: one row, which the
/// notifier expands into outbox rows a page at a time (`expand_fanout`).
/// It runs inside the transaction that ends the event, so the end and its
/// notices commit together; a million participants cost that transaction
/// one row instead of a million (docs/NOTIFICATIONS.md).
pub fn queue_sql(event_id: i64, kind: NoticeKind, now: DateTime<Utc>) -> String {
    format!(
        "INSERT INTO notice_fanouts (event_id, kind, after_participant, created_at) \
         VALUES ({event_id}, {kind}, 0, '{now}')",
        kind = kind.to_db(),
        now = sql_time(now),
    )
}

/// Expands the oldest fan-out by one page of `page` participants (in join
/// order): the outbox rows of those who asked for notice, and the
/// fan-out's cursor moved past them (the row deleted with its last page),
/// in one transaction. The rows are written only while the fan-out still
/// stands where this read it, and a row already there is skipped (the
/// outbox's unique key on event, user and kind), so two senders expanding
/// at once, or an expansion retried after a crash, write each notice once;
/// the fan-out's row is locked first, so two at once wait in turn rather
/// than deadlock.
/// Answers whether there was a fan-out to expand.
pub async fn expand_fanout(db: &Db, now: DateTime<Utc>, page: i64) -> AppResult<bool> {
    let begin = db.begin_write();
    let skip_existing = db.skip_existing_notice();
    let now = sql_time(now);
    db_run!(db, |conn| {
        let oldest: Option<(i64, i64, i16, i64, NaiveDateTime)> = notice_fanouts::table
            .order(notice_fanouts::id)
            .select((
                notice_fanouts::id,
                notice_fanouts::event_id,
                notice_fanouts::kind,
                notice_fanouts::after_participant,
                notice_fanouts::created_at,
            ))
            .first(conn)
            .await
            .optional()?;
        let Some((id, event_id, kind, after, created_at)) = oldest else {
            return Ok(false);
        };
        // The page's last participant; None: what is left is a page or less.
        let last: Option<i64> = participants::table
            .filter(participants::event_id.eq(event_id))
            .filter(participants::id.gt(after))
            .order(participants::id)
            .offset(page - 1)
            .limit(1)
            .select(participants::id)
            .first(conn)
            .await
            .optional()?;
        let (upper, advance) = match last {
            Some(last) => (
                format!(" AND p.id <= {last}"),
                format!(
                    "UPDATE notice_fanouts SET after_participant = {last} \
                     WHERE id = {id} AND after_participant = {after}"
                ),
            ),
            None => (
                String::new(),
                format!(
                    "DELETE FROM notice_fanouts WHERE id = {id} AND after_participant = {after}"
                ),
            ),
        };
        // The first statement takes the fan-out's row lock (a no-op update
        // locks the row it matches): a second expander waits here and then
        // finds the cursor moved. Without it, InnoDB's INSERT ... SELECT
        // takes a shared lock on the fan-out row (the EXISTS) and both
        // expanders then ask for the exclusive one to advance: a deadlock,
        // one of them refused (seen in CI on two expanders at once).
        let script = format!(
            "{begin};\n\
             UPDATE notice_fanouts SET after_participant = {after} \
             WHERE id = {id} AND after_participant = {after};\n\
             INSERT INTO notices (event_id, user_id, kind, state, attempts, due_at, created_at) \
             SELECT p.event_id, p.user_id, {kind}, {pending}, 0, '{now}', '{created}' \
             FROM participants p WHERE p.event_id = {event_id} AND p.notify = 1 \
             AND p.id > {after}{upper} AND EXISTS (SELECT 1 FROM notice_fanouts f \
             WHERE f.id = {id} AND f.after_participant = {after}){skip_existing};\n\
             {advance};\n\
             COMMIT",
            pending = NoticeState::Pending.to_db(),
            created = created_at.format("%Y-%m-%d %H:%M:%S%.6f"),
        );
        if let Err(err) = conn.batch_execute(&script).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        Ok(true)
    })
}

/// Whether at least `at_least` notices are due now and not claimed: how
/// far the fan-outs' expansion is ahead of the senders. The server walks
/// that many index entries and answers one id at most; loading the ids to
/// count them sent the expander up to 10,000 ids five times a second,
/// ten times the rows the drain itself reads.
pub async fn due_at_least(db: &Db, now: DateTime<Utc>, at_least: i64) -> AppResult<bool> {
    let now = to_db_time(now);
    db_run!(db, |conn| {
        let last: Option<i64> = notices::table
            .filter(notices::state.eq(NoticeState::Pending))
            .filter(notices::due_at.le(now))
            .offset(at_least.max(1) - 1)
            .limit(1)
            .select(notices::id)
            .first(conn)
            .await
            .optional()?;
        Ok(last.is_some())
    })
}

/// Participants the fan-outs have not reached yet (with `pending`, the
/// outbox's depth). An upper bound: counting only those who asked for
/// notice would read every row, where this counts an index range.
pub async fn unexpanded(db: &Db) -> AppResult<i64> {
    db_run!(db, |conn| {
        let fanouts: Vec<(i64, i64)> = notice_fanouts::table
            .select((notice_fanouts::event_id, notice_fanouts::after_participant))
            .load(conn)
            .await?;
        let mut left = 0;
        for (event_id, after) in fanouts {
            let n: i64 = participants::table
                .filter(participants::event_id.eq(event_id))
                .filter(participants::id.gt(after))
                .count()
                .get_result(conn)
                .await?;
            left += n;
        }
        Ok(left)
    })
}

/// The statement that queues one claim reminder, due at `due_at`, for
/// every winner of `round` who accepted it (`participants.remind`). It
/// runs inside the transaction that writes the round's winners. A user
/// wins at most once per event, so the outbox's one row per (event, user,
/// kind) is never in the way.
pub fn remind_sql(event_id: i64, round: i16, due_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "INSERT INTO notices (event_id, user_id, kind, state, attempts, due_at, created_at) \
         SELECT w.event_id, w.user_id, {kind}, {pending}, 0, '{due}', '{now}' \
         FROM winners w JOIN participants p \
         ON p.event_id = w.event_id AND p.user_id = w.user_id \
         WHERE w.event_id = {event_id} AND w.round = {round} AND p.remind = 1",
        kind = NoticeKind::ClaimReminder.to_db(),
        pending = NoticeState::Pending.to_db(),
        due = sql_time(due_at),
        now = sql_time(now),
    )
}

/// A notice this sender holds, with everything its message says.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub kind: NoticeKind,
    /// Sends tried before this one.
    pub attempts: i32,
    pub openid: String,
    pub content: NoticeContent,
}

/// A claimed notice as read, with its event and user joined in.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notices)]
struct ClaimedRow {
    id: i64,
    /// The stored number, not a `NoticeKind`: a kind this version does not
    /// know would fail the decoding of the whole batch, again after every
    /// hold, and the row would never be recorded. As a number it reaches
    /// `claim`, which marks it failed with its value.
    kind: i16,
    attempts: i32,
    user_id: i64,
    #[diesel(select_expression = users::openid)]
    openid: String,
    event_id: i64,
    #[diesel(select_expression = events::title)]
    title: String,
    #[diesel(select_expression = events::drawn_at)]
    drawn_at: Option<NaiveDateTime>,
    #[diesel(select_expression = events::cancelled_at)]
    cancelled_at: Option<NaiveDateTime>,
}

/// Claims up to `limit` due notices for `hold`, and reads what they say.
/// Rows another sender claimed in between are not ours and not returned.
pub async fn claim(
    db: &Db,
    now: DateTime<Utc>,
    hold: Duration,
    limit: i64,
) -> AppResult<Vec<Claimed>> {
    let token: i64 = rand::random::<i64>() & i64::MAX;
    let held_until = to_db_time(now + chrono::Duration::from_std(hold).unwrap_or_default());
    let now_db = to_db_time(now);
    let (rows, won, open) = db_run!(db, |conn| {
        let due: Vec<i64> = notices::table
            .filter(notices::state.eq(NoticeState::Pending))
            .filter(notices::due_at.le(now_db))
            .order(notices::due_at)
            .limit(limit)
            .select(notices::id)
            .load(conn)
            .await?;
        if due.is_empty() {
            return Ok((Vec::new(), Vec::new(), Vec::new()));
        }
        // Re-checked row by row under the row lock: a row another sender
        // claimed since the read above no longer matches.
        diesel::update(
            notices::table
                .filter(notices::id.eq_any(&due))
                .filter(notices::state.eq(NoticeState::Pending))
                .filter(notices::due_at.le(now_db)),
        )
        .set((notices::claim.eq(token), notices::due_at.eq(held_until)))
        .execute(conn)
        .await?;
        let rows: Vec<ClaimedRow> = notices::table
            .inner_join(users::table)
            .inner_join(events::table)
            .filter(notices::id.eq_any(&due))
            .filter(notices::claim.eq(token))
            .select(ClaimedRow::as_select())
            .load(conn)
            .await?;
        let event_ids: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
        let user_ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
        let won: Vec<(i64, i64, String)> = if rows.iter().any(|r| {
            matches!(
                NoticeKind::from_db(r.kind),
                Some(NoticeKind::Result | NoticeKind::ClaimReminder)
            )
        }) {
            winners::table
                .inner_join(prizes::table)
                .filter(winners::event_id.eq_any(&event_ids))
                .filter(winners::user_id.eq_any(&user_ids))
                .select((winners::event_id, winners::user_id, prizes::name))
                .load(conn)
                .await?
        } else {
            Vec::new()
        };
        let open: Vec<(i64, i64, ClaimStatus, NaiveDateTime)> = if rows
            .iter()
            .any(|r| NoticeKind::from_db(r.kind) == Some(NoticeKind::ClaimReminder))
        {
            claims::table
                .filter(claims::event_id.eq_any(&event_ids))
                .filter(claims::user_id.eq_any(&user_ids))
                .select((
                    claims::event_id,
                    claims::user_id,
                    claims::status,
                    claims::claim_by,
                ))
                .load(conn)
                .await?
        } else {
            Vec::new()
        };
        Ok((rows, won, open))
    })?;
    let prizes: HashMap<(i64, i64), String> = won
        .into_iter()
        .map(|(event, user, name)| ((event, user), name))
        .collect();
    // A user's one claim in the event (one win per event: the newest
    // round's claim is the only one a user can have).
    let claims: HashMap<(i64, i64), (ClaimStatus, DateTime<Utc>)> = open
        .into_iter()
        .map(|(event, user, status, by)| ((event, user), (status, from_db_time(by))))
        .collect();
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(kind) = NoticeKind::from_db(row.kind) else {
            fail(db, row.id, &format!("unknown notice kind {}", row.kind)).await?;
            continue;
        };
        let mut claim_by = None;
        let (outcome, at) = match kind {
            NoticeKind::Result => (
                match prizes.get(&(row.event_id, row.user_id)) {
                    Some(prize) => Outcome::Won {
                        prize: prize.clone(),
                    },
                    None => Outcome::Lost,
                },
                row.drawn_at,
            ),
            NoticeKind::Cancelled => (Outcome::Cancelled, row.cancelled_at),
            NoticeKind::ClaimReminder => {
                let key = (row.event_id, row.user_id);
                let (Some(prize), Some(&(status, by))) = (prizes.get(&key), claims.get(&key))
                else {
                    fail(db, row.id, "a claim reminder for a user with no claim").await?;
                    continue;
                };
                // Judged when it comes due, not when it was queued: a
                // winner who has claimed, or whose window closed, is not
                // reminded.
                let status = claim::status_at(status, by, now);
                if status != ClaimStatus::Unclaimed {
                    let why = format!("not needed: the claim is {}", status.as_str());
                    skip(db, row.id, &why, now).await?;
                    continue;
                }
                claim_by = Some(by);
                (
                    Outcome::Won {
                        prize: prize.clone(),
                    },
                    row.drawn_at,
                )
            }
        };
        claimed.push(Claimed {
            id: row.id,
            kind,
            attempts: row.attempts,
            openid: row.openid,
            content: NoticeContent {
                event_id: row.event_id,
                title: row.title,
                outcome,
                at: at.map_or(now, from_db_time),
                claim_by,
            },
        });
    }
    Ok(claimed)
}

/// These notices reached WeChat.
pub async fn sent(db: &Db, ids: &[i64], now: DateTime<Utc>) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = to_db_time(now);
    db_run!(db, |conn| {
        diesel::update(notices::table.filter(notices::id.eq_any(ids)))
            .set((
                notices::state.eq(NoticeState::Sent),
                notices::sent_at.eq(now),
                notices::attempts.eq(notices::attempts + 1),
                notices::error.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A send that failed for now: tried again at `due_at`.
pub async fn retry(db: &Db, id: i64, due_at: DateTime<Utc>, error: &str) -> AppResult<()> {
    let due_at = to_db_time(due_at);
    let error = clip(error);
    db_run!(db, |conn| {
        diesel::update(notices::table.find(id))
            .set((
                notices::due_at.eq(due_at),
                notices::attempts.eq(notices::attempts + 1),
                notices::error.eq(Some(&error)),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A notice that will never go: recorded with why, not tried again.
pub async fn fail(db: &Db, id: i64, error: &str) -> AppResult<()> {
    let error = clip(error);
    db_run!(db, |conn| {
        diesel::update(notices::table.find(id))
            .set((
                notices::state.eq(NoticeState::Failed),
                notices::attempts.eq(notices::attempts + 1),
                notices::error.eq(Some(&error)),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// A notice no longer needed when it came due: recorded with why, never sent.
pub async fn skip(db: &Db, id: i64, why: &str, now: DateTime<Utc>) -> AppResult<()> {
    let why = clip(why);
    let now = to_db_time(now);
    db_run!(db, |conn| {
        diesel::update(notices::table.find(id))
            .set((
                notices::state.eq(NoticeState::Skipped),
                // When it was settled: old skipped rows go with old sent ones.
                notices::sent_at.eq(now),
                notices::error.eq(Some(&why)),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })?;
    metrics::counter!("lottery_notices_total", "result" => "skipped", "reason" => "not_needed")
        .increment(1);
    Ok(())
}

/// Gives back notices this sender claimed and did not try, so they are due
/// now rather than when the claim would have run out.
pub async fn release(db: &Db, ids: &[i64], now: DateTime<Utc>) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = to_db_time(now);
    db_run!(db, |conn| {
        diesel::update(
            notices::table
                .filter(notices::id.eq_any(ids))
                .filter(notices::state.eq(NoticeState::Pending)),
        )
        .set(notices::due_at.eq(now))
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Notices not sent yet (due now, waiting for a retry, or claimed).
pub async fn pending(db: &Db) -> AppResult<i64> {
    db_run!(db, |conn| {
        Ok(notices::table
            .filter(notices::state.eq(NoticeState::Pending))
            .count()
            .get_result(conn)
            .await?)
    })
}

/// Deletes up to `limit` notices sent (or skipped) before `before`;
/// returns how many. Failed ones stay: they are what an operator looks into.
pub async fn purge_sent(db: &Db, before: DateTime<Utc>, limit: i64) -> AppResult<usize> {
    let before = to_db_time(before);
    db_run!(db, |conn| {
        // Ids first: MySQL allows no LIMIT in an IN subquery, SQLite no
        // LIMIT on DELETE.
        let old: Vec<i64> = notices::table
            .filter(notices::state.eq_any([NoticeState::Sent, NoticeState::Skipped]))
            .filter(notices::sent_at.lt(before))
            .limit(limit)
            .select(notices::id)
            .load(conn)
            .await?;
        if old.is_empty() {
            return Ok(0);
        }
        Ok(
            diesel::delete(notices::table.filter(notices::id.eq_any(&old)))
                .execute(conn)
                .await?,
        )
    })
}

/// The error column holds 255 characters; cut between characters.
fn clip(error: &str) -> String {
    error.chars().take(255).collect()
}
