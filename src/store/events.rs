//! Events and their prizes as the views show them: creation, one event,
//! a user's lists, the winners. The draw's writes are in `draws.rs`, what an
//! actor loads in `live.rs`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::media::MediaRow;
use super::models::{to_db_time, EventRow, PrizeRow, WinnerEntry};
use super::schema::{events, media, participants, prizes, users, winners};
use super::{readable_rows, Db};
use crate::db_run;
use crate::domain::draw::{seed_hash, Seed};
use crate::domain::event::EventStatus;
use crate::domain::validation::NewEvent;
use crate::error::AppResult;

/// An event with what every view of it shows.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: EventRow,
    pub creator_nickname: Option<String>,
    pub prizes: Vec<PrizeRow>,
    /// The uploaded images the event names (cover, prizes), as stored:
    /// the view shows the approved ones.
    pub images: Vec<MediaRow>,
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

/// The count of the events `creator_id` created that are open or drawing.
#[diesel::dsl::auto_type]
fn open_of(creator_id: i64) -> _ {
    use diesel::{ExpressionMethods, QueryDsl};
    let open: [EventStatus; 2] = [EventStatus::Open, EventStatus::Drawing];
    events::table
        .filter(events::creator_id.eq(creator_id))
        .filter(events::status.eq_any(open))
        .count()
}

/// Events the user created that are open or drawing.
pub async fn open_count(db: &Db, creator_id: i64) -> AppResult<i64> {
    db_run!(db, |conn| Ok(open_of(creator_id).get_result(conn).await?))
}

/// What the creation adds to the creator's draft: the committed seed, the
/// drand chain (hex hash) of a beacon event, and the Idempotency-Key and
/// attempt it is made under (`store::idempotency`).
#[derive(Clone, Copy)]
pub struct Creation<'a> {
    pub seed: &'a Seed,
    pub beacon_chain: Option<&'a str>,
    pub under_key: Option<(&'a str, i64)>,
}

