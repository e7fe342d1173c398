//! One actor per live event. Every join, leave, cancel and draw of the event
//! passes through its mailbox, and each is decided in `handle()` against the
//! in-memory state before any await, so no two requests race.
//!
//! Durability: decisions queue in the membership model (`membership.rs`)
//! while the previous commit is in flight, then go to the database in one
//! transaction (group commit). Only after that commit does each waiting
//! request get its answer. A failed commit answers its own requests 503,
//! reloads the participants from the database (the commit may have applied)
//! and decides the queued requests again on what is really stored.
//!
//! The draw: once closing starts no join or leave is accepted; the actor
//! lets pending writes land, then open → drawing (conditional), computes the
//! winners from the seed and the stored participants, and commits winners +
//! drawn in one transaction. A crash anywhere resumes to the same result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::live_page::{LivePage, HEAD_ROWS};
use super::membership::{Change, Members, Released};
use super::messages::{
    Cancel, DrawDue, DrawNow, Join, Leave, Membership, Peek, Relinquish, Reply, Request, Settled,
    Timed,
};
use super::notifier::NoticeBell;
use super::registry::MissingIds;
use crate::cluster::Placement;
use crate::domain::draw::{self, Award, PrizeSlots, Seed};
use crate::domain::event::{self as rules, DrawMode, EventStatus};
use crate::error::{AppError, AppResult};
use crate::store::events::EventRecord;
use crate::store::live::LiveState;
use crate::store::models::from_db_time;
use crate::store::ownership::Token;
use crate::store::{self, Db};

/// How long a finished or missing event's actor keeps answering before it
/// stops (requests already queued get a real answer, not a dropped reply).
const LINGER: Duration = Duration::from_secs(5);
const MISSING_LINGER: Duration = Duration::from_millis(200);
/// Pause before a failed cancel is tried again, and before the first retry
/// of a failed draw; the draw's pause doubles up to `DRAW_RETRY_MAX`.
const RETRY_DELAY: Duration = Duration::from_secs(1);
const DRAW_RETRY_MAX: Duration = Duration::from_secs(60);
/// Failed attempts after which a draw is reported as stuck (log + gauge).
const DRAW_STUCK_AFTER: u32 = 5;
/// How far the event row's participant count may lag the committed rows
/// while the actor lives (see `store::participants::apply_batch`).
const COUNT_EVERY: Duration = Duration::from_secs(1);

pub struct EventActor {
    event_id: i64,
    /// Cluster mode: the fencing token this instance owns the event under;
    /// every write of the actor is refused once a newer owner exists.
    owner: Option<Token>,
    placement: Placement,
    db: Db,
    /// Draws written at once, process-wide: thousands of events due in the
    /// same second queue here instead of timing out on the connection pool.
    draw_permits: Arc<Semaphore>,
    idle_timeout: Duration,
    last_touch: Instant,
    phase: Phase,
    /// What views of the live event read, shared with the registry's
    /// directory; this actor is its only writer.
    page: Arc<LivePage>,
    missing: MissingIds,
    notices: NoticeBell,
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

struct Live {
    creator_id: i64,
    draw_mode: DrawMode,
    draw_at: DateTime<Utc>,
    seed: Seed,
    prizes: Vec<PrizeSlots>,
    members: Members<Reply<Membership>>,
    /// Set once no join or leave is accepted any more.
    closing: Option<Closing>,
    /// The count on the event's row (None: not known, as after a failed
    /// commit), and when this actor last wrote it.
    stored_count: Option<i32>,
    count_written_at: Instant,
    /// A draw or cancel is being written.
    finishing: bool,
    draw_waiters: Vec<Reply<()>>,
    /// Draw attempts that failed in a row.
    draw_failures: u32,
}

enum Closing {
    Draw { because_full: bool },
    Cancel(Option<Reply<()>>),
}

impl Live {
    fn from_state(state: LiveState) -> AppResult<Self> {
        let e = state.event;
        let seed: Seed = e
            .seed
            .as_slice()
            .try_into()
            .map_err(|_| AppError::internal(format!("event {} has a bad seed", e.id)))?;
        Ok(Self {
            creator_id: e.creator_id,
            draw_mode: e.draw_mode,
            draw_at: from_db_time(e.draw_at),
            seed,
            prizes: state
                .prizes
                .iter()
                .map(|p| PrizeSlots {
                    prize_id: p.id,
                    quantity: p.quantity.max(0) as u32,
                })
                .collect(),
            members: Members::new(state.members, e.max_participants),
            closing: None,
            stored_count: Some(e.participant_count),
            count_written_at: Instant::now(),
            finishing: false,
            draw_waiters: Vec::new(),
            draw_failures: 0,
        })
    }

