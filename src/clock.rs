//! The time claims are judged by: the wall clock, moved ahead by an offset
//! that only tests set. A claim window lasts days; tests move this clock
//! forward (`Application::clock`) instead of waiting, and everything a
//! claim depends on (its expiry, the re-draw, reminders, the erasure of
//! details) reads this clock, so a moved clock moves all of them together.
//! The event's draw keeps the real clock: its schedule is timers.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.ahead_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::days(8));
        let after = copy.now();
        assert!(after - before >= Duration::days(8));
        assert!(after - before < Duration::days(8) + Duration::seconds(5));
    }
}
