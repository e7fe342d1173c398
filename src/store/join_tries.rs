//! Wrong join passwords per user and event (table `join_tries`). The
//! event's actor counts them in memory, where racing joins are decided one
//! at a time; the count is also written here after each wrong try, so an
//! actor that starts again (a restart, an idle stop, a new owner) starts
//! from it. A crash between a wrong answer and its write loses that one try.

use super::Db;
use crate::db_run;
use crate::error::AppResult;

/// One more wrong try of `user_id` at the event's password.
pub async fn record_wrong(db: &Db, event_id: i64, user_id: i64) -> AppResult<()> {
    let sql = format!(
        "INSERT INTO join_tries (event_id, user_id, wrong) VALUES ({event_id}, {user_id}, 1){}",
        db.add_wrong_try()
    );
    db_run!(db, |conn| {
        diesel::sql_query(&sql).execute(conn).await?;
        Ok(())
    })
}
