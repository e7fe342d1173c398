//! What the registry is asked: by the HTTP side's handle (`Events`), by
//! the cluster's signals, and by its own spawned lookups.

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::actors::directory::ActorEntry;
use crate::actors::event::EventActor;
use crate::error::AppResult;
use crate::store::ownership::Token;

/// The actor of an event a request names, started if need be (within the
/// live-actor cap), under the token this instance claimed it with.
#[derive(Message)]
#[rtype(result = "AppResult<ActorEntry>")]
pub struct Ensure(pub i64, pub Option<Token>, pub Purpose);

/// What a request wants of the actor it asks the registry for. At the
/// live-actor cap a write makes room by evicting an actor only views
/// started; a view is refused (and reads the database instead).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Purpose {
    View,
    Write,
}

/// Cluster mode: a due event this instance has just claimed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrawClaimed(pub i64, pub Option<Token>);

/// Cluster mode: this instance's lease was lost; every actor stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RelinquishAll;

/// Cluster mode: another instance left; its due draws need an owner now,
/// not at the next refill.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RefillNow;

/// A new event: draw it at `draw_at`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Schedule {
    pub event_id: i64,
    pub draw_at: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Refilled(pub Vec<(i64, DateTime<Utc>)>);

/// The start of a graceful shutdown: no more draws are started; answers
/// the live actors, whose work in flight shutdown waits for.
#[derive(Message)]
#[rtype(result = "Vec<Addr<EventActor>>")]
pub struct Drain;

/// Stops every event actor and its threads (for shutdown and tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;
