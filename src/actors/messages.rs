//! Messages to an event actor. Each carries a oneshot for its answer, so the
//! HTTP side can `try_send` and still wait for the answer, which comes only
//! after the change is committed.

use actix::Message;
use tokio::sync::oneshot;

use crate::error::AppResult;

pub type Reply<T> = oneshot::Sender<AppResult<T>>;

/// A user's participation as acknowledged to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    pub joined: bool,
    pub participant_count: usize,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub user_id: i64,
    pub notify: bool,
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

/// Shutdown's question: has the actor nothing in flight (no change queued
/// or being committed, no draw or cancel under way)? An actor that is not
/// settled moves towards it (its count is written if behind).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Settled;