    fn status(&self) -> EventStatus {
        match self.closing {
            None => EventStatus::Open,
            Some(Closing::Draw { .. }) => EventStatus::Drawing,
            Some(Closing::Cancel(_)) => EventStatus::Cancelled,
        }
    }

    /// Starts the draw unless a closing is already under way.
    fn close_for_draw(&mut self, because_full: bool) {
        if self.closing.is_none() {
            self.closing = Some(Closing::Draw { because_full });
        }
    }

    /// Joins and leaves are open; a join or leave arriving after draw_at
    /// starts the draw if the timer has not yet.
    fn check_open(&mut self, now: DateTime<Utc>) -> AppResult<()> {
        let result = rules::check_membership_change(self.status(), self.draw_at, now);
        if result.is_err() {
            self.close_for_draw(false);
        }
        result
    }

    fn decide(
        &mut self,
        user_id: i64,
        change: Change,
        reply: Reply<Membership>,
        now: DateTime<Utc>,
    ) -> Result<(), (Reply<Membership>, AppError)> {
        if let Err(err) = self.check_open(now) {
            return Err((reply, err));
        }
        self.members.decide(user_id, change, reply)?;
        self.follow_fill();
        Ok(())
    }

    /// A `when_full` event draws once full, and stays open again if a
    /// failed commit undid what filled it.
    fn follow_fill(&mut self) {
        let filled = self.members.is_filled(self.draw_mode);
        match self.closing {
            None if filled => self.closing = Some(Closing::Draw { because_full: true }),
            Some(Closing::Draw { because_full: true }) if !filled => self.closing = None,
            _ => {}
        }
    }

    /// The row's count differs from the committed one.
    fn count_behind(&self) -> bool {
        self.stored_count != Some(self.members.committed_count() as i32)
    }

