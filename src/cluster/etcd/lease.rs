//! The lease: renewed while etcd answers, given up (with every event owned
//! here) when it does not, replaced when etcd has expired it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{bounded, Membership};

impl Membership {
    /// Renews the lease every fifth of its TTL. Unanswered for four fifths
    /// of it, the instance counts its events as lost (before etcd can
    /// expire the lease, as the count starts at the last renewal sent) and
    /// stops claiming until a renewal is answered again; a lease etcd has
    /// expired is replaced by a new one and the instance registers again.
    pub(super) async fn keep_alive(self: Arc<Self>) {
        let every = self.ttl / 5;
        let give_up_after = self.ttl - every;
        let mut last_renewed = Instant::now();
        let mut stream = None;
        let mut complained = Instant::now() - Duration::from_secs(60);
        loop {
            tokio::time::sleep(every).await;
            if self.leaving.load(Ordering::Acquire) {
                return;
            }
            let lease = self.lease.load(Ordering::Acquire);
            let sent = Instant::now();
            let answer = tokio::time::timeout(every.max(Duration::from_millis(500)), async {
                if stream.is_none() {
                    stream = Some(self.client.clone().lease_keep_alive(lease).await?);
                }
                let (keeper, responses) = stream.as_mut().expect("just opened");
                keeper.keep_alive().await?;
                responses.message().await
            })
            .await;
            // etcd answers a lease it has expired with TTL 0, which the
            // client reports as an error "lease not found".
            let expired = match &answer {
                Ok(Ok(Some(renewed))) => renewed.ttl() <= 0,
                Ok(Err(etcd_client::Error::LeaseKeepAliveError(why))) => why.contains("not found"),
                _ => false,
            };
            if expired {
                stream = None;
                self.lose("the lease expired");
                if self.rejoin().await {
                    last_renewed = Instant::now();
                }
                continue;
            }
            match answer {
                Ok(Ok(Some(_))) => {
                    last_renewed = sent;
                    if !self.healthy.swap(true, Ordering::AcqRel) {
                        tracing::info!("cluster lease renewed again; claiming events");
                    }
                }
                failed => {
                    stream = None;
                    if complained.elapsed() >= Duration::from_secs(5) {
                        complained = Instant::now();
                        match failed {
                            Ok(Err(err)) => tracing::warn!(error = %err, "lease renewal failed"),
                            _ => tracing::warn!("lease renewal unanswered"),
                        }
                    }
                }
            }
            if last_renewed.elapsed() >= give_up_after && self.healthy.load(Ordering::Acquire) {
                self.lose("lease renewals unanswered");
            }
        }
    }

    /// Every event this instance owned is given up at once: its actors
    /// stop (`Signals::lost`) and nothing is claimed until the lease is
    /// renewed.
    fn lose(&self, why: &str) {
        self.healthy.store(false, Ordering::Release);
        let owned = {
            let mut owned = self.owned.lock();
            let n = owned.len();
            owned.clear();
            n
        };
        metrics::counter!("lottery_cluster_lease_losses_total").increment(1);
        metrics::gauge!("lottery_cluster_owned_events").set(0.0);
        tracing::error!(
            why,
            events = owned,
            "cluster lease lost: stopping every event actor"
        );
        self.signals.send_modify(|s| s.lost += 1);
    }

    /// A new lease and registration after etcd expired the old one.
    async fn rejoin(&self) -> bool {
        let granted = bounded(
            self.client
                .clone()
                .lease_grant(self.ttl.as_secs() as i64, None),
        )
        .await;
        let Ok(granted) = granted else {
            return false;
        };
        self.lease.store(granted.id(), Ordering::Release);
        match self.register(false).await {
            Ok(()) => {
                self.healthy.store(true, Ordering::Release);
                tracing::info!(
                    lease = granted.id(),
                    "rejoined the cluster with a new lease"
                );
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not register again");
                false
            }
        }
    }
}
