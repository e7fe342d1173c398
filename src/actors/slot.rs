//! An event's request slots. actix bounds a mailbox per sender handle, and
//! every request uses its own handle, so the bound on what one event holds
//! (queued, or waiting for its commit) is kept by a counter instead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Holds one of an event's request slots until the answer arrives.
pub struct Slot(Arc<AtomicUsize>);

impl Slot {
    pub fn take(counter: &Arc<AtomicUsize>, capacity: usize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
