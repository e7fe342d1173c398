//! One actor per live event. Every join, leave, cancel and draw of the event
//! passes through its mailbox, and each is decided in `handle()` against the
//! in-memory state before any await, so no two requests race.
//!
//! Durability: decisions collect in `pending` while the previous commit is in
//! flight, then go to the database in one transaction (group commit). Only
//! after that commit does each waiting request get its answer; a failed
//! commit rolls the in-memory state back and answers 503.
//!
//! The draw: once closing starts no join or leave is accepted; the actor
//! lets pending writes land, then open → drawing (conditional), computes the
//! winners from the seed and the stored participants, and commits winners +
//! drawn in one transaction. A crash anywhere resumes to the same result.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::messages::{Cancel, DrawDue, DrawNow, Join, Leave, Membership, Reply};
use crate::domain::draw::{self, Award, PrizeSlots, Seed};
use crate::domain::event::{self as rules, DrawMode, EventStatus};
use crate::error::{AppError, AppResult};
use crate::store::events::LiveState;
use crate::store::models::from_db_time;
use crate::store::participants::BatchChanges;
use crate::store::{self, Db};

/// How long a finished or missing event's actor keeps answering before it
/// stops (requests already queued get a real answer, not a dropped reply).
const LINGER: Duration = Duration::from_secs(5);
/// Pause before a failed draw or cancel is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How far the event row's participant count may lag the committed rows
/// while the actor lives (see `store::participants::apply_batch`).
const COUNT_EVERY: Duration = Duration::from_secs(1);
/// `committed` while the actor has no live count to show.
pub const NO_COUNT: i64 = -1;

pub struct EventActor {
    event_id: i64,
    db: Db,
    /// Draws written at once, process-wide: thousands of events due in the
    /// same second queue here instead of timing out on the connection pool.
    draw_permits: Arc<Semaphore>,
    idle_timeout: Duration,
    last_touch: Instant,
    phase: Phase,
    /// The committed participant count of a live event, shared with the
    /// registry's directory so views show it without asking the actor.
    committed: Arc<AtomicI64>,
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
    max_participants: Option<i32>,
    seed: Seed,
    prizes: Vec<PrizeSlots>,
    /// Participants and whether each asked for the result notice.
    members: HashMap<i64, bool>,
    /// Set once no join or leave is accepted any more.
    closing: Option<Closing>,
    pending: Batch,
    flushing: bool,
    /// The count on the event's row, and when this actor last wrote it.
    stored_count: i32,
    count_written_at: Instant,
    /// A draw or cancel is being written.
    finishing: bool,
    draw_waiters: Vec<Reply<()>>,
}

enum Closing {
    Draw { because_full: bool },
    Cancel(Option<Reply<()>>),
}

/// One undoable decision: the user's state before it.
struct Op {
    user_id: i64,
    previous: Option<bool>,
}

