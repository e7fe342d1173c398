//! The live actors by event id, shared by the registry (which starts and
//! prunes them) and the HTTP side's handle (which reads it on every request
//! without a message to the registry).

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use actix::prelude::*;
use parking_lot::RwLock;

use super::event::EventActor;
use super::live_page::LivePage;
use super::writes::Writes;
use crate::store::ownership::Token;

/// A live actor and the number of requests it holds (queued or waiting for
/// their commit; see `Slot`).
#[derive(Clone)]
pub struct ActorEntry {
    pub addr: Addr<EventActor>,
    pub in_flight: Arc<AtomicUsize>,
    /// What views of the live event read (see `LivePage`).
    pub page: Arc<LivePage>,
    /// The fencing token it writes under (cluster mode).
    pub token: Option<Token>,
    /// Whether a write has reached it (see `Writes`).
    pub writes: Arc<Writes>,
}

pub type Directory = Arc<RwLock<HashMap<i64, ActorEntry>>>;

/// The directory's entry for the event, if its actor is still running (a
/// stopped actor's entry stays until the next refill prunes it; an evicted
/// one is removed under the same lock that evicts it, so none shows here).
pub fn live_entry(directory: &Directory, event_id: i64) -> Option<ActorEntry> {
    let directory = directory.read();
    let entry = directory.get(&event_id)?;
    entry.addr.connected().then(|| entry.clone())
}
