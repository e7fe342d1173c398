//! The group commit: the joins and leaves decided while the previous batch
//! was in flight go to the database in one transaction, and only then are
//! they answered. A failed commit reloads what the database holds.

use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;

use super::{EventActor, Phase};
use crate::actors::live_page::HEAD_ROWS;
use crate::actors::messages::Reply;
use crate::domain::membership::{Membership, Released};
use crate::error::AppError;
use crate::store;
use crate::telemetry::traces;
use tracing::Instrument;

/// How far the event row's participant count may lag the committed rows
/// while the actor lives (see `store::participants::apply_batch`).
pub(super) const COUNT_EVERY: Duration = Duration::from_secs(1);

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
    /// Writes the row's count if it is behind (called every `COUNT_EVERY`):
    /// an event whose joins stopped still gets it within a second.
    pub(super) fn write_count(&mut self, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &self.phase {
            if !live.event.members.is_flushing() && !live.finishing && live.count_behind() {
                // A write like any other: an actor only views reached is
                // written from now on, and one already evicted leaves the
                // row to the event's next actor (two actors must never
                // both write it).
                if !self.writes.admit() {
                    return;
                }
                self.flush(ctx, true);
            }
        }
    }

    pub(super) fn flush(&mut self, ctx: &mut Context<Self>, count_due: bool) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        let changes = live.event.members.start_batch();
        let count = changes.count;
        let write_count = (live.stored_count != Some(count)
            && (count_due || live.count_written_at.elapsed() >= COUNT_EVERY))
            .then_some(count);
        if write_count.is_none() && changes.rows_unchanged() {
            release(live.event.members.committed());
            return self.advance(ctx);
        }
        let db = self.db.clone();
        let event_id = self.event_id;
        let owner = self.owner;
        let started = Instant::now();
        // Joins are appended to the list: they change its head only while
        // it is short. A leave may remove any row.
        let touches_head = !changes.leaves.is_empty()
            || (!changes.joins.is_empty()
                && (count.get() as usize).saturating_sub(changes.joins.len()) < HEAD_ROWS);
        let rows = changes.joins.len()
            + changes.leaves.len()
            + changes.notify_on.len()
            + changes.remind_on.len();
        metrics::histogram!("lottery_event_batch_size").record(rows as f64);
        let span = traces::linked(std::mem::take(&mut self.senders), || {
            tracing::info_span!("event.batch_commit", event_id, rows, otel.kind = "internal")
        });
        let write = async move {
            store::participants::apply_batch(
                &db,
                event_id,
                &changes,
                write_count,
                Utc::now(),
                owner,
            )
            .await
        }
        .instrument(span);
        ctx.spawn(write.into_actor(self).map(move |result, act, ctx| {
            metrics::histogram!("lottery_event_batch_commit_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            let Phase::Live(live) = &mut act.phase else {
                // Relinquished meanwhile (see `fenced`).
                ctx.stop();
                return;
            };
            match result {
                Ok(()) => {
                    if write_count.is_some() {
                        live.stored_count = write_count;
                        live.count_written_at = Instant::now();
                    }
                    // The page first: an answered join is on every later view.
                    let released = live.event.members.committed();
                    act.page.set_count(live.event.members.committed_count());
                    if touches_head {
                        act.page.head_changed();
                    }
                    release(released);
                    act.advance(ctx);
                }
                Err(AppError::Fenced) => act.stop_fenced(ctx),
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
                    let released = live.event.members.failed(stored);
                    act.page.set_count(live.event.members.committed_count());
                    act.page.head_changed();
                    release(released);
                    live.event.follow_fill();
                    // The row's count may or may not include the batch.
                    live.stored_count = None;
                    act.advance(ctx);
                }
                Err(err) => {
                    tracing::warn!(event_id, error = %err, "cannot reload after a failed commit; stopping");
                    for reply in live.event.members.abandon() {
                        let _ = reply.send(Err(AppError::participation_not_stored()));
                    }
                    act.phase = Phase::Unavailable;
                    ctx.stop();
                }
            }
        }));
    }
}
