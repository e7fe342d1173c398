//! One actor per live event. Every join, leave, cancel and draw of the event
//! passes through its mailbox, and each is decided in `handle()` against the
//! in-memory state before any await, so no two requests race. The rules it
//! decides by are the domain's (`domain::live`, `domain::membership`); the
//! actor adds the writes and their answers:
//! - `load.rs`: the event as the actor starts (a crash's draw resumed);
//! - `commit.rs`: the group commit and the reload after a failed one;
//! - `finish.rs`: the draw and the cancel, with retries, and the fence;
//! - `handlers.rs`: the messages.
//!
//! Durability: decisions queue in the membership model while the previous
//! commit is in flight, then go to the database in one transaction (group
//! commit). Only after that commit does each waiting request get its
//! answer. A failed commit answers its own requests 503, reloads the
//! participants from the database (the commit may have applied) and decides
//! the queued requests again on what is really stored.
//!
//! The draw: once closing starts no join or leave is accepted; the actor
//! lets pending writes land, then open → drawing (conditional), computes the
//! winners from the seed and the stored participants, and commits winners +
//! drawn in one transaction. A crash anywhere resumes to the same result.

mod commit;
mod finish;
mod handlers;
mod load;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::Semaphore;

use super::live_page::LivePage;
use super::messages::Reply;
use super::missing_ids::MissingIds;
use super::notifier::NoticeBell;
use super::writes::Writes;
use crate::beacon::client::Beacon;
use crate::cluster::Placement;
use crate::domain::count::ParticipantCount;
use crate::domain::event::EventStatus;
use crate::domain::live::LiveEvent;
use crate::domain::membership::Membership;
use crate::error::AppError;
use crate::pii::Keyring;
use crate::store::ownership::Token;
use crate::store::{self, Db};

/// What every event's draw shares, process-wide.
#[derive(Clone)]
pub struct Draws {
    /// Draws written at once: thousands of events due in the same second
    /// queue here instead of timing out on the connection pool.
    pub permits: Arc<Semaphore>,
    /// The configured beacon (`LOTTERY_BEACON_*`); a beacon event waits
    /// for its round from it, and never draws without it.
    pub beacon: Option<Arc<Beacon>>,
}

/// How long a finished or missing event's actor keeps answering before it
/// stops (requests already queued get a real answer, not a dropped reply).
const LINGER: Duration = Duration::from_secs(5);

pub struct EventActor {
    event_id: i64,
    /// Cluster mode: the fencing token this instance owns the event under;
    /// every write of the actor is refused once a newer owner exists.
    owner: Option<Token>,
    placement: Placement,
    db: Db,
    /// Draws written at once, and the beacon beacon events draw with.
    draws: Draws,
    idle_timeout: Duration,
    last_touch: Instant,
    phase: Phase,
    /// What views of the live event read, shared with the registry's
    /// directory; this actor is its only writer.
    page: Arc<LivePage>,
    missing: MissingIds,
    notices: NoticeBell,
    /// Checks a join's password against the event's digest.
    pii: Arc<Keyring>,
    /// Whether a write reached this actor; one a view started may be
    /// evicted until then (shared with the directory's entry).
    writes: Arc<Writes>,
    /// While traces are exported: the spans of the writes taken since the
    /// last commit, which the next commit's span links to.
    senders: Vec<tracing::Span>,
}

enum Phase {
    Loading,
    /// The database could not be read: everything gets 503 and the actor stops.
    Unavailable,
    Missing,
    Finished {
        status: EventStatus,
        creator_id: i64,
    },
    Live(Box<Live>),
}

