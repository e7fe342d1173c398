//! The published results of drawn events (winners, fairness records). A
//! drawn event never changes, so each answer is built once, serialized, and
//! kept in a bounded LRU weighed by its bytes: a million-participant
//! fairness record is about 10 MB of database reads and JSON per build.
//! Concurrent first requests for one result share one build.

use std::future::Future;

use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::error::AppResult;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Published {
    Winners,
    Fairness,
}

#[derive(Clone)]
struct ByLength;

impl Weighter<(i64, Published), Bytes> for ByLength {
    fn weight(&self, _: &(i64, Published), body: &Bytes) -> u64 {
        body.len() as u64
    }
}

pub struct DrawResults(Cache<(i64, Published), Bytes, ByLength>);

impl DrawResults {
    /// Holds at most `capacity_bytes` of answers (one larger than that is
    /// built on every request and never kept).
    pub fn new(capacity_bytes: u64) -> Self {
        // quick_cache sizes its tables from an item estimate: ~64 KiB each.
        let estimated_items = (capacity_bytes / 65_536).clamp(16, 1 << 20) as usize;
        Self(Cache::with_weighter(
            estimated_items,
            capacity_bytes,
            ByLength,
        ))
    }

    /// The cached answer, or `build`'s (kept when it succeeds). `build`
    /// must fail for an event whose results are not published yet.
    pub async fn get_or_build(
        &self,
        event_id: i64,
        what: Published,
        build: impl Future<Output = AppResult<Bytes>>,
    ) -> AppResult<Bytes> {
        let hit = self.0.get(&(event_id, what)).is_some();
        metrics::counter!("lottery_draw_results_cache_total", "result" => if hit { "hit" } else { "miss" })
            .increment(1);
        self.0.get_or_insert_async(&(event_id, what), build).await
    }
}