#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    waiters: Vec<(Reply<Membership>, Membership)>,
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
            draw_mode: DrawMode::from_db(e.draw_mode)
                .ok_or_else(|| AppError::internal("bad draw mode"))?,
            draw_at: from_db_time(e.draw_at),
            max_participants: e.max_participants,
            seed,
            prizes: state
                .prizes
                .iter()
                .map(|p| PrizeSlots {
                    prize_id: p.id,
                    quantity: p.quantity.max(0) as u32,
                })
                .collect(),
            members: state.members.into_iter().collect(),
            closing: None,
            pending: Batch::default(),
            flushing: false,
            stored_count: e.participant_count,
            count_written_at: Instant::now(),
            finishing: false,
            draw_waiters: Vec::new(),
        })
    }

    fn status(&self) -> EventStatus {
        match self.closing {
            None => EventStatus::Open,
            Some(Closing::Draw { .. }) => EventStatus::Drawing,
            Some(Closing::Cancel(_)) => EventStatus::Cancelled,
        }
    }

    fn membership(&self, joined: bool) -> Membership {
        Membership {
            joined,
            participant_count: self.members.len(),
        }
    }

    /// Joins and leaves are open; a join or leave arriving after draw_at
    /// starts the draw if the timer has not yet.
    fn check_open(&mut self, now: DateTime<Utc>) -> AppResult<()> {
        let result = rules::check_membership_change(self.status(), self.draw_at, now);
        if result.is_err() && self.closing.is_none() {
            self.closing = Some(Closing::Draw {
                because_full: false,
            });
        }
        result
    }

    fn join(&mut self, user_id: i64, notify: bool, now: DateTime<Utc>) -> AppResult<()> {
        self.check_open(now)?;
        match self.members.get(&user_id).copied() {
            Some(had_notify) => {
                if notify && !had_notify {
                    self.members.insert(user_id, true);
                    self.pending.ops.push(Op {
                        user_id,
                        previous: Some(false),
                    });
                }
            }
            None => {
                rules::check_capacity(self.members.len(), self.max_participants)?;
                self.members.insert(user_id, notify);
                self.pending.ops.push(Op {
                    user_id,
                    previous: None,
                });
                if rules::is_filled(self.draw_mode, self.members.len(), self.max_participants) {
                    self.closing = Some(Closing::Draw { because_full: true });
                }
            }
        }
        Ok(())
    }

    fn leave(&mut self, user_id: i64, now: DateTime<Utc>) -> AppResult<()> {
        self.check_open(now)?;
        if let Some(previous) = self.members.remove(&user_id) {
            self.pending.ops.push(Op {
                user_id,
                previous: Some(previous),
            });
        }
        Ok(())
    }

    /// The net effect of `ops` given the state they led to.
    fn changes_for(&self, ops: &[Op]) -> BatchChanges {
        let mut changes = BatchChanges {
            count: self.members.len() as i32,
            write_count: self.count_behind() && self.count_written_at.elapsed() >= COUNT_EVERY,
            ..Default::default()
        };
        let mut seen = HashSet::new();
        let existed: HashSet<i64> = ops
            .iter()
            .filter(|op| op.previous.is_some())
            .map(|op| op.user_id)
            .collect();
        for op in ops {
            if !seen.insert(op.user_id) {
                continue;
            }
            match self.members.get(&op.user_id) {
                Some(&notify) => {
                    changes.joins.push((op.user_id, notify));
                    // The row may already exist (insert is ignored): set the flag.
                    if notify && existed.contains(&op.user_id) {
                        changes.notify_on.push(op.user_id);
                    }
                }
                None => changes.leaves.push(op.user_id),
            }
        }
        changes
    }

    /// The row's count differs from the committed one.
    fn count_behind(&self) -> bool {
        self.members.len() as i32 != self.stored_count
    }

    fn rollback(&mut self, ops: &[Op]) {
        for op in ops.iter().rev() {
            match op.previous {
                Some(notify) => self.members.insert(op.user_id, notify),
                None => self.members.remove(&op.user_id),
            };
        }
        if matches!(self.closing, Some(Closing::Draw { because_full: true }))
            && !rules::is_filled(self.draw_mode, self.members.len(), self.max_participants)
        {
            self.closing = None;
        }
    }
}

impl EventActor {
    pub fn new(
        event_id: i64,
        db: Db,
        draw_permits: Arc<Semaphore>,
        idle_timeout: Duration,
        committed: Arc<AtomicI64>,
    ) -> Self {
        Self {
            event_id,
            db,
            draw_permits,
            idle_timeout,
            last_touch: Instant::now(),
            phase: Phase::Loading,
            committed,
        }
    }

    fn loaded(&mut self, result: AppResult<Option<LiveState>>, ctx: &mut Context<Self>) {
        self.phase = match result {
            Err(err) => {
                tracing::warn!(event_id = self.event_id, error = %err, "event actor could not load");
                Phase::Unavailable
            }
            Ok(None) => Phase::Missing,
            Ok(Some(state)) => match EventStatus::from_db(state.event.status) {
                Some(status) if !status.is_live() => Phase::Finished {
                    status,
                    creator_id: state.event.creator_id,
                },
                Some(status) => {
                    let resume = status == EventStatus::Drawing;
                    match Live::from_state(state) {
                        Ok(mut live) => {
                            if resume {
                                live.closing = Some(Closing::Draw {
                                    because_full: false,
                                });
                            }
                            Phase::Live(Box::new(live))
                        }
                        Err(err) => {
                            tracing::error!(event_id = self.event_id, error = %err, "bad event row");
                            Phase::Unavailable
                        }
                    }
                }
                None => Phase::Unavailable,
            },
        };
        match &mut self.phase {
            Phase::Live(live) => {
                // A row behind its participants (a crash within a second of
                // a commit) is rewritten by the next batch or count tick.
                self.committed
                    .store(live.members.len() as i64, Ordering::Release);
                // Wake at draw_at while alive; the registry covers the rest.
                let wait = (live.draw_at - Utc::now()).to_std().unwrap_or_default();
                if live.closing.is_none() && wait.is_zero() {
                    live.closing = Some(Closing::Draw {
                        because_full: false,
                    });
                }
                if wait < self.idle_timeout * 2 {
                    ctx.notify_later(DrawDue, wait);
                }
                self.advance(ctx);
            }
            Phase::Unavailable => ctx.stop(),
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
            _ => AppError::Unavailable("the event is temporarily unavailable".into()),
        }
    }