    fn quiet(&self) -> bool {
        self.closing.is_none()
            && !self.members.is_flushing()
            && !self.members.has_queued()
            && !self.count_behind()
    }
}

/// Sends a finished batch's answers.
fn release(released: Released<Reply<Membership>>) {
    for (reply, membership) in released.answered {
        let _ = reply.send(Ok(membership));
    }
    for reply in released.failed {
        let _ = reply.send(Err(AppError::participation_not_stored()));
    }
    for (reply, err) in released.refused {
        let _ = reply.send(Err(err));
    }
}

impl EventActor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        event_id: i64,
        owner: Option<Token>,
        placement: Placement,
        db: Db,
        draw_permits: Arc<Semaphore>,
        idle_timeout: Duration,
        page: Arc<LivePage>,
        missing: MissingIds,
        notices: NoticeBell,
    ) -> Self {
        Self {
            event_id,
            owner,
            placement,
            db,
            draw_permits,
            idle_timeout,
            last_touch: Instant::now(),
            phase: Phase::Loading,
            page,
            missing,
            notices,
        }
    }

    fn loaded(&mut self, result: AppResult<Option<LiveState>>, ctx: &mut Context<Self>) {
        self.phase = match result {
            Err(AppError::Fenced) => {
                tracing::warn!(
                    event_id = self.event_id,
                    "a newer owner holds the event; not starting"
                );
                self.placement.forget(self.event_id, self.owner);
                Phase::Unavailable
            }
            Err(err) => {
                tracing::warn!(event_id = self.event_id, error = %err, "event actor could not load");
                Phase::Unavailable
            }
            Ok(None) => Phase::Missing,
            Ok(Some(state)) if !state.event.status.is_live() => Phase::Finished {
                status: state.event.status,
                creator_id: state.event.creator_id,
            },
            Ok(Some(state)) => {
                let resume = state.event.status == EventStatus::Drawing;
                let record = EventRecord {
                    event: state.event.clone(),
                    creator_nickname: state.creator_nickname.clone(),
                    prizes: state.prizes.clone(),
                };
                match Live::from_state(state) {
                    Ok(mut live) => {
                        if resume {
                            live.close_for_draw(false);
                        }
                        // Filled before a crash, not yet drawn.
                        live.follow_fill();
                        self.page.publish(record, live.members.committed_handle());
                        Phase::Live(Box::new(live))
                    }
                    Err(err) => {
                        tracing::error!(event_id = self.event_id, error = %err, "bad event row");
                        Phase::Unavailable
                    }
                }
            }
        };
        match &mut self.phase {
            Phase::Live(live) => {
                // A row behind its participants (a crash within a second of
                // a commit) is rewritten by the next batch or count tick.
                // Wake at draw_at while alive; the registry covers the rest.
                let wait = (live.draw_at - Utc::now()).to_std().unwrap_or_default();
                if wait.is_zero() {
                    live.close_for_draw(false);
                }
                if wait < self.idle_timeout * 2 {
                    ctx.notify_later(DrawDue, wait);
                }
                self.advance(ctx);
            }
            Phase::Unavailable => ctx.stop(),
            Phase::Missing => {
                // Later requests stop at the missing-id memory; this actor
                // only answers those already in its mailbox.
                self.missing.remember(self.event_id);
                ctx.run_later(MISSING_LINGER, |_, ctx| ctx.stop());
            }
            _ => {
                ctx.run_later(LINGER, |_, ctx| ctx.stop());
            }
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
        self.page.set_status(match live.closing {
            Some(Closing::Draw { .. }) => EventStatus::Drawing,
            _ => EventStatus::Open,
        });
        if live.members.is_flushing() || live.finishing {
            return;
        }
        if live.members.has_queued() {
            self.flush(ctx, false);
        } else if live.closing.is_some() {
            self.finish(ctx);
        }
    }

    /// Writes the row's count if it is behind (called every `COUNT_EVERY`):
    /// an event whose joins stopped still gets it within a second.
    fn write_count(&mut self, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &self.phase {
            if !live.members.is_flushing() && !live.finishing && live.count_behind() {
                self.flush(ctx, true);
            }
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>, count_due: bool) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        let mut changes = live.members.start_batch();
        changes.write_count = live.stored_count != Some(changes.count)
            && (count_due || live.count_written_at.elapsed() >= COUNT_EVERY);
        if changes.is_empty() {
            release(live.members.committed());
            return self.advance(ctx);
        }
        let db = self.db.clone();
        let event_id = self.event_id;
        let owner = self.owner;
        let started = Instant::now();
        let (count, wrote_count) = (changes.count, changes.write_count);
        // Joins are appended to the list: they change its head only while
        // it is short. A leave may remove any row.
        let touches_head = !changes.leaves.is_empty()
            || (!changes.joins.is_empty()
                && (changes.count.max(0) as usize).saturating_sub(changes.joins.len()) < HEAD_ROWS);
        let rows = changes.joins.len() + changes.leaves.len() + changes.notify_on.len();
        metrics::histogram!("lottery_event_batch_size").record(rows as f64);
        let write = async move {
            store::participants::apply_batch(&db, event_id, &changes, Utc::now(), owner).await
        };
        ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
            metrics::histogram!("lottery_event_batch_commit_seconds")
                .record(started.elapsed().as_secs_f64());
            let Phase::Live(live) = &mut act.phase else {
                // Relinquished meanwhile (see `fenced`).
                ctx.stop();
                return;
            };
            match result {
                Ok(()) => {
                    if wrote_count {
                        live.stored_count = Some(count);
                        live.count_written_at = Instant::now();
                    }
                    // The page first: an answered join is on every later view.
                    let released = live.members.committed();
                    act.page.set_count(live.members.committed_count());
                    if touches_head {
                        act.page.head_changed();
                    }
                    release(released);
                    act.advance(ctx);
                }
                Err(AppError::Fenced) => {
                    act.fenced(ctx);
                    ctx.stop();
                }
                Err(err) => {
                    tracing::warn!(event_id, error = %err, "group commit failed; reloading");
                    metrics::counter!("lottery_event_batch_failures_total").increment(1);
                    act.reload_after_failure(ctx);
                }
            }
        }));
    }

    /// After a failed commit nobody knows what the database holds: read it
    /// again, holding the mailbox meanwhile so no request is decided on
    /// memory that may be wrong. If even that read fails, every waiting
    /// request gets 503 and the actor stops; the next request starts a new
    /// one from the database.
    fn reload_after_failure(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        let event_id = self.event_id;
        let reload = async move { store::participants::members(&db, event_id).await };
        ctx.wait(reload.into_actor(self).map(move |result, act, ctx| {
            let Phase::Live(live) = &mut act.phase else {
                return;
            };
            match result {
                Ok(stored) => {
                    let released = live.members.failed(stored);
                    act.page.set_count(live.members.committed_count());
                    act.page.head_changed();
                    release(released);
                    live.follow_fill();
                    // The row's count may or may not include the batch.
                    live.stored_count = None;
                    act.advance(ctx);
                }
                Err(err) => {
                    tracing::warn!(event_id, error = %err, "cannot reload after a failed commit; stopping");
                    for reply in live.members.abandon() {
                        let _ = reply.send(Err(AppError::participation_not_stored()));
                    }
                    act.phase = Phase::Unavailable;
                    ctx.stop();
                }
            }
        }));
    }

    /// Cluster mode: a newer owner holds the event (the fence refused a
    /// write, or the lease was lost); a write's completion that learnt it
    /// stops the actor itself after this. Nothing this actor holds was stored:
    /// every waiting request gets 503 and retries at the new owner, and the
    /// actor stops without writing anything more.
    fn fenced(&mut self, ctx: &mut Context<Self>) {
        metrics::counter!("lottery_cluster_fenced_total").increment(1);
        tracing::warn!(
            event_id = self.event_id,
            "this instance no longer owns the event; stopping its actor"
        );
        self.placement.forget(self.event_id, self.owner);
        let writing = matches!(&self.phase, Phase::Live(live) if live.members.is_flushing() || live.finishing);
        if let Phase::Live(live) = &mut self.phase {
            for reply in live.members.abandon() {
                let _ = reply.send(Err(AppError::Fenced));
            }
            for reply in live.draw_waiters.drain(..) {
                let _ = reply.send(Err(AppError::Fenced));
            }
            if let Some(Closing::Cancel(Some(reply))) = live.closing.take() {
                let _ = reply.send(Err(AppError::Fenced));
            }
        }
        self.phase = Phase::Unavailable;
        // A write in flight is let finish (the fence decides whether it
        // lands; its future is not cut mid-statement): its completion
        // stops the actor.
        if !writing {
            ctx.stop();
        }
    }

    /// Carries out the closing: the draw or the cancel.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        live.finishing = true;
        let db = self.db.clone();
        let event_id = self.event_id;
        let owner = self.owner;
        let creator_id = live.creator_id;
        match &mut live.closing {
            Some(Closing::Cancel(reply)) => {
                let reply = reply.take();
                // Nothing is in flight at a closing: members are all committed.
                let count = live.members.committed_count() as i32;
                let notices = self.notices.enabled();
                let write = async move {
                    store::draws::cancel(&db, event_id, Utc::now(), count, notices, owner).await
                };
                ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
                    let answer = match result {
                        Ok(true) => {
                            metrics::counter!("lottery_events_cancelled_total").increment(1);
                            act.notices.ring();
                            act.finished(EventStatus::Cancelled, creator_id, ctx);
                            Ok(())
                        }
                        Ok(false) => {
                            // Someone else changed it: reload to learn how.
                            ctx.stop();
                            Err(AppError::InvalidState("the event is no longer open".into()))
                        }
                        Err(AppError::Fenced) => {
                            act.fenced(ctx);
                            ctx.stop();
                            Err(AppError::Fenced)
                        }
                        Err(err) => {
                            if let Phase::Live(live) = &mut act.phase {
                                live.finishing = false;
                                live.closing = None;
                            } else {
                                ctx.stop();
                            }
                            act.advance(ctx);
                            Err(err)
                        }
                    };
                    if let Some(reply) = reply {
                        let _ = reply.send(answer);
                    }
                }));
            }
            Some(Closing::Draw { because_full }) => {
                let because_full = *because_full;
                let draw_at = live.draw_at;
                let started = Instant::now();
                let (seed, prizes) = (live.seed, live.prizes.clone());
                let participants = live.members.committed_count();
                let permits = self.draw_permits.clone();
                let notices = self.notices.enabled();
                let write = async move {
                    let _permit = permits.acquire_owned().await;
                    run_draw(db, event_id, notices, owner, move |people| {
                        draw::draw(&seed, &people, &prizes)
                    })
                    .await
                };
                ctx.spawn(
                    write
                        .into_actor(self)
                        .map(move |result, act, ctx| match result {
                            Ok(status) => {
                                metrics::counter!("lottery_draws_total").increment(1);
                                metrics::histogram!("lottery_draw_seconds")
                                    .record(started.elapsed().as_secs_f64());
                                // How late a draw its time started was
                                // committed (not a full event's, nor an
                                // early manual one).
                                let late = Utc::now() - draw_at;
                                if !because_full && late >= chrono::Duration::zero() {
                                    metrics::histogram!("lottery_draw_lag_seconds")
                                        .record(late.as_seconds_f64());
                                }
                                tracing::info!(event_id, participants, "event drawn");
                                act.notices.ring();
                                act.finished(status, creator_id, ctx);
                            }
                            Err(AppError::Fenced) => {
                                act.fenced(ctx);
                                ctx.stop();
                            }
                            Err(err) => act.draw_failed(err, ctx),
                        }),
                );
            }
            None => live.finishing = false,
        }
    }

    /// A draw that failed is tried again after a pause that doubles with
    /// each failure (up to `DRAW_RETRY_MAX`); one that keeps failing is
    /// logged as an error and counted in `lottery_draws_stuck`.
    fn draw_failed(&mut self, err: AppError, ctx: &mut Context<Self>) {
        let event_id = self.event_id;
        metrics::counter!("lottery_draw_failures_total").increment(1);
        let Phase::Live(live) = &mut self.phase else {
            ctx.stop();
            return;
        };
        live.finishing = false;
        live.draw_failures += 1;
        // The creator who ordered the draw hears now, not after the retries:
        // the draw stays pending and the event page shows when it is done.
        for reply in live.draw_waiters.drain(..) {
            let _ = reply.send(Err(AppError::Unavailable(
                "the draw could not be written yet; it is retried automatically".into(),
            )));
        }
        let attempts = live.draw_failures;
        let pause = RETRY_DELAY
            .saturating_mul(1 << (attempts - 1).min(16))
            .min(DRAW_RETRY_MAX);
        if attempts == DRAW_STUCK_AFTER {
            metrics::gauge!("lottery_draws_stuck").increment(1.0);
        }
        if attempts >= DRAW_STUCK_AFTER {
            tracing::error!(event_id, attempts, error = %err, retry_in = ?pause, "draw keeps failing");
        } else {
            tracing::warn!(event_id, attempts, error = %err, retry_in = ?pause, "draw failed; will retry");
        }
        ctx.run_later(pause, |act, ctx| act.advance(ctx));
    }

    fn finished(&mut self, status: EventStatus, creator_id: i64, ctx: &mut Context<Self>) {
        // Views go to the finished-events cache (built from the database,
        // which holds the final state) before anyone hears the event is
        // finished.
        self.page.finish();
        if let Phase::Live(live) = &mut self.phase {
            for reply in live.draw_waiters.drain(..) {
                let _ = reply.send(Ok(()));
            }
            if live.draw_failures >= DRAW_STUCK_AFTER {
                metrics::gauge!("lottery_draws_stuck").decrement(1.0);
            }
        }
        self.phase = Phase::Finished { status, creator_id };
        ctx.run_later(LINGER, |_, ctx| ctx.stop());
    }

    /// A join or leave: decided now, answered after the batch that holds
    /// it commits, so no answer overtakes a write it depends on.
    fn membership_change(
        &mut self,
        user_id: i64,
        change: Change,
        reply: Reply<Membership>,
        ctx: &mut Context<Self>,
    ) {
        self.last_touch = Instant::now();
        let Phase::Live(live) = &mut self.phase else {
            let _ = reply.send(Err(self.not_live()));
            return;
        };
        let result = match live.decide(user_id, change, reply, Utc::now()) {
            Ok(()) => "accepted",
            Err((reply, err)) => {
                let _ = reply.send(Err(err));
                "refused"
            }
        };
        if matches!(change, Change::Join { .. }) {
            metrics::counter!("lottery_joins_total", "result" => result).increment(1);
        }
        self.advance(ctx);
    }
}

