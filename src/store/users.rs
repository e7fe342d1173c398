//! Users, keyed by their WeChat openid.

use chrono::{DateTime, Utc};

use super::models::{to_db_time, UserRow};
use super::schema::{events, participants, users, winners};
use super::{multi_row_insert, sql_time, Db};
use crate::db_run;
use crate::error::{AppError, AppResult};

/// The user with this openid, created on first sight. The unique key on
/// openid makes concurrent first logins land on one row.
pub async fn upsert_by_openid(
    db: &Db,
    openid: &str,
    unionid: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<UserRow> {
    db_run!(db, |conn| {
        diesel::insert_or_ignore_into(users::table)
            .values((
                users::openid.eq(openid),
                users::unionid.eq(unionid),
                users::created_at.eq(to_db_time(now)),
            ))
            .execute(conn)
            .await?;
        if let Some(unionid) = unionid {
            diesel::update(users::table.filter(users::openid.eq(openid)))
                .set(users::unionid.eq(unionid))
                .execute(conn)
                .await?;
        }
        Ok(users::table
            .filter(users::openid.eq(openid))
            .select(UserRow::as_select())
            .first(conn)
            .await?)
    })
}

/// Users by openid, created where missing, in one statement per chunk:
/// the bulk sessions of load tests (`api::handlers::load_test`), which
/// make a million users without a million round trips. Answers (openid,
/// id) in no particular order. The openids are written into the statement
/// (diesel-async has no multi-row insert for SQLite), so only
/// `[A-Za-z0-9_-]` is taken.
pub async fn upsert_many(
    db: &Db,
    openids: &[String],
    now: DateTime<Utc>,
) -> AppResult<Vec<(String, i64)>> {
    const CHUNK: usize = 1000;
    let plain = |o: &String| {
        o.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some(bad) = openids.iter().find(|o| !plain(o)) {
        return Err(AppError::internal(format!(
            "bulk openid outside [A-Za-z0-9_-]: {bad:?}"
        )));
    }
    let created_at = sql_time(now);
    let skip_existing = db.skip_existing_user();
    let mut found = Vec::with_capacity(openids.len());
    for chunk in openids.chunks(CHUNK) {
        let insert = multi_row_insert(
            "users (openid, created_at)",
            chunk.iter().map(|o| format!("('{o}','{created_at}')")),
            skip_existing,
        );
        let ids: Vec<(String, i64)> = db_run!(db, |conn| {
            conn.batch_execute(&insert).await?;
            Ok(users::table
                .filter(users::openid.eq_any(chunk))
                .select((users::openid, users::id))
                .load(conn)
                .await?)
        })?;
        found.extend(ids);
    }
    Ok(found)
}

pub async fn get(db: &Db, id: i64) -> AppResult<UserRow> {
    db_run!(db, |conn| {
        users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::Unauthorized("the user of this token no longer exists".into()))
    })
}

/// The events whose pages show a user's nickname.
#[derive(Debug, Default)]
pub struct ShownIn {
    pub created: Vec<i64>,
    pub joined: Vec<i64>,
    pub won: Vec<i64>,
}

/// Where a user's nickname appears: as creator, participant or winner
/// (three indexed reads, after a rename only).
pub async fn shown_in(db: &Db, id: i64) -> AppResult<ShownIn> {
    db_run!(db, |conn| {
        Ok(ShownIn {
            created: events::table
                .filter(events::creator_id.eq(id))
                .select(events::id)
                .load(conn)
                .await?,
            joined: participants::table
                .filter(participants::user_id.eq(id))
                .select(participants::event_id)
                .load(conn)
                .await?,
            won: winners::table
                .filter(winners::user_id.eq(id))
                .select(winners::event_id)
                .load(conn)
                .await?,
        })
    })
}

pub async fn update_profile(
    db: &Db,
    id: i64,
    nickname: Option<String>,
    avatar_url: Option<String>,
) -> AppResult<UserRow> {
    db_run!(db, |conn| {
        if let Some(nickname) = nickname {
            diesel::update(users::table.find(id))
                .set(users::nickname.eq(nickname))
                .execute(conn)
                .await?;
        }
        if let Some(avatar_url) = avatar_url {
            diesel::update(users::table.find(id))
                .set(users::avatar_url.eq(avatar_url))
                .execute(conn)
                .await?;
        }
        Ok(users::table
            .find(id)
            .select(UserRow::as_select())
            .first(conn)
            .await?)
    })
}
