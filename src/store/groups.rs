//! The WeChat groups a group-only event is for (table `event_groups`).
//! Groups are only ever added, so "this group belongs to the event", once
//! read, stays true (what `cache::groups` relies on).

use chrono::{DateTime, Utc};

use super::models::to_db_time;
use super::schema::event_groups;
use super::Db;
use crate::db_run;
use crate::error::AppResult;

/// Binds `opengid` to the event (again: no change); returns how many
/// groups the event has now.
pub async fn bind(db: &Db, event_id: i64, opengid: &str, now: DateTime<Utc>) -> AppResult<i64> {
    if !contains(db, event_id, opengid).await? {
        let (group, at) = (opengid.to_string(), to_db_time(now));
        let inserted: AppResult<usize> = db_run!(db, |conn| {
            Ok(diesel::insert_into(event_groups::table)
                .values((
                    event_groups::event_id.eq(event_id),
                    event_groups::opengid.eq(&group),
                    event_groups::bound_at.eq(at),
                ))
                .execute(conn)
                .await?)
        });
        // Two binds of one group racing: the primary key keeps one, and
        // the loser's duplicate-key error is no failure of the bind.
        if let Err(err) = inserted {
            if !contains(db, event_id, opengid).await? {
                return Err(err);
            }
        }
    }
    db_run!(db, |conn| {
        Ok(event_groups::table
            .filter(event_groups::event_id.eq(event_id))
            .count()
            .get_result(conn)
            .await?)
    })
}

/// Whether `opengid` is one of the event's groups.
pub async fn contains(db: &Db, event_id: i64, opengid: &str) -> AppResult<bool> {
    let opengid = opengid.to_string();
    db_run!(db, |conn| {
        let n: i64 = event_groups::table
            .filter(event_groups::event_id.eq(event_id))
            .filter(event_groups::opengid.eq(&opengid))
            .count()
            .get_result(conn)
            .await?;
        Ok(n > 0)
    })
}
