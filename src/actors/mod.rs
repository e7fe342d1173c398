//! The actor side: one `EventActor` per live event serializes joins, leaves,
//! cancels and the draw; the `EventRegistry` starts them, wakes them at draw
//! time and restarts them after a crash. docs/ARCHITECTURE.md explains the
//! rules they keep.

pub mod claim_keeper;
mod directory;
pub mod event;
mod events;
pub mod live_page;
pub mod messages;
pub mod missing_ids;
pub mod notifier;
pub mod registry;
mod slot;
mod writes;

pub use events::Events;
