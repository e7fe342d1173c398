//! Whether a write ever reached an event actor (issue 24, finding 2), so
//! that views never make a write wait for a live-actor slot.

use std::sync::atomic::{AtomicU8, Ordering};

const VIEWS_ONLY: u8 = 0;
const WRITTEN: u8 = 1;
const EVICTED: u8 = 2;

/// Whether a write ever reached an actor. An actor that only views started
/// and no write has reached may be stopped to make room for a write
/// (`EventRegistry::evict_one`): views must never make a write wait for a
/// live-actor slot. One atomic decides between a write arriving and the
/// eviction, so an evicted actor never takes a write, and a written one is
/// never evicted.
pub struct Writes(AtomicU8);

impl Writes {
    /// An actor a write (or a due draw) started.
    pub fn written() -> Self {
        Self(AtomicU8::new(WRITTEN))
    }

    /// An actor a view started.
    pub fn views_only() -> Self {
        Self(AtomicU8::new(VIEWS_ONLY))
    }

    /// Marks a write on its way to the actor; false when the actor was
    /// evicted (the write goes to the event's next actor instead).
    pub fn admit(&self) -> bool {
        match self.0.load(Ordering::Acquire) {
            WRITTEN => true,
            EVICTED => false,
            _ => matches!(
                self.0
                    .compare_exchange(VIEWS_ONLY, WRITTEN, Ordering::AcqRel, Ordering::Acquire),
                Ok(_) | Err(WRITTEN)
            ),
        }
    }

    /// Claims the actor for eviction; false once a write was admitted.
    pub fn evict(&self) -> bool {
        self.0
            .compare_exchange(VIEWS_ONLY, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Neither written nor evicted yet.
    pub fn views_only_so_far(&self) -> bool {
        self.0.load(Ordering::Acquire) == VIEWS_ONLY
    }

    #[cfg(test)]
    pub fn evicted(&self) -> bool {
        self.0.load(Ordering::Acquire) == EVICTED
    }
}

#[cfg(test)]
mod tests {
    use super::Writes;

    #[test]
    fn a_write_and_an_eviction_exclude_each_other() {
        let viewed = Writes::views_only();
        assert!(viewed.admit());
        assert!(!viewed.evict(), "a written actor is never evicted");
        assert!(viewed.admit());

        let viewed = Writes::views_only();
        assert!(viewed.evict());
        assert!(viewed.evicted());
        assert!(!viewed.admit(), "an evicted actor takes no write");
        assert!(!viewed.evict());

        assert!(!Writes::written().evict());
    }
}
