//! Which (event, group) pairs are known to belong together. Groups are
//! only ever added to an event, so a pair found once stays true: kept
//! here, it spares a group-only event's hot joins a database read each.
//! A pair not found is never kept (another instance may bind it next).

use quick_cache::sync::Cache;

pub struct KnownGroups {
    pairs: Cache<(i64, String), ()>,
}

impl KnownGroups {
    pub fn new(capacity: usize) -> Self {
        Self {
            pairs: Cache::new(capacity),
        }
    }

    pub fn contains(&self, event_id: i64, opengid: &str) -> bool {
        self.pairs.get(&(event_id, opengid.to_string())).is_some()
    }

    pub fn remember(&self, event_id: i64, opengid: &str) {
        self.pairs.insert((event_id, opengid.to_string()), ());
    }
}
