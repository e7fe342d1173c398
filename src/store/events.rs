//! Events and their prizes: creation, reads, lists, cancel and the draw's
//! two conditional steps.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::models::{to_db_time, EventRow, PrizeRow, WinnerEntry};
use super::schema::{events, participants, prizes, users, winners};
use super::{multi_row_insert, readable_rows, sql_time, Db};
use crate::db_run;
use crate::domain::draw::{canonical_order, seed_hash, Award, Seed};
use crate::domain::event::EventStatus;
use crate::domain::validation::NewEvent;
use crate::error::{AppError, AppResult};

/// An event with what every view of it shows.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: EventRow,
    pub creator_nickname: Option<String>,
    pub prizes: Vec<PrizeRow>,
}

/// What one user has to do with some events: joined, and the prize won.
#[derive(Debug, Default)]
pub struct ViewerState {
    pub joined: HashSet<i64>,
    pub prizes: HashMap<i64, (i64, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Created,
    Joined,
    Won,
}

/// Stores a new open event with its prizes and returns its id. The id is
/// found again through the unique seed hash, which works on both backends
/// without RETURNING or LAST_INSERT_ID.
pub async fn create(
    db: &Db,
    creator_id: i64,
    new: &NewEvent,
    seed: &Seed,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    let hash = seed_hash(seed);
    db_run!(db, |conn| {
        conn.transaction::<_, crate::error::AppError, _>(async |conn| {
            diesel::insert_into(events::table)
                .values((
                    events::creator_id.eq(creator_id),
                    events::title.eq(&new.title),
                    events::description.eq(&new.description),
                    events::status.eq(EventStatus::Open),
                    events::draw_mode.eq(new.draw_mode),
                    events::draw_at.eq(to_db_time(new.draw_at)),
                    events::max_participants.eq(new.max_participants),
                    events::participant_count.eq(0),
                    events::seed.eq(seed.as_slice()),
                    events::seed_hash.eq(&hash),
                    events::created_at.eq(to_db_time(now)),
                ))
                .execute(conn)
                .await?;
            let id: i64 = events::table
                .filter(events::seed_hash.eq(&hash))
                .select(events::id)
                .first(conn)
                .await?;
            // At most 20 rows: one statement each keeps SQLite happy.
            for (position, p) in new.prizes.iter().enumerate() {
                diesel::insert_into(prizes::table)
                    .values((
                        prizes::event_id.eq(id),
                        prizes::position.eq(position as i32),
                        prizes::name.eq(&p.name),
                        prizes::quantity.eq(p.quantity),
                        prizes::image_url.eq(p.image_url.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(id)
        })
        .await
    })
}

pub async fn get_row(db: &Db, id: i64) -> AppResult<Option<EventRow>> {
    db_run!(db, |conn| {
        Ok(events::table
            .find(id)
            .select(EventRow::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Which events to load for a view.
#[derive(Clone, Copy, Debug)]
pub enum Selection {
    One(i64),
    /// A user's events for one role, newest first, strictly older than
    /// `before`.
    OfUser {
        user_id: i64,
        role: Role,
        before: Option<i64>,
        limit: i64,
    },
}

/// Events as every view shows them, and what `viewer` has to do with them:
/// one connection and four queries whatever the number of events (the
/// browse path is where the database spends its time).
pub async fn load(
    db: &Db,
    selection: Selection,
    viewer: Option<i64>,
) -> AppResult<(Vec<EventRecord>, Option<ViewerState>)> {
    db_run!(db, |conn| {
        // A single event fails loudly if its row is unreadable; a list
        // skips such rows (see `readable_rows`).
        let rows: Vec<(EventRow, Option<String>)> = match selection {
            Selection::One(id) => {
                events::table
                    .inner_join(users::table)
                    .filter(events::id.eq(id))
                    .select((EventRow::as_select(), users::nickname))
                    .load(conn)
                    .await?
            }
            Selection::OfUser {
                user_id,
                role,
                before,
                limit,
            } => {
                // The page of the user's events for the role, as `$page`
                // in `$body` (each role's query is its own type).
                macro_rules! of_user {
                    (|$page:ident| $body:expr) => {{
                        let $page = events::table
                            .inner_join(users::table)
                            .filter(events::id.lt(before.unwrap_or(i64::MAX)))
                            .order(events::id.desc())
                            .limit(limit);
                        match role {
                            Role::Created => {
                                let $page = $page.filter(events::creator_id.eq(user_id));
                                $body
                            }
                            Role::Joined => {
                                let $page = $page.filter(
                                    events::id.eq_any(
                                        participants::table
                                            .filter(participants::user_id.eq(user_id))
                                            .select(participants::event_id),
                                    ),
                                );
                                $body
                            }
                            Role::Won => {
                                let $page = $page.filter(
                                    events::id.eq_any(
                                        winners::table
                                            .filter(winners::user_id.eq(user_id))
                                            .select(winners::event_id),
                                    ),
                                );
                                $body
                            }
                        }
                    }};
                }
                let (rows, skipped) = of_user!(|page| readable_rows(
                    page.select((EventRow::as_select(), users::nickname))
                        .load_stream(conn)
                        .await?,
                    "events",
                )
                .await?);
                if skipped > 0 {
                    // Name them, so an operator can repair them: ids always read.
                    let read: HashSet<i64> = rows.iter().map(|(e, _)| e.id).collect();
                    let all: Vec<i64> = of_user!(|page| page.select(events::id).load(conn).await?);
                    for id in all.into_iter().filter(|id| !read.contains(id)) {
                        tracing::error!(
                            event_id = id,
                            user_id,
                            ?role,
                            "unreadable event skipped by a list"
                        );
                    }
                }
                rows
            }
        };
        let ids: Vec<i64> = rows.iter().map(|(e, _)| e.id).collect();
        if ids.is_empty() {
            return Ok((vec![], viewer.map(|_| ViewerState::default())));
        }
        // `IN (…)` with a varying number of ids is prepared and closed on
        // every call; the single event of a GET uses `=`, which the
        // connection's statement cache keeps.
        let single = (ids.len() == 1).then(|| ids[0]);
        macro_rules! for_ids {
            ($column:expr, |$filter:ident| $query:expr) => {
                match single {
                    Some(id) => {
                        let $filter = $column.eq(id);
                        $query
                    }
                    None => {
                        let $filter = $column.eq_any(&ids);
                        $query
                    }
                }
            };
        }
        let prize_rows: Vec<PrizeRow> = for_ids!(prizes::event_id, |by_event| {
            prizes::table
                .filter(by_event)
                .order((prizes::event_id, prizes::position))
                .select(PrizeRow::as_select())
                .load(conn)
                .await?
        });
        let viewer_state = match viewer {
            Some(user_id) => {
                let joined: Vec<i64> = for_ids!(participants::event_id, |by_event| {
                    participants::table
                        .filter(participants::user_id.eq(user_id))
                        .filter(by_event)
                        .select(participants::event_id)
                        .load(conn)
                        .await?
                });
                let won: Vec<(i64, i64, String)> = for_ids!(winners::event_id, |by_event| {
                    winners::table
                        .inner_join(prizes::table)
                        .filter(winners::user_id.eq(user_id))
                        .filter(by_event)
                        .select((winners::event_id, prizes::id, prizes::name))
                        .load(conn)
                        .await?
                });
                Some(ViewerState {
                    joined: joined.into_iter().collect(),
                    prizes: won.into_iter().map(|(e, p, n)| (e, (p, n))).collect(),
                })
            }
            None => None,
        };
        Ok((assemble(rows, prize_rows), viewer_state))
    })
}

fn assemble(rows: Vec<(EventRow, Option<String>)>, prize_rows: Vec<PrizeRow>) -> Vec<EventRecord> {
    let mut by_event: HashMap<i64, Vec<PrizeRow>> = HashMap::new();
    for p in prize_rows {
        by_event.entry(p.event_id).or_default().push(p);
    }
    rows.into_iter()
        .map(|(event, creator_nickname)| EventRecord {
            creator_nickname,
            prizes: by_event.remove(&event.id).unwrap_or_default(),
            event,
        })
        .collect()
}

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

/// Everything an event actor needs to serve an event. For a finished event
/// only the row is read: its participants no longer matter to the actor.
pub struct LiveState {
    pub event: EventRow,
    pub prizes: Vec<PrizeRow>,
    pub members: Vec<(i64, bool)>,
}

pub async fn load_live(db: &Db, id: i64) -> AppResult<Option<LiveState>> {
    db_run!(db, |conn| {
        let Some(event) = events::table
            .find(id)
            .select(EventRow::as_select())
            .first(conn)
            .await
            .optional()?
        else {
            return Ok(None);
        };
        if !event.status.is_live() {
            return Ok(Some(LiveState {
                event,
                prizes: vec![],
                members: vec![],
            }));
        }
        let prize_rows = prizes::table
            .filter(prizes::event_id.eq(id))
            .order(prizes::position)
            .select(PrizeRow::as_select())
            .load(conn)
            .await?;
        let members = participants::table
            .filter(participants::event_id.eq(id))
            .select((participants::user_id, participants::notify))
            .load(conn)
            .await?;
        Ok(Some(LiveState {
            event,
            prizes: prize_rows,
            members,
        }))
    })
}

/// open → cancelled, only if still open, with its final participant count.
/// Returns whether it happened.
pub async fn cancel(db: &Db, id: i64, now: DateTime<Utc>, count: i32) -> AppResult<bool> {
    db_run!(db, |conn| {
        let n = diesel::update(
            events::table
                .find(id)
                .filter(events::status.eq(EventStatus::Open)),
        )
        .set((
            events::status.eq(EventStatus::Cancelled),
            events::cancelled_at.eq(to_db_time(now)),
            events::participant_count.eq(count),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// The draw's writes, on one connection: open → drawing (conditional and
/// committed on its own, so a crash after it resumes the draw), then the
/// stored participants go to `pick` (the draw algorithm, in canonical
/// order), and its winners and drawing → drawn are written in one
/// transaction. The draw takes the participants from the database, not
/// from memory, so it is always the one the fairness record describes.
/// Re-running it after a crash is safe: the same seed and rows give the
/// same winners, and the unique key on (event, user) refuses a second copy.
/// Returns the status the event ends in.
pub async fn draw(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    pick: impl FnOnce(Vec<i64>) -> Vec<Award> + Send + 'static,
) -> AppResult<Option<EventStatus>> {
    let drawing = EventStatus::Drawing;
    let begin = db.begin_write();
    db_run!(db, |conn| {
        let status = events::table.find(id).select(events::status);
        diesel::update(
            events::table
                .find(id)
                .filter(events::status.eq(EventStatus::Open)),
        )
        .set(events::status.eq(drawing))
        .execute(conn)
        .await?;
        let before = status.first::<EventStatus>(conn).await.optional()?;
        if before != Some(EventStatus::Drawing) {
            return Ok(before);
        }
        let participants: Vec<i64> = participants::table
            .filter(participants::event_id.eq(id))
            .select(participants::user_id)
            .load(conn)
            .await?;
        // Sorting, shuffling and formatting 100,000 rows is CPU work: off
        // the event loop, which is an HTTP worker's.
        let script = tokio::task::spawn_blocking(move || {
            let count = participants.len();
            let awards = pick(canonical_order(participants));
            let mut script = vec![begin.to_string()];
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
            // The count as drawn: the row may lag the actor's (see
            // participants::apply_batch).
            script.push(format!(
                "UPDATE events SET status = {drawn}, drawn_at = '{}', \
                 participant_count = {count} WHERE id = {id} AND status = {drawing}",
                sql_time(now),
                drawn = EventStatus::Drawn.to_db(),
                drawing = drawing.to_db(),
            ));
            script.push("COMMIT".into());
            script.join(";\n")
        })
        .await
        .map_err(|err| AppError::internal(format!("the draw's computation failed: {err}")))?;
        if let Err(err) = conn.batch_execute(&script).await {
            let _ = conn.batch_execute("ROLLBACK").await;
            // Another instance may have finished the same draw first.
            if status.first::<EventStatus>(conn).await.optional()? != Some(EventStatus::Drawn) {
                return Err(err.into());
            }
        }
        Ok(status.first::<EventStatus>(conn).await.optional()?)
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

/// All winners with their names and prizes, in prize order.
pub async fn winners(db: &Db, id: i64) -> AppResult<Vec<WinnerEntry>> {
    db_run!(db, |conn| {
        Ok(winners::table
            .inner_join(users::table)
            .inner_join(prizes::table)
            .filter(winners::event_id.eq(id))
            .order((prizes::position, winners::id))
            .select((users::id, users::nickname, prizes::id, prizes::name))
            .load(conn)
            .await?)
    })
}
