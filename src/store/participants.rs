//! Participations: the event actor's group commit, and reads.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::schema::{events, participants, users};
use super::Db;
use super::{multi_row_insert, sql_time};
use crate::db_run;
use crate::error::AppResult;

/// The net effect of one batch of joins and leaves.
#[derive(Debug, Default, Clone)]
pub struct BatchChanges {
    /// New participations: (user id, notify).
    pub joins: Vec<(i64, bool)>,
    /// Users who asked for notice after they had joined.
    pub notify_on: Vec<i64>,
    pub leaves: Vec<i64>,
    /// The participant count once the batch is applied.
    pub count: i32,
}

impl BatchChanges {
    pub fn is_empty(&self) -> bool {
        self.joins.is_empty() && self.notify_on.is_empty() && self.leaves.is_empty()
    }
}

/// Rows per INSERT: well under SQLite's bound-parameter limit.
const INSERT_CHUNK: usize = 1000;

/// Applies a batch in one transaction. Insert-or-ignore and the unique key
/// on (event, user) make a retried batch harmless.
pub async fn apply_batch(
    db: &Db,
    event_id: i64,
    changes: &BatchChanges,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let joined_at = sql_time(now);
    let verb = db.insert_ignore_verb();
    db_run!(db, |conn| {
        conn.transaction::<_, crate::error::AppError, _>(async |conn| {
            if !changes.leaves.is_empty() {
                diesel::delete(
                    participants::table
                        .filter(participants::event_id.eq(event_id))
                        .filter(participants::user_id.eq_any(&changes.leaves)),
                )
                .execute(conn)
                .await?;
            }
            for chunk in changes.joins.chunks(INSERT_CHUNK) {
                let rows = chunk.iter().map(|&(user_id, notify)| {
                    format!("({event_id},{user_id},{},'{joined_at}')", i32::from(notify))
                });
                diesel::sql_query(multi_row_insert(
                    verb,
                    "participants (event_id, user_id, notify, joined_at)",
                    rows,
                ))
                .execute(conn)
                .await?;
            }
            if !changes.notify_on.is_empty() {
                diesel::update(
                    participants::table
                        .filter(participants::event_id.eq(event_id))
                        .filter(participants::user_id.eq_any(&changes.notify_on)),
                )
                .set(participants::notify.eq(true))
                .execute(conn)
                .await?;
            }
            diesel::update(events::table.find(event_id))
                .set(events::participant_count.eq(changes.count))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    })
}

/// One page of participants in join order, after the participation `after`.
pub async fn page(
    db: &Db,
    event_id: i64,
    after: Option<i64>,
    limit: i64,
) -> AppResult<Vec<(i64, i64, Option<String>, NaiveDateTime)>> {
    db_run!(db, |conn| {
        Ok(participants::table
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
            .await?)
    })
}

pub async fn user_ids(db: &Db, event_id: i64) -> AppResult<Vec<i64>> {
    db_run!(db, |conn| {
        Ok(participants::table
            .filter(participants::event_id.eq(event_id))
            .select(participants::user_id)
            .load(conn)
            .await?)
    })
}
