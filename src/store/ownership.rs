//! Cluster mode's last fence (docs/CLUSTER.md): `events.owner_epoch` holds
//! the fencing token of the instance that owns the event now, and every
//! write of an owner checks it in the same transaction, so an instance that
//! lost its lease without knowing (paused, partitioned) writes nothing once
//! another has taken the event over.
//!
//! Single-instance mode passes no token: no statement here runs, and the
//! scripts are exactly what they were.

use super::Db;
use crate::db_run;
use crate::error::AppResult;

/// The fencing token an owner writes under: the create revision of its
/// ownership key in etcd, which only grows.
pub type Token = i64;

/// The statement that makes a stale owner's transaction fail: it inserts
/// one NULL into a NOT NULL column when the event's epoch is not `token`
/// (MySQL in strict mode and SQLite both refuse it), and nothing otherwise.
/// On MySQL the INSERT … SELECT holds a shared lock on the event's row until
/// the transaction ends, so an activation (which updates the row) waits for
/// a batch that passed the fence to commit, and then loads it.
pub fn fence_sql(event_id: i64, token: Token) -> String {
    format!(
        "INSERT INTO ownership_fence (stale_owner) \
         SELECT NULL FROM events WHERE id = {event_id} AND owner_epoch <> {token}"
    )
}

/// Whether a database error is the fence refusing a stale owner. Both
/// servers name the column: "Column 'stale_owner' cannot be null" (MySQL),
/// "NOT NULL constraint failed: ownership_fence.stale_owner" (SQLite).
pub fn is_fence_refusal(message: &str) -> bool {
    message.contains("stale_owner")
}

/// Activation: raises the event's epoch to `token`, committed before the
/// actor loads the event, so the load sees every batch an older owner
/// committed (and no older owner commits after it). An epoch already at
/// `token` is this instance's own earlier activation under the same key.
/// Whether the epoch is now `token` is for the load to check (it reads the
/// row anyway): a higher one means a newer owner.
pub async fn activate(db: &Db, event_id: i64, token: Token) -> AppResult<()> {
    db_run!(db, |conn| {
        conn.batch_execute(&format!(
            "UPDATE events SET owner_epoch = {token} WHERE id = {event_id} AND owner_epoch < {token}"
        ))
        .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_names_its_column() {
        assert!(fence_sql(3, 17).ends_with("WHERE id = 3 AND owner_epoch <> 17"));
        assert!(is_fence_refusal("Column 'stale_owner' cannot be null"));
        assert!(is_fence_refusal(
            "NOT NULL constraint failed: ownership_fence.stale_owner"
        ));
        assert!(!is_fence_refusal("Duplicate entry"));
    }
}
