//! Winner claims (table `claims`, see its migration): one row per winner
//! row, written by the transaction that writes the winners, then moved by
//! conditional updates. Each move names the states it starts from, so of
//! two racing requests exactly one changes the row; the other reads it
//! again and gets the domain's answer for what it finds. Details arrive
//! here sealed (`pii`): this module never sees them in clear.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{Queryable, Selectable};

use super::models::to_db_time;
use super::schema::{claims, prizes, users};
use super::{sql_time, Db};
use crate::db_run;
use crate::domain::claim::ClaimStatus;
use crate::error::AppResult;

/// The statement that opens a claim for every winner of `round`, inside the
/// transaction that writes that round's winners.
pub fn open_round_sql(event_id: i64, round: i16, claim_by: DateTime<Utc>) -> String {
    format!(
        "INSERT INTO claims (winner_id, event_id, user_id, prize_id, round, status, claim_by) \
         SELECT id, event_id, user_id, prize_id, round, {unclaimed}, '{claim_by}' \
         FROM winners WHERE event_id = {event_id} AND round = {round}",
        unclaimed = ClaimStatus::Unclaimed.to_db(),
        claim_by = sql_time(claim_by),
    )
}

/// A claim with its winner's nickname and its prize's name.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = claims)]
pub struct ClaimRecord {
    pub winner_id: i64,
    pub event_id: i64,
    pub user_id: i64,
    #[diesel(select_expression = users::nickname)]
    pub nickname: Option<String>,
    pub prize_id: i64,
    #[diesel(select_expression = prizes::name)]
    pub prize_name: String,
    pub round: i16,
    pub status: ClaimStatus,
    pub claim_by: NaiveDateTime,
    /// Sealed; `pii::details::open` opens it.
    pub details: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub claimed_at: Option<NaiveDateTime>,
    pub shipped_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
}

/// The user's claim in the event, if they won there.
pub async fn of_user(db: &Db, event_id: i64, user_id: i64) -> AppResult<Option<ClaimRecord>> {
    db_run!(db, |conn| {
        Ok(claims::table
            .inner_join(users::table)
            .inner_join(prizes::table)
            .filter(claims::event_id.eq(event_id))
            .filter(claims::user_id.eq(user_id))
            .select(ClaimRecord::as_select())
            .first(conn)
            .await
            .optional()?)
    })
}

/// Up to `limit` claims of the event after the winner row `after`, in the
/// order the winners were drawn (round by round). `limit: None` reads them
/// all (the export).
pub async fn page(
    db: &Db,
    event_id: i64,
    after: Option<i64>,
    limit: Option<i64>,
) -> AppResult<Vec<ClaimRecord>> {
    db_run!(db, |conn| {
        let query = claims::table
            .inner_join(users::table)
            .inner_join(prizes::table)
            .filter(claims::event_id.eq(event_id))
            .filter(claims::winner_id.gt(after.unwrap_or(0)))
            .order(claims::winner_id)
            .select(ClaimRecord::as_select());
        Ok(match limit {
            Some(limit) => query.limit(limit).load(conn).await?,
            None => query.load(conn).await?,
        })
    })
}

/// The stored status and window of the user's claims in these events (the
/// caller's `/me/events?role=won`).
pub async fn statuses(
    db: &Db,
    user_id: i64,
    event_ids: &[i64],
) -> AppResult<Vec<(i64, ClaimStatus, NaiveDateTime)>> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(db, |conn| {
        Ok(claims::table
            .filter(claims::user_id.eq(user_id))
            .filter(claims::event_id.eq_any(event_ids))
            .select((claims::event_id, claims::status, claims::claim_by))
            .load(conn)
            .await?)
    })
}

/// Stores the winner's sealed details if the claim is still open at `now`
/// (unclaimed or claimed, before `claim_by`). Returns whether it did.
pub async fn give_details(
    db: &Db,
    event_id: i64,
    user_id: i64,
    sealed: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let now = to_db_time(now);
    db_run!(db, |conn| {
        let n = diesel::update(
            claims::table
                .filter(claims::event_id.eq(event_id))
                .filter(claims::user_id.eq(user_id))
                .filter(claims::status.eq_any([ClaimStatus::Unclaimed, ClaimStatus::Claimed]))
                .filter(claims::claim_by.gt(now)),
        )
        .set((
            claims::status.eq(ClaimStatus::Claimed),
            claims::details.eq(sealed),
            claims::claimed_at.eq(now),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// claimed → shipped with the carrier's name and number. Returns whether
/// it happened.
pub async fn ship(
    db: &Db,
    event_id: i64,
    user_id: i64,
    carrier: &str,
    tracking_no: &str,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let now = to_db_time(now);
    db_run!(db, |conn| {
        let n = diesel::update(
            claims::table
                .filter(claims::event_id.eq(event_id))
                .filter(claims::user_id.eq(user_id))
                .filter(claims::status.eq(ClaimStatus::Claimed)),
        )
        .set((
            claims::status.eq(ClaimStatus::Shipped),
            claims::carrier.eq(carrier),
            claims::tracking_no.eq(tracking_no),
            claims::shipped_at.eq(now),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// shipped → received. Returns whether it happened.
pub async fn received(db: &Db, event_id: i64, user_id: i64, now: DateTime<Utc>) -> AppResult<bool> {
    let now = to_db_time(now);
    db_run!(db, |conn| {
        let n = diesel::update(
            claims::table
                .filter(claims::event_id.eq(event_id))
                .filter(claims::user_id.eq(user_id))
                .filter(claims::status.eq(ClaimStatus::Shipped)),
        )
        .set((
            claims::status.eq(ClaimStatus::Received),
            claims::received_at.eq(now),
        ))
        .execute(conn)
        .await?;
        Ok(n == 1)
    })
}

/// Erases the details of claims received before `received_before`, or
/// shipped before `shipped_before` and never confirmed; the rows stay.
/// Returns how many were erased.
pub async fn erase_details(
    db: &Db,
    received_before: DateTime<Utc>,
    shipped_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let received_before = to_db_time(received_before);
    let shipped_before = to_db_time(shipped_before);
    let now = to_db_time(now);
    db_run!(db, |conn| {
        Ok(diesel::update(
            claims::table.filter(claims::details.is_not_null()).filter(
                claims::status
                    .eq(ClaimStatus::Received)
                    .and(claims::received_at.lt(received_before))
                    .or(claims::status
                        .eq(ClaimStatus::Shipped)
                        .and(claims::shipped_at.lt(shipped_before))),
            ),
        )
        .set((
            claims::details.eq(None::<String>),
            claims::erased_at.eq(now),
        ))
        .execute(conn)
        .await?)
    })
}