/// Writes the draw (see `store::draws::draw`) and names the final status.
async fn run_draw(
    db: Db,
    event_id: i64,
    notices: bool,
    owner: Option<Token>,
    pick: impl FnOnce(Vec<i64>) -> Vec<Award> + Send + 'static,
) -> AppResult<EventStatus> {
    match store::draws::draw(&db, event_id, Utc::now(), notices, owner, pick).await? {
        Some(status @ (EventStatus::Drawn | EventStatus::Cancelled)) => Ok(status),
        Some(other) => Err(AppError::internal(format!(
            "event {event_id} is {} after its draw",
            other.as_str()
        ))),
        None => Err(AppError::internal("event vanished during its draw")),
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
        ctx.run_interval(COUNT_EVERY, |act, ctx| act.write_count(ctx));
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
            if live.draw_failures >= DRAW_STUCK_AFTER {
                metrics::gauge!("lottery_draws_stuck").decrement(1.0);
            }
        }
        metrics::gauge!("lottery_event_actors").decrement(1.0);
    }
}

/// Every request from the HTTP side comes stamped: the time it waited in
/// the mailbox is recorded, then it is handled as itself. (One impl per
/// request: a blanket impl over `Timed<M>` sends the trait solver into
/// `Timed<Timed<…>>`.)
macro_rules! timed_handlers {
    ($($request:ty),*) => {$(
        impl Handler<Timed<$request>> for EventActor {
            type Result = ();

            fn handle(&mut self, timed: Timed<$request>, ctx: &mut Context<Self>) {
                // The handle is looked up once, not on every join.
                static WAIT: std::sync::OnceLock<metrics::Histogram> = std::sync::OnceLock::new();
                WAIT.get_or_init(|| {
                    metrics::histogram!(
                        "lottery_event_mailbox_wait_seconds",
                        "message" => <$request as Request>::KIND
                    )
                })
                .record(timed.queued_at.elapsed().as_secs_f64());
                <Self as Handler<$request>>::handle(self, timed.message, ctx);
            }
        }
    )*};
}

