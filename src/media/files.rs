//! Approved images this server serves, kept in memory: an approved image
//! never changes (its verdict moves only from pending) and its key never
//! names other bytes, so a copy is never stale. Pending images are never
//! kept: they are read from the store for each signed request.

use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

#[derive(Clone)]
struct ByLength;

impl Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, bytes: &Bytes) -> u64 {
        (key.len() + bytes.len()) as u64
    }
}

pub struct ApprovedFiles {
    /// Object key → bytes.
    bytes: Cache<String, Bytes, ByLength>,
    /// Ids known to be approved (a verdict that never changes again).
    approved: Cache<String, ()>,
}

impl ApprovedFiles {
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            bytes: Cache::with_weighter(
                (capacity_bytes / 100_000).max(16) as usize,
                capacity_bytes.max(1),
                ByLength,
            ),
            approved: Cache::new(100_000),
        }
    }

    pub fn is_approved(&self, id: &str) -> bool {
        self.approved.get(id).is_some()
    }

    pub fn approved(&self, id: &str) {
        self.approved.insert(id.to_string(), ());
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.bytes.get(key)
    }

    pub fn keep(&self, key: &str, bytes: Bytes) {
        self.bytes.insert(key.to_string(), bytes);
    }
}
