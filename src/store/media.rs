//! Uploaded images (table `media`): whose each is, its size, and where
//! WeChat's content check has it. The bytes are in the media store.

use chrono::{DateTime, Utc};
use diesel::{Insertable, Queryable, Selectable};

use super::models::{from_db_time, to_db_time};
use super::schema::{events, media, prizes};
use super::Db;
use crate::db_run;
use crate::domain::media::{MediaStatus, Stored};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = media)]
pub struct MediaRow {
    pub id: String,
    pub owner_id: i64,
    pub status: MediaStatus,
    pub format: String,
    pub width: i32,
    pub height: i32,
    pub bytes: i32,
    pub thumb_bytes: i32,
    pub trace_id: Option<String>,
    pub label: Option<i32>,
    /// Times WeChat's check was asked.
    pub tries: i16,
    pub created_at: chrono::NaiveDateTime,
    pub checked_at: Option<chrono::NaiveDateTime>,
}

impl MediaRow {
    /// The stored format (a row of an unknown one is unreadable data).
    pub fn stored(&self) -> AppResult<Stored> {
        Stored::parse(&self.format).ok_or_else(|| {
            AppError::internal(format!("image {} has format {:?}", self.id, self.format))
        })
    }
}

pub async fn insert(db: &Db, row: MediaRow) -> AppResult<()> {
    db_run!(db, |conn| {
        diesel::insert_into(media::table)
            .values(&row)
            .execute(conn)
            .await?;
        Ok(())
    })
}

