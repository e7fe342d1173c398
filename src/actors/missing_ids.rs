//! Ids recently found to have no event. A request for a made-up id costs
//! one indexed lookup (an actor's load) and then, for `MISSING_FOR`, none:
//! no actor, no query. Bounded: when full, entries past their time go, and
//! if none has, the id is simply not remembered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct MissingIds(Arc<parking_lot::Mutex<HashMap<i64, Instant>>>);

const MISSING_FOR: Duration = Duration::from_secs(5);
const MISSING_MAX: usize = 100_000;

impl MissingIds {
    pub fn remember(&self, event_id: i64) {
        let mut ids = self.0.lock();
        if ids.len() >= MISSING_MAX {
            ids.retain(|_, at| at.elapsed() < MISSING_FOR);
            if ids.len() >= MISSING_MAX {
                return;
            }
        }
        ids.insert(event_id, Instant::now());
    }

    pub fn contains(&self, event_id: i64) -> bool {
        self.0
            .lock()
            .get(&event_id)
            .is_some_and(|at| at.elapsed() < MISSING_FOR)
    }

    /// An event created here with an id a client guessed a moment ago.
    pub fn forget(&self, event_id: i64) {
        self.0.lock().remove(&event_id);
    }
}