/// A live event: its rules' state, and what the actor tracks of its writes.
struct Live {
    event: LiveEvent<Reply<Membership>, Reply<()>>,
    /// The count on the event's row (None: not known, as after a failed
    /// commit), and when this actor last wrote it.
    stored_count: Option<ParticipantCount>,
    count_written_at: Instant,
    /// A draw or cancel is being written.
    finishing: bool,
    draw_waiters: Vec<Reply<()>>,
    /// Draw attempts that failed in a row.
    draw_failures: u32,
    /// The join password's digest, when the event has one.
    password_digest: Option<String>,
    /// Wrong passwords so far per user: counted here, where racing joins
    /// are decided one at a time (and kept in `join_tries` by the handler).
    wrong_tries: HashMap<i64, u32>,
    /// Joins need proof of one of the event's groups.
    group_only: bool,
    /// Joins need WeChat's fraud check passed.
    risk_check: bool,
    /// A beacon event: drawn with this drand chain's round (hex chain
    /// hash); None: the seed alone.
    beacon_chain: Option<String>,
    /// A beacon draw under way, counted in `lottery_beacon_waiting_draws`.
    beacon_wait: Option<finish::BeaconWait>,
}

impl Live {
    /// The row's count differs from the committed one.
    fn count_behind(&self) -> bool {
        self.stored_count != Some(self.event.members.committed_count())
    }

    fn quiet(&self) -> bool {
        self.event.closing.is_none()
            && !self.event.members.is_flushing()
            && !self.event.members.has_queued()
            && !self.count_behind()
    }
}

impl EventActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        event_id: i64,
        owner: Option<Token>,
        placement: Placement,
        db: Db,
        draws: Draws,
        idle_timeout: Duration,
        page: Arc<LivePage>,
        missing: MissingIds,
        notices: NoticeBell,
        pii: Arc<Keyring>,
        writes: Arc<Writes>,
    ) -> Self {
        Self {
            event_id,
            owner,
            placement,
            db,
            draws,
            idle_timeout,
            last_touch: Instant::now(),
            phase: Phase::Loading,
            page,
            missing,
            notices,
            pii,
            writes,
            senders: Vec::new(),
        }
    }

    /// Answers for a request that cannot reach a live event.
    fn not_live(&self) -> AppError {
        match &self.phase {
            Phase::Missing => AppError::event_not_found(),
            Phase::Finished { status, .. } => {
                AppError::EventClosed(format!("the event is closed: it is {}", status.as_str()))
            }
            _ => AppError::event_unavailable(),
        }
    }

    /// Moves the event forward: commit what is queued, then (with nothing
    /// in flight) carry out a draw or cancel that closing asked for.
    fn advance(&mut self, ctx: &mut Context<Self>) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        self.page.set_status(live.event.shown_status());
        if live.event.members.is_flushing() || live.finishing {
            return;
        }
        if live.event.members.has_queued() {
            self.flush(ctx, false);
        } else if live.event.closing.is_some() {
            // A draw that came due in an actor only views started: from
            // now on it is written and never evicted. One evicted already
            // leaves the draw to the event's next actor (the registry's
            // timer starts one).
            if !self.writes.admit() {
                ctx.stop();
                return;
            }
            self.finish(ctx);
        }
    }
}

impl Actor for EventActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::gauge!("lottery_event_actors").increment(1.0);
        metrics::counter!("lottery_event_actor_starts_total").increment(1);
        let db = self.db.clone();
        let event_id = self.event_id;
        let owner = self.owner;
        // `wait` holds the mailbox until the state is loaded.
        ctx.wait(
            async move { store::live::load_live(&db, event_id, owner).await }
                .into_actor(self)
                .map(|result, act, ctx| act.loaded(result, ctx)),
        );
        ctx.run_interval(commit::COUNT_EVERY, |act, ctx| act.write_count(ctx));
        let every = (self.idle_timeout / 2).max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| {
            let idle = act.last_touch.elapsed() >= act.idle_timeout;
            if let Phase::Live(live) = &act.phase {
                if idle && live.quiet() {
                    ctx.stop();
                }
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.page.withdraw();
        if let Phase::Live(live) = &self.phase {
            finish::unstick(live);
        }
        metrics::gauge!("lottery_event_actors").decrement(1.0);
    }
}
