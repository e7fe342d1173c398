//! Event ownership: routing a request, claiming an unowned event under the
//! lease, and giving claims up (stale, or idle).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::{bounded, create_or_get, first_kv, Held, Membership};
use crate::cluster::Route;
use crate::error::{AppError, AppResult};
use crate::store::ownership::Token;

/// How long a claimed event may go without an actor before its key is
/// given back (see `Membership::release_idle`).
const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// This instance cannot vouch for its lease right now: it claims nothing.
fn out_of_touch() -> AppError {
    AppError::Unavailable("this server is out of touch with the cluster; try again".into())
}

impl Membership {
    /// Where the event is served: here if this instance owns it (or has
    /// just claimed it), else at its owner's URL.
    pub async fn route(&self, event_id: i64) -> AppResult<Route> {
        match self.owned.lock().get_mut(&event_id) {
            Some(Held::Owned { token, touched }) => {
                *touched = Instant::now();
                return Ok(Route::Here(Some(*token)));
            }
            Some(Held::Releasing) => return Err(AppError::changing_servers()),
            None => {}
        }
        if !self.healthy.load(Ordering::Acquire) {
            return Err(out_of_touch());
        }
        if let Some(url) = self.directory.read().owner_url(event_id, &self.me) {
            return Ok(Route::There(url.to_string()));
        }
        self.claim(event_id).await
    }

    /// Creates the event's key under this instance's lease unless it
    /// exists; reads the owner otherwise.
    async fn claim(&self, event_id: i64) -> AppResult<Route> {
        let key = self.keys.event(event_id);
        let lease = self.lease.load(Ordering::Acquire);
        let txn = create_or_get(&key, self.me.clone(), Some(lease));
        let response = bounded(self.client.clone().txn(txn)).await?;
        let token = if response.succeeded() {
            response.header().map(|h| h.revision())
        } else {
            match first_kv(&response) {
                Some(kv) if kv.lease() == lease => Some(kv.create_revision()),
                Some(kv) => {
                    metrics::counter!("lottery_cluster_claims_total", "result" => "owned_elsewhere")
                        .increment(1);
                    let owner = kv.value_str().unwrap_or_default();
                    return match self.directory.read().member_url(owner) {
                        Some(url) => Ok(Route::There(url.to_string())),
                        // Its owner's lease is running out: retry after.
                        None => Err(AppError::Unavailable(
                            "the event's server is leaving; try again".into(),
                        )),
                    };
                }
                // Deleted between the compare and the get: claim again.
                None => None,
            }
        };
        let Some(token) = token else {
            return Err(AppError::changing_servers());
        };
        // A lease lost or replaced meanwhile: the key may already be gone.
        if !self.healthy.load(Ordering::Acquire) || self.lease.load(Ordering::Acquire) != lease {
            return Err(out_of_touch());
        }
        let mut owned = self.owned.lock();
        owned.insert(
            event_id,
            Held::Owned {
                token,
                touched: Instant::now(),
            },
        );
        metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
        metrics::counter!("lottery_cluster_claims_total", "result" => "claimed").increment(1);
        Ok(Route::Here(Some(token)))
    }

    /// Drops a claim the database found stale (a newer owner exists):
    /// the next request asks the directory again.
    pub fn forget(&self, event_id: i64, token: Token) {
        let mut owned = self.owned.lock();
        if matches!(owned.get(&event_id), Some(Held::Owned { token: t, .. }) if *t == token) {
            owned.remove(&event_id);
        }
        metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
    }

    pub fn holds(&self, event_id: i64, token: Token) -> bool {
        matches!(self.owned.lock().get(&event_id), Some(Held::Owned { token: t, .. }) if *t == token)
    }

    /// Deletes the keys of events owned here without an actor for
    /// `IDLE_RELEASE` (only if still this claim's key: compare the create
    /// revision). A claim arriving meanwhile is asked to retry.
    pub fn release_idle(self: &Arc<Self>, live: &dyn Fn(i64) -> bool) {
        let idle: Vec<(i64, Token)> = {
            let mut owned = self.owned.lock();
            let idle: Vec<(i64, Token)> = owned
                .iter()
                .filter_map(|(&id, held)| match held {
                    Held::Owned { token, touched }
                        if touched.elapsed() >= IDLE_RELEASE && !live(id) =>
                    {
                        Some((id, *token))
                    }
                    _ => None,
                })
                .collect();
            for (id, _) in &idle {
                owned.insert(*id, Held::Releasing);
            }
            idle
        };
        if idle.is_empty() {
            return;
        }
        let me = self.clone();
        actix_web::rt::spawn(async move {
            for (id, token) in idle {
                let key = me.keys.event(id);
                let txn = Txn::new()
                    .when([Compare::create_revision(
                        key.clone(),
                        CompareOp::Equal,
                        token,
                    )])
                    .and_then([TxnOp::delete(key, None)]);
                if let Err(err) = bounded(me.client.clone().txn(txn)).await {
                    // The key stays until the lease ends: harmless.
                    tracing::debug!(event_id = id, error = %err, "could not release an event");
                }
                let mut owned = me.owned.lock();
                if matches!(owned.get(&id), Some(Held::Releasing)) {
                    owned.remove(&id);
                }
                metrics::gauge!("lottery_cluster_owned_events").set(owned.len() as f64);
            }
        });
    }
}