    /// Moves the event forward: commit what is pending, then (with nothing
    /// in flight) carry out a draw or cancel that closing asked for.
    fn advance(&mut self, ctx: &mut Context<Self>) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        if live.flushing || live.finishing {
            return;
        }
        if !live.pending.waiters.is_empty() || !live.pending.ops.is_empty() {
            self.flush(ctx, false);
        } else if live.closing.is_some() {
            self.finish(ctx);
        }
    }

    /// Writes the row's count if it is behind and due (called every
    /// `COUNT_EVERY`): an event whose joins stopped still gets it within a
    /// second.
    fn write_count(&mut self, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &self.phase {
            if !live.flushing && !live.finishing && live.count_behind() {
                self.flush(ctx, true);
            }
        }
    }

    fn flush(&mut self, ctx: &mut Context<Self>, count_due: bool) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        let batch = std::mem::take(&mut live.pending);
        let mut changes = live.changes_for(&batch.ops);
        changes.write_count |= count_due && live.count_behind();
        if changes.is_empty() {
            for (reply, membership) in batch.waiters {
                let _ = reply.send(Ok(membership));
            }
            return self.advance(ctx);
        }
        live.flushing = true;
        let db = self.db.clone();
        let event_id = self.event_id;
        let started = Instant::now();
        let (count, wrote_count) = (changes.count, changes.write_count);
        metrics::histogram!("lottery_event_batch_size").record(batch.ops.len() as f64);
        let write = async move {
            store::participants::apply_batch(&db, event_id, &changes, Utc::now()).await
        };
        ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
            metrics::histogram!("lottery_event_batch_commit_seconds")
                .record(started.elapsed().as_secs_f64());
            if let Phase::Live(live) = &mut act.phase {
                live.flushing = false;
                match result {
                    Ok(()) => {
                        if wrote_count {
                            live.stored_count = count;
                            live.count_written_at = Instant::now();
                        }
                        act.committed.store(i64::from(count), Ordering::Release);
                        for (reply, membership) in batch.waiters {
                            let _ = reply.send(Ok(membership));
                        }
                    }
                    Err(err) => {
                        tracing::warn!(event_id, error = %err, "group commit failed; rolled back");
                        metrics::counter!("lottery_event_batch_failures_total").increment(1);
                        live.rollback(&batch.ops);
                        for (reply, _) in batch.waiters {
                            let _ = reply.send(Err(AppError::Unavailable(
                                "the participation could not be stored; try again".into(),
                            )));
                        }
                    }
                }
            }
            act.advance(ctx);
        }));
    }

    /// Carries out the closing: the draw or the cancel.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        live.finishing = true;
        let db = self.db.clone();
        let event_id = self.event_id;
        let creator_id = live.creator_id;
        match &mut live.closing {
            Some(Closing::Cancel(reply)) => {
                let reply = reply.take();
                // Nothing is in flight at a closing: members are all committed.
                let count = live.members.len() as i32;
                let write =
                    async move { store::events::cancel(&db, event_id, Utc::now(), count).await };
                ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
                    let answer = match result {
                        Ok(true) => {
                            metrics::counter!("lottery_events_cancelled_total").increment(1);
                            act.finished(EventStatus::Cancelled, creator_id, ctx);
                            Ok(())
                        }
                        Ok(false) => {
                            // Someone else changed it: reload to learn how.
                            ctx.stop();
                            Err(AppError::InvalidState("the event is no longer open".into()))
                        }
                        Err(err) => {
                            if let Phase::Live(live) = &mut act.phase {
                                live.finishing = false;
                                live.closing = None;
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
            Some(Closing::Draw { .. }) => {
                let started = Instant::now();
                let (seed, prizes) = (live.seed, live.prizes.clone());
                let participants = live.members.len();
                let permits = self.draw_permits.clone();
                let write = async move {
                    let _permit = permits.acquire_owned().await;
                    run_draw(db, event_id, move |people| {
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
                                tracing::info!(event_id, participants, "event drawn");
                                act.finished(status, creator_id, ctx);
                            }
                            Err(err) => {
                                tracing::warn!(event_id, error = %err, "draw failed; will retry");
                                metrics::counter!("lottery_draw_failures_total").increment(1);
                                if let Phase::Live(live) = &mut act.phase {
                                    live.finishing = false;
                                }
                                ctx.run_later(RETRY_DELAY, |act, ctx| act.advance(ctx));
                            }
                        }),
                );
            }
            None => live.finishing = false,
        }
    }

    fn finished(&mut self, status: EventStatus, creator_id: i64, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &mut self.phase {
            for reply in live.draw_waiters.drain(..) {
                let _ = reply.send(Ok(()));
            }
        }
        self.phase = Phase::Finished { status, creator_id };
        // The row now holds the final count.
        self.committed.store(NO_COUNT, Ordering::Release);
        ctx.run_later(LINGER, |_, ctx| ctx.stop());
    }

    /// Queues a membership answer behind the next commit, so no answer
    /// overtakes a write it depends on.
    fn answer_after_commit(
        &mut self,
        reply: Reply<Membership>,
        joined: bool,
        ctx: &mut Context<Self>,
    ) {
        if let Phase::Live(live) = &mut self.phase {
            let membership = live.membership(joined);
            live.pending.waiters.push((reply, membership));
        }
        self.advance(ctx);
    }
}

/// Writes the draw (see `store::events::draw`) and names the final status.
async fn run_draw(
    db: Db,
    event_id: i64,
    pick: impl FnOnce(Vec<i64>) -> Vec<Award> + Send + 'static,
) -> AppResult<EventStatus> {
    match store::events::draw(&db, event_id, Utc::now(), pick).await? {
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
        // `wait` holds the mailbox until the state is loaded.
        ctx.wait(
            async move { store::events::load_live(&db, event_id).await }
                .into_actor(self)
                .map(|result, act, ctx| act.loaded(result, ctx)),
        );
        ctx.run_interval(COUNT_EVERY, |act, ctx| act.write_count(ctx));
        let every = (self.idle_timeout / 2).max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| {
            let idle = act.last_touch.elapsed() >= act.idle_timeout;
            if let Phase::Live(live) = &act.phase {
                let quiet = live.closing.is_none()
                    && !live.flushing
                    && !live.count_behind()
                    && live.pending.ops.is_empty()
                    && live.pending.waiters.is_empty();
                if idle && quiet {
                    ctx.stop();
                }
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.committed.store(NO_COUNT, Ordering::Release);
        metrics::gauge!("lottery_event_actors").decrement(1.0);
    }
}

impl Handler<Join> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        let Phase::Live(live) = &mut self.phase else {
            let _ = msg.reply.send(Err(self.not_live()));
            return;
        };
        match live.join(msg.user_id, msg.notify, Utc::now()) {
            Ok(()) => {
                metrics::counter!("lottery_joins_total", "result" => "accepted").increment(1);
                self.answer_after_commit(msg.reply, true, ctx);
            }
            Err(err) => {
                metrics::counter!("lottery_joins_total", "result" => "refused").increment(1);
                let _ = msg.reply.send(Err(err));
                self.advance(ctx);
            }
        }
    }
}

impl Handler<Leave> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        let Phase::Live(live) = &mut self.phase else {
            let _ = msg.reply.send(Err(self.not_live()));
            return;
        };
        match live.leave(msg.user_id, Utc::now()) {
            Ok(()) => self.answer_after_commit(msg.reply, false, ctx),
            Err(err) => {
                let _ = msg.reply.send(Err(err));
                self.advance(ctx);
            }
        }
    }
}

