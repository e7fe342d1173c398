//! Participations: the event actor's group commit, and reads.

use chrono::{DateTime, Utc};

use super::models::ParticipantEntry;

use super::ownership::{self, Token};
use super::schema::{events, participants, users};
use super::Db;
use super::{multi_row_insert, sql_time};
use crate::db_run;
use crate::domain::count::ParticipantCount;
use crate::domain::membership::MemberWrites;
use crate::domain::subscription::Subscriptions;
use crate::error::AppResult;

/// Rows per INSERT: keeps each statement well under the servers' limits.
const INSERT_CHUNK: usize = 1000;

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The whole batch as one SQL script: one round trip (one blocking hop on
/// SQLite) instead of one per statement, which is what bounds a hot event's
/// commit rate. A batch of one statement (the usual: joins only, count not
/// due) runs on its own, atomic without BEGIN/COMMIT; MariaDB spends about
/// as much CPU on each extra statement of a batch as on ten of its rows.
/// Only integers and our own timestamp are formatted in.
///
/// In cluster mode (`fence` set) the script opens with the ownership fence
/// (see `store::ownership`) and is always a transaction: a stale owner's
/// batch fails whole.
fn batch_script(
    db: &Db,
    event_id: i64,
    changes: &MemberWrites,
    count: Option<ParticipantCount>,
    joined_at: &str,
    fence: Option<Token>,
) -> String {
    batch_script_for(
        db.begin_write(),
        db.skip_existing_participant(),
        event_id,
        changes,
        count,
        joined_at,
        fence,
    )
}

fn batch_script_for(
    begin: &str,
    skip_existing: &str,
    event_id: i64,
    changes: &MemberWrites,
    count: Option<ParticipantCount>,
    joined_at: &str,
    fence: Option<Token>,
) -> String {
    let mut script = Vec::new();
    if let Some(token) = fence {
        script.push(ownership::fence_sql(event_id, token));
    }
    if !changes.leaves.is_empty() {
        script.push(format!(
            "DELETE FROM participants WHERE event_id = {event_id} AND user_id IN ({})",
            id_list(&changes.leaves)
        ));
    }
    for chunk in changes.joins.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|&(user_id, accepted)| {
            format!(
                "({event_id},{user_id},{},{},'{joined_at}')",
                i32::from(accepted.result),
                i32::from(accepted.claim_reminder)
            )
        });
        script.push(multi_row_insert(
            "participants (event_id, user_id, notify, remind, joined_at)",
            rows,
            skip_existing,
        ));
    }
    if !changes.notify_on.is_empty() {
        script.push(format!(
            "UPDATE participants SET notify = 1 WHERE event_id = {event_id} AND user_id IN ({})",
            id_list(&changes.notify_on)
        ));
    }
    if !changes.remind_on.is_empty() {
        script.push(format!(
            "UPDATE participants SET remind = 1 WHERE event_id = {event_id} AND user_id IN ({})",
            id_list(&changes.remind_on)
        ));
    }
    if let Some(count) = count {
        script.push(format!(
            "UPDATE events SET participant_count = {} WHERE id = {event_id}",
            count.db_value()
        ));
    }
    if script.len() > 1 {
        script.insert(0, begin.to_string());
        script.push("COMMIT".into());
    }
    script.join(";\n")
}

/// Applies a batch in one transaction. Skipping existing rows (and only
/// those) with the unique key on (event, user) makes a retried batch
/// harmless.
///
/// The event row's `participant_count` is written only when `count` is
/// given (the actor does it at most once a second, and before it stops): the
/// row update and the transaction around it cost a hot event more than its
/// rows. The actor's committed count is the live figure (`Events::
/// committed_count`); the row catches up within a second, and an actor
/// that loads a row behind its participants rewrites it.
///
/// `fence`: the owner's token in cluster mode; a newer owner makes the
/// batch fail with `AppError::Fenced`, nothing written.
pub async fn apply_batch(
    db: &Db,
    event_id: i64,
    changes: &MemberWrites,
    count: Option<ParticipantCount>,
    now: DateTime<Utc>,
    fence: Option<Token>,
) -> AppResult<()> {
    let script = batch_script(db, event_id, changes, count, &sql_time(now), fence);
    db_run!(db, |conn| {
        if let Err(err) = conn.batch_execute(&script).await {
            // A statement failed mid-script: end the transaction it opened
            // before the connection goes back to the pool.
            let _ = conn.batch_execute("ROLLBACK").await;
            return Err(err.into());
        }
        Ok(())
    })
}

