//! The directory of members and owners: loaded whole, then kept current
//! by a watch on the prefix.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{EventType, GetOptions, KeyValue, WatchOptions};

use super::{bounded, Membership};
use crate::cluster::directory::{Change, Keys};
use crate::error::AppResult;

fn change_of(keys: &Keys, kv: &KeyValue, deleted: bool) -> Change {
    let key = keys.parse(kv.key_str().unwrap_or_default());
    if deleted {
        Change::Delete { key }
    } else {
        Change::Put {
            key,
            value: kv.value_str().unwrap_or_default().to_string(),
        }
    }
}

impl Membership {
    /// Reads every key under the prefix into the directory; returns the
    /// revision the watch continues from.
    pub(super) async fn load_directory(&self) -> AppResult<i64> {
        let listing = bounded(
            self.client
                .clone()
                .get(self.keys.prefix(), Some(GetOptions::new().with_prefix())),
        )
        .await?;
        let revision = listing.header().map_or(0, |h| h.revision());
        let changes: Vec<Change> = listing
            .kvs()
            .iter()
            .map(|kv| change_of(&self.keys, kv, false))
            .collect();
        self.directory.write().reset(changes);
        metrics::gauge!("lottery_cluster_members").set(self.directory.read().members() as f64);
        Ok(revision)
    }

    /// Follows every change under the prefix. A broken or compacted watch
    /// starts over from a fresh listing.
    pub(super) async fn watch_directory(self: Arc<Self>, mut revision: i64) {
        while !self.leaving.load(Ordering::Acquire) {
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(revision + 1);
            match self
                .client
                .clone()
                .watch(self.keys.prefix(), Some(options))
                .await
            {
                Ok(mut stream) => {
                    while let Ok(Some(response)) = stream.message().await {
                        if response.canceled() {
                            break;
                        }
                        if let Some(header) = response.header() {
                            revision = revision.max(header.revision());
                        }
                        let mut departed = false;
                        {
                            let mut directory = self.directory.write();
                            for event in response.events() {
                                let Some(kv) = event.kv() else { continue };
                                let deleted = event.event_type() == EventType::Delete;
                                departed |= directory.apply(change_of(&self.keys, kv, deleted));
                            }
                            metrics::gauge!("lottery_cluster_members")
                                .set(directory.members() as f64);
                        }
                        if departed {
                            self.signals.send_modify(|s| s.departures += 1);
                        }
                    }
                }
                Err(err) => tracing::warn!(error = %err, "etcd watch failed; retrying"),
            }
            if self.leaving.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            match self.load_directory().await {
                Ok(fresh) => revision = fresh,
                Err(_) => continue,
            }
            // Whoever left while the watch was down: check for due draws.
            self.signals.send_modify(|s| s.departures += 1);
        }
    }
}
