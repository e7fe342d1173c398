//! Answers that never change once built, serialized and kept in a bounded
//! LRU weighed by their bytes: the published results of drawn events
//! (winners, fairness records: a million-participant fairness record is
//! about 10 MB of database reads and JSON per build), and the first page of
//! a live event's participants at one version of the list's head (a page
//! at an older version is never asked for again and ages out). Concurrent
//! first requests for one answer share one build.

use std::future::Future;

use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::cache::answers::Answer;
use crate::error::AppResult;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Published {
    Winners,
    Fairness,
    /// The first `limit` participants of a live event, as they were at
    /// `head` (`LivePage::head`).
    FirstParticipants {
        limit: i64,
        head: u64,
    },
}

impl Published {
    fn kind(&self) -> &'static str {
        match self {
            Published::Winners => "winners",
            Published::Fairness => "fairness",
            Published::FirstParticipants { .. } => "participants",
        }
    }
}

#[derive(Clone)]
struct ByLength;

/// The body's bytes; its compressed copies (made later, a fifth of it or
/// less each) are not weighed: the bound is on what was built.
impl Weighter<(i64, Published), Answer> for ByLength {
    fn weight(&self, _: &(i64, Published), answer: &Answer) -> u64 {
        answer.body.len() as u64
    }
}

pub struct DrawResults {
    cache: Cache<(i64, Published), Answer, ByLength>,
}

impl DrawResults {
    /// Holds at most `capacity_bytes` of answers (one larger than that is
    /// built on every request and never kept).
    pub fn new(capacity_bytes: u64) -> Self {
        // quick_cache sizes its tables from an item estimate: ~64 KiB each.
        let estimated_items = (capacity_bytes / 65_536).clamp(16, 1 << 20) as usize;
        Self {
            cache: Cache::with_weighter(estimated_items, capacity_bytes, ByLength),
        }
    }

    /// Drops a cached answer (a winner renamed themselves).
    pub fn forget(&self, event_id: i64, what: Published) {
        self.cache.remove(&(event_id, what));
    }

    /// Drops every cached answer (another instance's change may have been
    /// missed: `cache::changes`).
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// The cached answer, or `build`'s (kept when it succeeds). `build`
    /// must fail for an event whose results are not published yet.
    pub async fn get_or_build(
        &self,
        event_id: i64,
        what: Published,
        build: impl Future<Output = AppResult<Bytes>>,
    ) -> AppResult<Answer> {
        self.lookup(event_id, what, async { build.await.map(Answer::plain) })
            .await
    }

    /// As `get_or_build`, with the answer's entity tag (published results,
    /// which clients and caches revalidate).
    pub async fn get_or_build_tagged(
        &self,
        event_id: i64,
        what: Published,
        build: impl Future<Output = AppResult<Bytes>>,
    ) -> AppResult<Answer> {
        self.lookup(event_id, what, async { build.await.map(Answer::tagged) })
            .await
    }

    async fn lookup(
        &self,
        event_id: i64,
        what: Published,
        build: impl Future<Output = AppResult<Answer>>,
    ) -> AppResult<Answer> {
        let hit = self.cache.get(&(event_id, what)).is_some();
        metrics::counter!(
            "lottery_draw_results_cache_total",
            "kind" => what.kind(),
            "result" => if hit { "hit" } else { "miss" }
        )
        .increment(1);
        self.cache
            .get_or_insert_async(&(event_id, what), build)
            .await
    }
}