/// One page of participants in join order, after the participation
/// `after`; None when there is no such event.
pub async fn page(
    db: &Db,
    event_id: i64,
    after: Option<i64>,
    limit: i64,
) -> AppResult<Option<Vec<ParticipantEntry>>> {
    db_run!(db, |conn| {
        let exists: Option<i64> = events::table
            .find(event_id)
            .select(events::id)
            .first(conn)
            .await
            .optional()?;
        if exists.is_none() {
            return Ok(None);
        }
        Ok(Some(
            participants::table
                .inner_join(users::table)
                .filter(participants::event_id.eq(event_id))
                .filter(participants::id.gt(after.unwrap_or(0)))
                .order(participants::id)
                .limit(limit)
                .select((
                    participants::id,
                    users::id,
                    users::nickname,
                    participants::joined_at,
                ))
                .load(conn)
                .await?,
        ))
    })
}

/// A participant as its event's actor holds it: the user and the messages
/// they accepted.
pub const MEMBER_COLUMNS: (
    participants::user_id,
    (participants::notify, participants::remind),
) = (
    participants::user_id,
    (participants::notify, participants::remind),
);

/// Rows a read of a whole event's participants takes at a time on SQLite,
/// whose async wrapper copies a whole result into owned rows (a duplicated
/// SQLite value per column, about 300 bytes a row) before the first row is
/// decoded: a million members read at once took 335 MB. MySQL's driver
/// streams the rows into the caller's vector instead, and reads in one
/// query (paged, a million members took 2.4 s to load instead of 0.6 s,
/// the pages' order costing a lookup a row).
pub const READ_PAGE: i64 = 20_000;

/// How each backend reads a whole event (`whole_event!`): in pages of how
/// many rows, or in one query.
pub trait WholeEventReads {
    const PAGE: Option<i64>;
}

impl WholeEventReads for diesel_async::AsyncMysqlConnection {
    const PAGE: Option<i64> = None;
}

impl WholeEventReads for super::SqliteConn {
    const PAGE: Option<i64> = Some(READ_PAGE);
}

pub fn page_for<C: WholeEventReads>(_: &C) -> Option<i64> {
    C::PAGE
}

/// Every participant row of the event `$event_id`, `$columns` of each (as
/// `$row`), on `$conn`, for a `db_run!` body (its `?`): in one query, or
/// (`$page`, by default the backend's `WholeEventReads`) a page at a time
/// in user id order, on the `(event_id, user_id)` index. Inside a
/// transaction the pages are one snapshot; outside one, the event's actor
/// is the only writer of its participants, and it is not live while it is
/// loaded.
macro_rules! whole_event {
    ($conn:ident, $event_id:expr, $columns:expr => $row:ty) => {
        $crate::store::participants::whole_event!(
            $conn, $event_id, $columns => $row, $crate::store::participants::page_for(&*$conn)
        )
    };
    ($conn:ident, $event_id:expr, $columns:expr => $row:ty, $page:expr) => {{
        #[allow(unused_imports)]
        use diesel::prelude::*;
        #[allow(unused_imports)]
        use diesel_async::RunQueryDsl;
        use $crate::store::schema::participants as p;
        let page_rows: Option<i64> = $page;
        match page_rows {
            None => p::table
                .filter(p::event_id.eq($event_id))
                .select($columns)
                .load::<$row>($conn)
                .await?,
            Some(limit) => {
                let mut rows: Vec<$row> = Vec::new();
                let mut after = 0i64;
                loop {
                    let page: Vec<(i64, $row)> = p::table
                        .filter(p::event_id.eq($event_id))
                        .filter(p::user_id.gt(after))
                        .order(p::user_id)
                        .select((p::user_id, $columns))
                        .limit(limit)
                        .load($conn)
                        .await?;
                    let last = (page.len() as i64) < limit;
                    if let Some((user_id, _)) = page.last() {
                        after = *user_id;
                    }
                    rows.extend(page.into_iter().map(|(_, row)| row));
                    if last {
                        break rows;
                    }
                }
            }
        }
    }};
}
pub(crate) use whole_event;