timed_handlers!(Join, Leave, Cancel, DrawNow, Peek);

impl Handler<Settled> for EventActor {
    type Result = bool;

    fn handle(&mut self, _: Settled, ctx: &mut Context<Self>) -> bool {
        match &self.phase {
            Phase::Loading => false,
            Phase::Live(live) => {
                if live.quiet() {
                    return true;
                }
                // What is queued is committed, a draw or cancel asked for is
                // carried out, and a count behind is written now rather
                // than at the next tick (each a no-op while another write
                // is in flight).
                self.advance(ctx);
                self.write_count(ctx);
                false
            }
            Phase::Unavailable | Phase::Missing | Phase::Finished { .. } => true,
        }
    }
}

impl Handler<Relinquish> for EventActor {
    type Result = ();

    fn handle(&mut self, _: Relinquish, ctx: &mut Context<Self>) {
        match self.phase {
            Phase::Live(_) => self.fenced(ctx),
            _ => ctx.stop(),
        }
    }
}

impl Handler<Join> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        let change = Change::Join { notify: msg.notify };
        self.membership_change(msg.user_id, change, msg.reply, ctx);
    }
}

impl Handler<Leave> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.membership_change(msg.user_id, Change::Leave, msg.reply, ctx);
    }
}

impl Handler<Cancel> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Cancel, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        let now = Utc::now();
        match &mut self.phase {
            Phase::Live(live) => {
                let allowed = rules::check_creator(live.creator_id, msg.user_id)
                    .and_then(|()| rules::check_cancel(live.status(), live.draw_at, now));
                match allowed {
                    Ok(()) => live.closing = Some(Closing::Cancel(Some(msg.reply))),
                    Err(err) => {
                        // Past draw_at the timer may not have fired yet.
                        if now >= live.draw_at {
                            live.close_for_draw(false);
                        }
                        let _ = msg.reply.send(Err(err));
                    }
                }
                self.advance(ctx);
            }
            Phase::Finished { status, creator_id } => {
                let _ = msg.reply.send(
                    rules::check_creator(*creator_id, msg.user_id)
                        .and_then(|()| Err(rules::not_cancellable(*status))),
                );
            }
            _ => {
                let _ = msg.reply.send(Err(self.not_live()));
            }
        }
    }
}

