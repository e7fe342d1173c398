//! Messages to an event actor. Each carries a oneshot for its answer, so the
//! HTTP side can `try_send` and still wait for the answer, which comes only
//! after the change is committed.

use std::time::Instant;

use actix::Message;
use tokio::sync::oneshot;

use crate::domain::membership::Membership;
use crate::domain::subscription::Subscriptions;
use crate::error::AppResult;
use crate::secret::Secret;

pub type Reply<T> = oneshot::Sender<AppResult<T>>;

#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub user_id: i64,
    /// The messages the user accepted with this join.
    pub accepted: Subscriptions,
    /// The event's password as the joiner gave it.
    pub password: Option<Secret>,
    /// Whether the joiner showed one of the event's groups (None: showed
    /// no group proof).
    pub group: Option<bool>,
    /// WeChat's fraud check passed, failed, or is not known yet (None).
    pub risk: Option<bool>,
    pub reply: Reply<Membership>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub user_id: i64,
    pub reply: Reply<Membership>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Cancel {
    pub user_id: i64,
    pub reply: Reply<()>,
}

/// The creator's order to draw a manual event; answered once it is drawn.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrawNow {
    pub user_id: i64,
    pub reply: Reply<()>,
}

/// Answered once the actor has loaded its event: Ok while it is live (its
/// page is published), else why not (no such event, finished). Lets the
/// views of a cold event share the actor's one load.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Peek {
    pub reply: Reply<()>,
}

/// The registry's wake-up: the draw time has come.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrawDue;

/// Cluster mode: this instance no longer owns the event (its lease was
/// lost). The actor stops at once; what it holds gets 503 and nothing more
/// of it is written (the database's fence refuses a stale owner anyway).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Relinquish;

/// The registry needs this actor's slot for a write: it was started by a
/// view and no write ever reached it (`Writes` decided), so it stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Evict;

/// Shutdown's question: has the actor nothing in flight (no change queued
/// or being committed, no draw or cancel under way)? An actor that is not
/// settled moves towards it (its count is written if behind).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Settled;

/// A request as it enters an actor's mailbox, stamped so the actor can
/// report how long it waited there (`lottery_event_mailbox_wait_seconds`).
pub struct Timed<M> {
    pub queued_at: Instant,
    pub message: M,
    /// The sender's span while traces are exported (else none): the write
    /// that carries the request out links to it.
    pub sender: tracing::Span,
}

impl<M: Message<Result = ()>> Message for Timed<M> {
    type Result = ();
}

impl<M> Timed<M> {
    pub fn now(message: M) -> Self {
        Self {
            queued_at: Instant::now(),
            message,
            sender: crate::telemetry::traces::current_if_exporting(),
        }
    }
}

/// A request the HTTP side sends an event actor (stamped as `Timed`).
pub trait Request: Message<Result = ()> {
    /// The metric's `message` label.
    const KIND: &'static str;
    /// Whether it may change the event (everything but a view's `Peek`):
    /// an actor that took one is never evicted (`Writes`).
    const WRITES: bool = true;
}

impl Request for Join {
    const KIND: &'static str = "join";
}
impl Request for Leave {
    const KIND: &'static str = "leave";
}
impl Request for Cancel {
    const KIND: &'static str = "cancel";
}
impl Request for DrawNow {
    const KIND: &'static str = "draw";
}
impl Request for Peek {
    const KIND: &'static str = "peek";
    const WRITES: bool = false;
}