impl Handler<Cancel> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Cancel, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        let result = match &mut self.phase {
            Phase::Live(live) => rules::check_creator(live.creator_id, msg.user_id)
                .and_then(|()| rules::check_cancel(live.status())),
            Phase::Finished { status, creator_id } => {
                rules::check_creator(*creator_id, msg.user_id)
                    .and_then(|()| rules::check_cancel(*status))
            }
            _ => Err(self.not_live()),
        };
        match (result, &mut self.phase) {
            (Ok(()), Phase::Live(live)) => {
                live.closing = Some(Closing::Cancel(Some(msg.reply)));
                self.advance(ctx);
            }
            (Ok(()), _) => {
                let _ = msg
                    .reply
                    .send(Err(AppError::internal("cancel of a non-live event")));
            }
            (Err(err), _) => {
                let _ = msg.reply.send(Err(err));
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
                        live.closing = Some(Closing::Draw {
                            because_full: false,
                        });
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

impl Handler<DrawDue> for EventActor {
    type Result = ();

    fn handle(&mut self, _: DrawDue, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &mut self.phase {
            if live.closing.is_none() && Utc::now() >= live.draw_at {
                live.closing = Some(Closing::Draw {
                    because_full: false,
                });
            }
        }
        self.advance(ctx);
    }
}