/// Stores a new open event with its prizes and returns its id. The id is
/// found again through the unique seed hash, which works on both backends
/// without RETURNING or LAST_INSERT_ID. `password_digest` is the join
/// password's keyed digest, made by the caller (the store never sees the
/// password). Refused when the creator already has `max_open` events open:
/// the count and the insert are one transaction behind a lock on the
/// creator's row, so racing creations cannot pass the quota together.
pub async fn create(
    db: &Db,
    creator_id: i64,
    new: &NewEvent,
    password_digest: Option<String>,
    terms: Creation<'_>,
    now: DateTime<Utc>,
    max_open: u32,
) -> AppResult<i64> {
    let under_key = terms.under_key;
    let seed = terms.seed;
    let hash = seed_hash(seed);
    let rules = new.join_rules;
    db_run!(db, |conn| {
        conn.transaction::<_, crate::error::AppError, _>(async |conn| {
            // A write first: InnoDB locks the creator's row, SQLite takes
            // its write lock, until the transaction ends.
            diesel::update(users::table.find(creator_id))
                .set(users::id.eq(creator_id))
                .execute(conn)
                .await?;
            let open: i64 = open_of(creator_id).get_result(conn).await?;
            crate::domain::event::check_open_quota(open, max_open)?;
            diesel::insert_into(events::table)
                .values((
                    events::creator_id.eq(creator_id),
                    events::title.eq(&new.title),
                    events::description.eq(&new.description),
                    events::status.eq(EventStatus::Open),
                    events::draw_mode.eq(new.draw_mode),
                    events::draw_at.eq(to_db_time(new.draw_at)),
                    events::max_participants.eq(new.max_participants),
                    events::claim_days.eq(new.claim_days),
                    events::claim_mode.eq(new.claim_mode),
                    events::join_password.eq(password_digest.as_deref()),
                    events::group_only.eq(rules.group_only),
                    events::risk_check.eq(rules.risk_check),
                    events::min_participants.eq(rules.min_participants),
                    events::cover_id.eq(new.cover_id.as_deref()),
                    events::participant_count.eq(0),
                    events::seed.eq(seed.as_slice()),
                    events::seed_hash.eq(&hash),
                    events::beacon_chain.eq(terms.beacon_chain),
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
                        prizes::image_id.eq(p.image_id.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
            }
            // Under an Idempotency-Key: the key names the event in the
            // same commit, or nothing is created (another attempt holds it).
            if let Some((key, attempt)) = under_key {
                use super::schema::idempotency_keys as keys;
                let bound = diesel::update(
                    keys::table
                        .find((creator_id, key))
                        .filter(keys::attempt.eq(attempt).and(keys::event_id.is_null())),
                )
                .set(keys::event_id.eq(Some(id)))
                .execute(conn)
                .await?;
                if bound != 1 {
                    return Err(super::idempotency::taken_over());
                }
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
        // The viewer's own rows: a range on (user_id, event_id), the
        // indexes' order, keeps one statement shape for every list, so it
        // is prepared once per connection (an `IN` list is prepared and
        // closed on every call: that made MariaDB spend ~360 µs of CPU per
        // `/me/events`). Rows of events outside the page are dropped here.
        let (low, high) = (
            *ids.iter().min().expect("ids"),
            *ids.iter().max().expect("ids"),
        );
        let in_page: HashSet<i64> = ids.iter().copied().collect();
        let viewer_state = match viewer {
            Some(user_id) => {
                let joined: Vec<i64> = participants::table
                    .filter(participants::user_id.eq(user_id))
                    .filter(participants::event_id.between(low, high))
                    .select(participants::event_id)
                    .load(conn)
                    .await?;
                let won: Vec<(i64, i64, String)> = winners::table
                    .inner_join(prizes::table)
                    .filter(winners::user_id.eq(user_id))
                    .filter(winners::event_id.between(low, high))
                    .select((winners::event_id, prizes::id, prizes::name))
                    .load(conn)
                    .await?;
                Some(ViewerState {
                    joined: joined.into_iter().filter(|e| in_page.contains(e)).collect(),
                    prizes: won
                        .into_iter()
                        .filter(|(e, _, _)| in_page.contains(e))
                        .map(|(e, p, n)| (e, (p, n)))
                        .collect(),
                })
            }
            None => None,
        };
        // The images the page names; no query for events without any.
        let mut image_ids: Vec<String> = rows
            .iter()
            .filter_map(|(e, _)| e.cover_id.clone())
            .chain(prize_rows.iter().filter_map(|p| p.image_id.clone()))
            .collect();
        image_ids.sort_unstable();
        image_ids.dedup();
        let images: Vec<MediaRow> = if image_ids.is_empty() {
            vec![]
        } else {
            media::table
                .filter(media::id.eq_any(&image_ids))
                .select(MediaRow::as_select())
                .load(conn)
                .await?
        };
        Ok((assemble(rows, prize_rows, &images), viewer_state))
    })
}

fn assemble(
    rows: Vec<(EventRow, Option<String>)>,
    prize_rows: Vec<PrizeRow>,
    images: &[MediaRow],
) -> Vec<EventRecord> {
    let mut by_event: HashMap<i64, Vec<PrizeRow>> = HashMap::new();
    for p in prize_rows {
        by_event.entry(p.event_id).or_default().push(p);
    }
    rows.into_iter()
        .map(|(event, creator_nickname)| {
            let prizes = by_event.remove(&event.id).unwrap_or_default();
            let images = event_images(&event, &prizes, images);
            EventRecord {
                creator_nickname,
                prizes,
                images,
                event,
            }
        })
        .collect()
}

/// The rows of the images one event names.
pub fn event_images(event: &EventRow, prizes: &[PrizeRow], images: &[MediaRow]) -> Vec<MediaRow> {
    let named = |id: &String| {
        event.cover_id.as_ref() == Some(id)
            || prizes.iter().any(|p| p.image_id.as_ref() == Some(id))
    };
    images.iter().filter(|m| named(&m.id)).cloned().collect()
}
/// All winners with their names and prizes, in prize order.
pub async fn winners(db: &Db, id: i64) -> AppResult<Vec<WinnerEntry>> {
    db_run!(db, |conn| {
        Ok(winners::table
            .inner_join(users::table)
            .inner_join(prizes::table)
            .filter(winners::event_id.eq(id))
            .order((winners::round, prizes::position, winners::id))
            .select((
                users::id,
                users::nickname,
                prizes::id,
                prizes::name,
                winners::round,
            ))
            .load(conn)
            .await?)
    })
}
