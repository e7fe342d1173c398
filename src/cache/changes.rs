//! Published answers are cached by every instance that served them
//! (`DrawResults`, `FinishedEvents`); they change only by a re-draw (a new
//! round of winners). The instance that re-draws drops its own copies
//! before it answers; with Redis it also publishes the event's id on
//! `{prefix}results_changed`, and every instance that follows the channel
//! drops its copies when the message arrives (milliseconds later).
//! Messages published while an instance's subscription is down are never
//! seen, so a lost subscription and a new one each drop every cached
//! result: nothing missed outlives the outage. Without Redis there is one
//! instance and nothing to tell.

use std::sync::Arc;
use std::time::Duration;

use bb8_redis::redis::AsyncCommands;

use super::finished::FinishedEvents;
use super::pubsub::{self, Follower};
use super::redis_pool::{self, RedisPool, RedisTarget};
use super::results::{DrawResults, Published};

const PUBLISH_DEADLINE: Duration = Duration::from_millis(1000);

/// This instance's caches of published answers.
pub struct PublishedCaches {
    pub results: Arc<DrawResults>,
    pub finished: Arc<FinishedEvents>,
    /// Refreshes what a live event's page shows of its images, if the
    /// event is live here (`startup` wires it to the event actors' pages;
    /// the cache layer does not know them).
    pub live_pages: Option<Arc<dyn Fn(i64) + Send + Sync>>,
}

impl PublishedCaches {
    /// Drops what this instance keeps of one event's results, and has its
    /// live page read its images again.
    pub fn forget(&self, event_id: i64) {
        self.results.forget(event_id, Published::Winners);
        self.results.forget(event_id, Published::Fairness);
        self.finished.forget(event_id);
        if let Some(refresh) = &self.live_pages {
            refresh(event_id);
        }
    }

    fn forget_all(&self) {
        self.results.clear();
        self.finished.clear();
    }
}

/// Says "this event's results changed" here and to the other instances.
pub struct ResultChanges {
    caches: Arc<Following>,
    shared: Option<RedisPool>,
}

struct Following {
    caches: PublishedCaches,
    channel: String,
}

impl ResultChanges {
    /// Follows the other instances' changes when Redis is configured.
    pub fn new(
        caches: PublishedCaches,
        redis: Option<(&RedisTarget, &str)>,
    ) -> Result<Self, String> {
        let channel = redis.map(|(_, prefix)| format!("{prefix}results_changed"));
        let caches = Arc::new(Following {
            caches,
            channel: channel.unwrap_or_default(),
        });
        let shared = match redis {
            Some((url, _)) => {
                let clients = url.clients()?;
                tokio::spawn(pubsub::follow(clients, Arc::downgrade(&caches)));
                Some(redis_pool::lazy_pool(url, 2, Duration::from_millis(800))?)
            }
            None => None,
        };
        Ok(Self { caches, shared })
    }

    pub fn caches(&self) -> &PublishedCaches {
        &self.caches.caches
    }

    /// The event's published results changed (committed): dropped here at
    /// once, and on the other instances when they hear of it. A failed
    /// publish is logged, not the caller's error: the change is committed,
    /// and the other instances' copies are then stale until evicted or
    /// until their subscription is lost (docs/ARCHITECTURE.md, "Caches").
    pub async fn changed(&self, event_id: i64) {
        self.caches().forget(event_id);
        let Some(pool) = &self.shared else {
            return;
        };
        let channel = self.caches.channel.clone();
        let published = redis_pool::run(pool, PUBLISH_DEADLINE, |mut conn| async move {
            conn.publish::<_, _, ()>(channel, event_id).await
        })
        .await;
        if let Err(err) = published {
            tracing::warn!(event_id, error = %err, "cannot tell the other instances that results changed");
        }
    }
}

impl Follower for Following {
    fn channel(&self) -> String {
        self.channel.clone()
    }

    fn subscribed(&self) {
        self.caches.forget_all();
    }

    fn received(&self, payload: Option<String>) {
        match payload.and_then(|p| p.parse::<i64>().ok()) {
            Some(event_id) => self.caches.forget(event_id),
            None => self.caches.forget_all(),
        }
    }

    fn lost(&self) {
        self.caches.forget_all();
    }

    fn when_down(&self) -> &'static str {
        "the results_changed subscription is down; cached results are dropped when it is back"
    }
}
