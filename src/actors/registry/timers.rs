//! The draws due soon, earliest first. Only events due within the
//! registry's horizon are held (the database keeps the rest), and each at
//! most once however often it is scheduled.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use chrono::{DateTime, Utc};

#[derive(Default)]
pub struct DrawTimers {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, i64)>>,
    scheduled: HashSet<i64>,
}

impl DrawTimers {
    /// Holds the event's draw time unless the event is held already.
    pub fn push(&mut self, event_id: i64, draw_at: DateTime<Utc>) {
        if self.scheduled.insert(event_id) {
            self.heap.push(Reverse((draw_at, event_id)));
        }
    }

    /// The earliest event due by `now`, taken out of the queue.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<i64> {
        let Reverse((at, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((_, event_id)) = self.heap.pop()?;
        self.scheduled.remove(&event_id);
        Some(event_id)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_events_come_out_earliest_first_and_once() {
        let now = Utc::now();
        let s = chrono::Duration::seconds;
        let mut timers = DrawTimers::default();
        timers.push(1, now + s(5));
        timers.push(2, now - s(1));
        timers.push(3, now - s(2));
        timers.push(3, now - s(9));
        assert_eq!(timers.len(), 3);
        assert_eq!(timers.pop_due(now), Some(3));
        assert_eq!(timers.pop_due(now), Some(2));
        assert_eq!(timers.pop_due(now), None);
        assert_eq!(timers.pop_due(now + s(5)), Some(1));
        timers.push(3, now);
        assert_eq!(timers.pop_due(now), Some(3), "a popped event may come back");
    }
}
