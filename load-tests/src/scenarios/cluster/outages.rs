//! Each event's unavailability: from a request that found the event
//! unavailable to the next one it served.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One event's unavailability so far.
#[derive(Default)]
struct Availability {
    failing_since: Option<Instant>,
    outages: Vec<Duration>,
}

#[derive(Default)]
pub struct Outages(Mutex<HashMap<i64, Availability>>);

impl Outages {
    pub fn served(&self, event: i64) {
        let mut all = self.0.lock().unwrap();
        let entry = all.entry(event).or_default();
        if let Some(since) = entry.failing_since.take() {
            entry.outages.push(since.elapsed());
        }
    }

    pub fn failed(&self, event: i64) {
        let mut all = self.0.lock().unwrap();
        all.entry(event)
            .or_default()
            .failing_since
            .get_or_insert_with(Instant::now);
    }

    /// Every outage that ended, shortest first, and the events still
    /// unavailable with how long they have been.
    pub fn ended_and_open(&self) -> (Vec<Duration>, Vec<(i64, Duration)>) {
        let mut outages = Vec::new();
        let mut unresolved = Vec::new();
        for (event, availability) in self.0.lock().unwrap().iter() {
            outages.extend(availability.outages.iter().copied());
            if let Some(since) = availability.failing_since {
                unresolved.push((*event, since.elapsed()));
            }
        }
        outages.sort_unstable();
        (outages, unresolved)
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64()
}