/// The participants and the messages each accepted: what an event actor
/// holds in memory.
pub async fn members(db: &Db, event_id: i64) -> AppResult<Vec<(i64, Subscriptions)>> {
    db_run!(db, |conn| Ok(
        whole_event!(conn, event_id, MEMBER_COLUMNS => (i64, Subscriptions))
    ))
}

pub async fn user_ids(db: &Db, event_id: i64) -> AppResult<Vec<i64>> {
    db_run!(db, |conn| Ok(
        whole_event!(conn, event_id, participants::user_id => i64)
    ))
}

/// `user_ids` read `page` rows at a time on either backend: the paging's
/// own test takes small pages.
pub async fn user_ids_in_pages(db: &Db, event_id: i64, page: i64) -> AppResult<Vec<i64>> {
    db_run!(db, |conn| Ok(whole_event!(
        conn,
        event_id,
        participants::user_id => i64,
        Some(page)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULT: Subscriptions = Subscriptions {
        result: true,
        claim_reminder: false,
    };

    #[test]
    fn a_batch_is_one_transaction_of_integers() {
        let changes = MemberWrites {
            joins: vec![(7, RESULT), (8, Subscriptions::NONE)],
            notify_on: vec![7],
            remind_on: vec![7],
            leaves: vec![9],
            count: ParticipantCount::of(41),
        };
        // The script only depends on the backend's dialect, not on a pool.
        let script = batch_script_for(
            "BEGIN",
            " ON DUPLICATE KEY UPDATE id = id",
            3,
            &changes,
            Some(ParticipantCount::of(41)),
            "2026-11-22 12:00:00.000000",
            None,
        );
        assert_eq!(
            script,
            "BEGIN;\n\
             DELETE FROM participants WHERE event_id = 3 AND user_id IN (9);\n\
             INSERT INTO participants (event_id, user_id, notify, remind, joined_at) VALUES \
             (3,7,1,0,'2026-11-22 12:00:00.000000'),(3,8,0,0,'2026-11-22 12:00:00.000000') \
             ON DUPLICATE KEY UPDATE id = id;\n\
             UPDATE participants SET notify = 1 WHERE event_id = 3 AND user_id IN (7);\n\
             UPDATE participants SET remind = 1 WHERE event_id = 3 AND user_id IN (7);\n\
             UPDATE events SET participant_count = 41 WHERE id = 3;\n\
             COMMIT"
        );
    }

    #[test]
    fn a_batch_of_joins_alone_is_one_statement() {
        let changes = MemberWrites {
            joins: vec![(7, Subscriptions::NONE)],
            count: ParticipantCount::of(5),
            ..Default::default()
        };
        let script = batch_script_for(
            "BEGIN",
            " ON CONFLICT DO NOTHING",
            3,
            &changes,
            None,
            "t",
            None,
        );
        assert_eq!(
            script,
            "INSERT INTO participants (event_id, user_id, notify, remind, joined_at) VALUES \
             (3,7,0,0,'t') ON CONFLICT DO NOTHING"
        );
        let count_only = MemberWrites {
            count: ParticipantCount::of(5),
            ..Default::default()
        };
        assert_eq!(
            batch_script_for(
                "BEGIN",
                "",
                3,
                &count_only,
                Some(ParticipantCount::of(5)),
                "t",
                None
            ),
            "UPDATE events SET participant_count = 5 WHERE id = 3"
        );
    }

    #[test]
    fn a_fenced_batch_checks_the_owner_first_in_one_transaction() {
        let changes = MemberWrites {
            joins: vec![(7, Subscriptions::NONE)],
            count: ParticipantCount::of(5),
            ..Default::default()
        };
        let script = batch_script_for("BEGIN", "", 3, &changes, None, "t", Some(42));
        assert_eq!(
            script,
            "BEGIN;\n\
             INSERT INTO ownership_fence (stale_owner) SELECT NULL FROM events \
             WHERE id = 3 AND owner_epoch <> 42;\n\
             INSERT INTO participants (event_id, user_id, notify, remind, joined_at) VALUES (3,7,0,0,'t');\n\
             COMMIT"
        );
    }
}
