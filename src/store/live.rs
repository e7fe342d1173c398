//! What an event actor loads to serve an event, and the repair of counts a
//! crash left behind.

use super::media::MediaRow;
use super::models::{EventRow, PrizeRow};
use super::ownership::{self, Token};
use super::participants::whole_event;
use super::schema::{events, join_tries, media, prizes, users};
use super::Db;
use crate::db_run;
use crate::domain::event::EventStatus;
use crate::domain::subscription::Subscriptions;
use crate::error::{AppError, AppResult};

/// Everything an event actor needs to serve an event. For a finished event
/// only the row is read: its participants no longer matter to the actor.
pub struct LiveState {
    pub event: EventRow,
    pub creator_nickname: Option<String>,
    pub prizes: Vec<PrizeRow>,
    /// The uploaded images the event names.
    pub images: Vec<MediaRow>,
    pub members: Vec<(i64, Subscriptions)>,
    /// Wrong join passwords so far, per user (`join_tries`).
    pub wrong_tries: Vec<(i64, i16)>,
}

/// The event as its actor starts. In cluster mode (`owner` set) the load
/// is an activation: the event's epoch is raised to the owner's token first
/// (see `store::ownership::activate`), and a newer owner is `Fenced`.
pub async fn load_live(db: &Db, id: i64, owner: Option<Token>) -> AppResult<Option<LiveState>> {
    if let Some(token) = owner {
        ownership::activate(db, id, token).await?;
    }
    db_run!(db, |conn| {
        let Some((event, creator_nickname, epoch)) = events::table
            .inner_join(users::table)
            .filter(events::id.eq(id))
            .select((EventRow::as_select(), users::nickname, events::owner_epoch))
            .first::<(EventRow, Option<String>, i64)>(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        if owner.is_some_and(|token| token != epoch) {
            return Err(AppError::Fenced);
        }
        if !event.status.is_live() {
            return Ok(Some(LiveState {
                event,
                creator_nickname,
                prizes: vec![],
                images: vec![],
                members: vec![],
                wrong_tries: vec![],
            }));
        }
        let prize_rows = prizes::table
            .filter(prizes::event_id.eq(id))
            .order(prizes::position)
            .select(PrizeRow::as_select())
            .load(conn)
            .await?;
        let image_ids: Vec<String> = event
            .cover_id
            .iter()
            .chain(prize_rows.iter().filter_map(|p| p.image_id.as_ref()))
            .cloned()
            .collect();
        let images = if image_ids.is_empty() {
            Vec::new()
        } else {
            media::table
                .filter(media::id.eq_any(&image_ids))
                .select(MediaRow::as_select())
                .load(conn)
                .await?
        };
        let members =
            whole_event!(conn, id, super::participants::MEMBER_COLUMNS => (i64, Subscriptions));
        let wrong_tries = if event.join_password.is_some() {
            join_tries::table
                .filter(join_tries::event_id.eq(id))
                .select((join_tries::user_id, join_tries::wrong))
                .load(conn)
                .await?
        } else {
            Vec::new()
        };
        Ok(Some(LiveState {
            event,
            creator_nickname,
            prizes: prize_rows,
            images,
            members,
            wrong_tries,
        }))
    })
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Rewrites the participant count of every open event whose row is behind
/// its participants: after a crash, the last second of joins may not have
/// reached the row (see participants::apply_batch). One read without
/// locks, then short updates of a few rows each. Returns how many it fixed.
pub async fn heal_counts(db: &Db) -> AppResult<usize> {
    const COUNTED: &str = "(SELECT COUNT(*) FROM participants p WHERE p.event_id = events.id)";
    let open = EventStatus::Open.to_db();
    db_run!(db, |conn| {
        let behind: Vec<IdRow> = diesel::sql_query(format!(
            "SELECT id FROM events WHERE status = {open} AND participant_count <> {COUNTED}"
        ))
        .load(conn)
        .await?;
        for chunk in behind.chunks(100) {
            let ids: Vec<String> = chunk.iter().map(|r| r.id.to_string()).collect();
            conn.batch_execute(&format!(
                "UPDATE events SET participant_count = {COUNTED} \
                 WHERE status = {open} AND id IN ({})",
                ids.join(",")
            ))
            .await?;
        }
        Ok(behind.len())
    })
}