pub async fn get(db: &Db, id: &str) -> AppResult<Option<MediaRow>> {
    let id = id.to_string();
    db_run!(db, |conn| {
        Ok(media::table
            .find(&id)
            .select(MediaRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// What a user has uploaded lately, and keeps.
pub struct Usage {
    /// Uploads since the time asked about.
    pub recent: i64,
    /// When the oldest of those was made.
    pub oldest_recent: Option<DateTime<Utc>>,
    /// Bytes of all their images that are kept (a rejected image's bytes
    /// are deleted).
    pub kept_bytes: i64,
}

pub async fn usage(db: &Db, owner_id: i64, since: DateTime<Utc>) -> AppResult<Usage> {
    let since = to_db_time(since);
    db_run!(db, |conn| {
        let recent: Vec<chrono::NaiveDateTime> = media::table
            .filter(media::owner_id.eq(owner_id))
            .filter(media::created_at.ge(since))
            .select(media::created_at)
            .load(conn)
            .await?;
        let kept: Vec<(i32, i32)> = media::table
            .filter(media::owner_id.eq(owner_id))
            .filter(media::status.ne(MediaStatus::Rejected))
            .select((media::bytes, media::thumb_bytes))
            .load(conn)
            .await?;
        Ok(Usage {
            recent: recent.len() as i64,
            oldest_recent: recent.iter().min().map(|t| from_db_time(*t)),
            kept_bytes: kept
                .iter()
                .map(|(b, t)| i64::from(*b) + i64::from(*t))
                .sum(),
        })
    })
}

/// WeChat took the check of a pending image under `trace_id` (a new
/// check replaces the trace of one whose verdict never came).
pub async fn checking(db: &Db, id: &str, trace_id: &str, now: DateTime<Utc>) -> AppResult<()> {
    let (id, trace_id, at) = (id.to_string(), trace_id.to_string(), to_db_time(now));
    db_run!(db, |conn| {
        diesel::update(media::table.find(&id))
            .filter(media::status.eq(MediaStatus::Pending))
            .set((
                media::trace_id.eq(&trace_id),
                media::checked_at.eq(at),
                media::tries.eq(media::tries + 1),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// An ask that failed still counts as a try (and its time), so the keeper
/// spaces its asks and gives up in the end.
pub async fn ask_failed(db: &Db, id: &str, now: DateTime<Utc>) -> AppResult<()> {
    let (id, at) = (id.to_string(), to_db_time(now));
    db_run!(db, |conn| {
        diesel::update(media::table.find(&id))
            .filter(media::status.eq(MediaStatus::Pending))
            .set((media::checked_at.eq(at), media::tries.eq(media::tries + 1)))
            .execute(conn)
            .await?;
        Ok(())
    })
}

/// Pending images to ask WeChat about again, oldest first, among those
/// asked fewer than `max_tries` times: never taken by WeChat (no trace)
/// and last tried before `failed_before`, or taken and still without a
/// verdict since before `unanswered_before`.
pub async fn to_ask_again(
    db: &Db,
    failed_before: DateTime<Utc>,
    unanswered_before: DateTime<Utc>,
    max_tries: i16,
    limit: i64,
) -> AppResult<Vec<MediaRow>> {
    let (failed, unanswered) = (to_db_time(failed_before), to_db_time(unanswered_before));
    db_run!(db, |conn| {
        Ok(media::table
            .filter(media::status.eq(MediaStatus::Pending))
            .filter(media::tries.lt(max_tries))
            .filter(
                media::trace_id
                    .is_null()
                    .and(
                        media::checked_at.lt(failed).or(media::checked_at
                            .is_null()
                            .and(media::created_at.lt(failed))),
                    )
                    .or(media::trace_id
                        .is_not_null()
                        .and(media::checked_at.lt(unanswered))),
            )
            .order(media::created_at)
            .limit(limit)
            .select(MediaRow::as_select())
            .load(conn)
            .await?)
    })
}

/// Pending images whose every try was used: WeChat never answered.
pub async fn given_up(db: &Db, max_tries: i16) -> AppResult<i64> {
    db_run!(db, |conn| {
        Ok(media::table
            .filter(media::status.eq(MediaStatus::Pending))
            .filter(media::tries.ge(max_tries))
            .count()
            .get_result(conn)
            .await?)
    })
}

/// The rows of the images one event shows (cover, prizes).
pub async fn of_event(db: &Db, event_id: i64) -> AppResult<Vec<MediaRow>> {
    db_run!(db, |conn| {
        let cover: Option<Option<String>> = events::table
            .find(event_id)
            .select(events::cover_id)
            .first(conn)
            .await
            .optional()?;
        let mut ids: Vec<String> = prizes::table
            .filter(prizes::event_id.eq(event_id))
            .select(prizes::image_id)
            .load::<Option<String>>(conn)
            .await?
            .into_iter()
            .flatten()
            .collect();
        ids.extend(cover.flatten());
        if ids.is_empty() {
            return Ok(vec![]);
        }
        Ok(media::table
            .filter(media::id.eq_any(&ids))
            .select(MediaRow::as_select())
            .load(conn)
            .await?)
    })
}

/// WeChat's verdict on the check `trace_id`: the image it moved from
/// pending (None when no pending image has that check: unknown, or
/// decided already, as a repeated push is).
pub async fn decide(
    db: &Db,
    trace_id: &str,
    status: MediaStatus,
    label: Option<i32>,
    now: DateTime<Utc>,
) -> AppResult<Option<MediaRow>> {
    let (trace_id, at) = (trace_id.to_string(), to_db_time(now));
    db_run!(db, |conn| {
        let changed = diesel::update(media::table)
            .filter(media::trace_id.eq(&trace_id))
            .filter(media::status.eq(MediaStatus::Pending))
            .set((
                media::status.eq(status),
                media::label.eq(label),
                media::checked_at.eq(at),
            ))
            .execute(conn)
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        Ok(media::table
            .filter(media::trace_id.eq(&trace_id))
            .select(MediaRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// The pending image that has the check `trace_id`, if any.
pub async fn pending_with_trace(db: &Db, trace_id: &str) -> AppResult<Option<MediaRow>> {
    let trace_id = trace_id.to_string();
    db_run!(db, |conn| {
        Ok(media::table
            .filter(media::trace_id.eq(&trace_id))
            .filter(media::status.eq(MediaStatus::Pending))
            .select(MediaRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Whether an image has the check `trace_id`.
pub async fn traced(db: &Db, trace_id: &str) -> AppResult<bool> {
    let trace_id = trace_id.to_string();
    db_run!(db, |conn| {
        let n: i64 = media::table
            .filter(media::trace_id.eq(&trace_id))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    })
}

/// The events that show the image: as cover or as a prize's picture.
pub async fn events_using(db: &Db, id: &str) -> AppResult<Vec<i64>> {
    let id = id.to_string();
    db_run!(db, |conn| {
        let mut ids: Vec<i64> = events::table
            .filter(events::cover_id.eq(&id))
            .select(events::id)
            .load(conn)
            .await?;
        let by_prize: Vec<i64> = prizes::table
            .filter(prizes::image_id.eq(&id))
            .select(prizes::event_id)
            .load(conn)
            .await?;
        ids.extend(by_prize);
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    })
}

/// The images named, as stored (unknown ids are absent).
pub async fn many(db: &Db, ids: &[String]) -> AppResult<Vec<MediaRow>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = ids.to_vec();
    db_run!(db, |conn| {
        Ok(media::table
            .filter(media::id.eq_any(&ids))
            .select(MediaRow::as_select())
            .load(conn)
            .await?)
    })
}
