//! `Idempotency-Key` rows (table `idempotency_keys`): per user and key,
//! the request's digest, the attempt holding the key and, once created,
//! the event. The first request inserts the row; the creation's own
//! transaction sets `event_id` only where its attempt still holds the row
//! (`store::events::create`), so however requests race, crash and retry, one key
//! gives at most one event, and an event made under a key is always found
//! by it. What a retry is told is decided in `domain::idempotency`.

use chrono::{DateTime, Utc};

use super::models::{from_db_time, to_db_time};
use super::schema::idempotency_keys as keys;
use super::Db;
use crate::db_run;
use crate::domain::idempotency::KeyState;
use crate::error::{AppError, AppResult};

/// The row of (`user_id`, `key`), as a retry meets it.
pub async fn get(db: &Db, user_id: i64, key: &str) -> AppResult<Option<(KeyState, String)>> {
    let key = key.to_string();
    db_run!(db, |conn| {
        let row: Option<(String, i64, Option<i64>, chrono::NaiveDateTime)> = keys::table
            .find((user_id, &key))
            .select((
                keys::request_digest,
                keys::attempt,
                keys::event_id,
                keys::created_at,
            ))
            .first(conn)
            .await
            .optional()?;
        Ok(row.map(|(digest, attempt, event_id, at)| {
            (
                KeyState {
                    attempt,
                    event_id,
                    since: from_db_time(at),
                },
                digest,
            )
        }))
    })
}

/// Takes the key for `attempt`: inserts the row, or, when `replacing` is
/// a row that may be taken over (expired, or abandoned while creating),
/// replaces it only if it is still as read: the same attempt and the same
/// event (an abandoned key's creation that commits after all binds its
/// event, and the takeover then finds nothing to replace). False when
/// another request got there first.
pub async fn take(
    db: &Db,
    user_id: i64,
    key: &str,
    digest: &str,
    attempt: i64,
    replacing: Option<KeyState>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let key = key.to_string();
    let digest = digest.to_string();
    let now = to_db_time(now);
    db_run!(db, |conn| {
        let taken = match replacing {
            None => {
                let inserted = diesel::insert_into(keys::table)
                    .values((
                        keys::user_id.eq(user_id),
                        keys::idem_key.eq(&key),
                        keys::request_digest.eq(&digest),
                        keys::attempt.eq(attempt),
                        keys::created_at.eq(now),
                    ))
                    .execute(conn)
                    .await;
                match inserted {
                    Ok(n) => n == 1,
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => false,
                    Err(other) => return Err(other.into()),
                }
            }
            Some(old) => {
                let row = keys::table
                    .find((user_id, &key))
                    .filter(keys::attempt.eq(old.attempt));
                let renewed = (
                    keys::request_digest.eq(&digest),
                    keys::attempt.eq(attempt),
                    keys::event_id.eq(None::<i64>),
                    keys::created_at.eq(now),
                );
                let replaced = match old.event_id {
                    Some(id) => {
                        diesel::update(row.filter(keys::event_id.eq(id)))
                            .set(renewed)
                            .execute(conn)
                            .await?
                    }
                    None => {
                        diesel::update(row.filter(keys::event_id.is_null()))
                            .set(renewed)
                            .execute(conn)
                            .await?
                    }
                };
                replaced == 1
            }
        };
        Ok(taken)
    })
}

/// What a creation whose attempt no longer holds its key is told (another
/// request took the key over): its transaction rolls back.
pub fn taken_over() -> AppError {
    AppError::InvalidState(
        "a request with this Idempotency-Key is still being handled; retry shortly".into(),
    )
}

/// Lets the key go after a creation that failed (refused, or the database
/// erred): a retry with it starts afresh. Only while `attempt` holds it
/// and no event was made.
pub async fn release(db: &Db, user_id: i64, key: &str, attempt: i64) -> AppResult<()> {
    let key = key.to_string();
    db_run!(db, |conn| {
        diesel::delete(
            keys::table
                .find((user_id, &key))
                .filter(keys::attempt.eq(attempt).and(keys::event_id.is_null())),
        )
        .execute(conn)
        .await?;
        Ok(())
    })
}

/// Deletes the keys made before `cutoff`; how many.
pub async fn forget_before(db: &Db, cutoff: DateTime<Utc>) -> AppResult<usize> {
    let cutoff = to_db_time(cutoff);
    db_run!(db, |conn| {
        Ok(
            diesel::delete(keys::table.filter(keys::created_at.lt(cutoff)))
                .execute(conn)
                .await?,
        )
    })
}
