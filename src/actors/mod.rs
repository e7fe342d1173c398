//! The actor side: one `EventActor` per live event serializes joins, leaves,
//! cancels and the draw; the `EventRegistry` starts them, wakes them at draw
//! time and restarts them after a crash. docs/ARCHITECTURE.md explains the
//! rules they keep.

pub mod event;
pub mod live_page;
pub mod membership;
pub mod messages;
pub mod notifier;
pub mod registry;

pub use registry::Events;
