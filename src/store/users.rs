//! Users, keyed by their WeChat openid.

use chrono::{DateTime, Utc};

use super::models::{to_db_time, UserRow};
use super::schema::{events, participants, users, winners};
use super::Db;
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