impl Handler<DrawNow> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: DrawNow, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        match &mut self.phase {
            Phase::Live(live) => {
                let allowed = rules::check_creator(live.creator_id, msg.user_id)
                    .and_then(|()| rules::check_manual_draw(live.draw_mode, live.status()));
                match allowed {
                    Ok(()) => {
                        live.close_for_draw(false);
                        live.draw_waiters.push(msg.reply);
                        self.advance(ctx);
                    }
                    Err(err) => {
                        let _ = msg.reply.send(Err(err));
                    }
                }
            }
            Phase::Finished { status, creator_id } => {
                let _ =
                    msg.reply.send(
                        rules::check_creator(*creator_id, msg.user_id).and_then(|()| {
                            Err(AppError::InvalidState(format!(
                                "only an open event can be drawn; this one is {}",
                                status.as_str()
                            )))
                        }),
                    );
            }
            _ => {
                let _ = msg.reply.send(Err(self.not_live()));
            }
        }
    }
}

impl Handler<Peek> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Peek, _: &mut Context<Self>) {
        self.last_touch = Instant::now();
        let answer = match self.phase {
            Phase::Live(_) => Ok(()),
            _ => Err(self.not_live()),
        };
        let _ = msg.reply.send(answer);
    }
}

impl Handler<DrawDue> for EventActor {
    type Result = ();

    fn handle(&mut self, _: DrawDue, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &mut self.phase {
            if Utc::now() >= live.draw_at {
                live.close_for_draw(false);
            }
        }
        self.advance(ctx);
    }
}
