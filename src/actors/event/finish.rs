//! Carrying out a closing (the draw, with retries, or the cancel), the end
//! of a live event, and giving it up to a newer owner (cluster mode).

use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;

use super::{Draws, EventActor, Live, Phase, LINGER};
use crate::actors::live_page::LivePage;
use crate::domain::beacon_draw;
use crate::domain::draw::{self, Award};
use crate::domain::event::EventStatus;
use crate::domain::live::Closing;
use crate::error::{AppError, AppResult};
use crate::store::draws::{BeaconUse, Fixed};
use crate::store::notices::Queues;
use crate::store::ownership::Token;
use crate::store::{self, Db};
use crate::telemetry::traces;
use tracing::Instrument;

/// Pause before the first retry of a failed draw; it doubles with each
/// failure up to `DRAW_RETRY_MAX`. (A failed cancel is not retried: the
/// event reopens and the creator's answer says why.)
const RETRY_DELAY: Duration = Duration::from_secs(1);
const DRAW_RETRY_MAX: Duration = Duration::from_secs(60);
/// Failed attempts after which a draw is reported as stuck (log + gauge).
const DRAW_STUCK_AFTER: u32 = 5;

/// A live event that was counted in `lottery_draws_stuck` leaves the gauge.
pub(super) fn unstick(live: &Live) {
    if live.draw_failures >= DRAW_STUCK_AFTER {
        metrics::gauge!("lottery_draws_stuck").decrement(1.0);
    }
}

impl EventActor {
    /// Cluster mode: a newer owner holds the event (the fence refused a
    /// write, or the lease was lost); a write's completion that learnt it
    /// stops the actor itself after this (`stop_fenced`). Nothing this
    /// actor holds was stored: every waiting request gets 503 and retries
    /// at the new owner, and the actor stops without writing anything more.
    pub(super) fn fenced(&mut self, ctx: &mut Context<Self>) {
        metrics::counter!("lottery_cluster_fenced_total").increment(1);
        tracing::warn!(
            event_id = self.event_id,
            "this instance no longer owns the event; stopping its actor"
        );
        self.placement.forget(self.event_id, self.owner);
        let writing = matches!(&self.phase, Phase::Live(live) if live.event.members.is_flushing() || live.finishing);
        if let Phase::Live(live) = &mut self.phase {
            for reply in live.event.members.abandon() {
                let _ = reply.send(Err(AppError::Fenced));
            }
            for reply in live.draw_waiters.drain(..) {
                let _ = reply.send(Err(AppError::Fenced));
            }
            if let Some(Closing::Cancel(Some(reply))) = live.event.closing.take() {
                let _ = reply.send(Err(AppError::Fenced));
            }
            unstick(live);
        }
        self.phase = Phase::Unavailable;
        // A write in flight is let finish (the fence decides whether it
        // lands; its future is not cut mid-statement): its completion
        // stops the actor.
        if !writing {
            ctx.stop();
        }
    }

    /// A write's completion learnt that the fence refused it.
    pub(super) fn stop_fenced(&mut self, ctx: &mut Context<Self>) {
        self.fenced(ctx);
        ctx.stop();
    }

    /// Carries out the closing: the draw or the cancel.
    pub(super) fn finish(&mut self, ctx: &mut Context<Self>) {
        let Phase::Live(live) = &mut self.phase else {
            return;
        };
        live.finishing = true;
        let db = self.db.clone();
        let event_id = self.event_id;
        let owner = self.owner;
        let creator_id = live.event.creator_id;
        match &mut live.event.closing {
            Some(Closing::Cancel(reply)) => {
                let reply = reply.take();
                // Nothing is in flight at a closing: members are all committed.
                let count = live.event.members.committed_count();
                let notices = self.notices.queues().results;
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
                            act.stop_fenced(ctx);
                            Err(AppError::Fenced)
                        }
                        Err(err) => {
                            if let Phase::Live(live) = &mut act.phase {
                                live.finishing = false;
                                live.event.cancel_failed();
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
                let draw_at = live.event.draw_at;
                let started = Instant::now();
                let (mut seed, prizes) = (live.event.seed, live.event.prizes.clone());
                let participants = live.event.members.committed_count().get();
                let draws = self.draws.clone();
                let notices = self.notices.queues();
                let chain = live.beacon_chain.clone();
                if chain.is_some() && live.beacon_wait.is_none() {
                    // Counted until the draw is written or the actor stops
                    // (the guard goes with the live state), across retries.
                    live.beacon_wait = Some(BeaconWait::new());
                }
                let page = self.page.clone();
                let span = traces::linked(std::mem::take(&mut self.senders), || {
                    tracing::info_span!("event.draw", event_id, participants, because_full)
                });
                let write = async move {
                    let mut with_beacon = None;
                    if let Some(chain) = chain {
                        match beacon_round(&db, event_id, owner, &draws, &chain, &page).await? {
                            BeaconStep::Over(status) => return final_status(event_id, status),
                            BeaconStep::Ready { uses, randomness } => {
                                if let Some(randomness) = randomness {
                                    seed = beacon_draw::mixed_seed(&seed, &randomness);
                                }
                                with_beacon = Some(uses);
                            }
                        }
                    }
                    let _permit = draws.permits.acquire_owned().await;
                    run_draw(db, event_id, notices, owner, with_beacon, move |people| {
                        draw::draw(&seed, &people, &prizes)
                    })
                    .await
                }
                .instrument(span);
                ctx.spawn(
                    write
                        .into_actor(self)
                        .map(move |result, act, ctx| match result {
                            Ok(status) => {
                                metrics::counter!("lottery_draws_total").increment(1);
                                metrics::histogram!("lottery_draw_duration_seconds")
                                    .record(started.elapsed().as_secs_f64());
                                // How late a draw its time started was
                                // committed (not a full event's, nor an
                                // early manual one).
                                let late = Utc::now() - draw_at;
                                if !because_full && late >= chrono::Duration::zero() {
                                    metrics::histogram!("lottery_draw_lag_seconds")
                                        .record(late.as_seconds_f64());
                                }
                                if status == EventStatus::Cancelled {
                                    metrics::counter!("lottery_events_cancelled_total")
                                        .increment(1);
                                    tracing::info!(
                                        event_id,
                                        participants,
                                        "event cancelled at its draw: too few participants"
                                    );
                                } else {
                                    tracing::info!(event_id, participants, "event drawn");
                                }
                                act.notices.ring();
                                act.finished(status, creator_id, ctx);
                            }
                            Err(AppError::Fenced) => act.stop_fenced(ctx),
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
            unstick(live);
        }
        self.phase = Phase::Finished { status, creator_id };
        ctx.run_later(LINGER, |_, ctx| ctx.stop());
    }
}

/// Writes the draw (see `store::draws::draw`) and names the final status.
async fn run_draw(
    db: Db,
    event_id: i64,
    notices: Queues,
    owner: Option<Token>,
    beacon: Option<BeaconUse>,
    pick: impl FnOnce(Vec<i64>) -> Vec<Award> + Send + 'static,
) -> AppResult<EventStatus> {
    let status =
        store::draws::draw(&db, event_id, Utc::now(), notices, owner, beacon, pick).await?;
    final_status(event_id, status)
}

/// The status a finished draw left the event in.
fn final_status(event_id: i64, status: Option<EventStatus>) -> AppResult<EventStatus> {
    match status {
        Some(status @ (EventStatus::Drawn | EventStatus::Cancelled)) => Ok(status),
        Some(other) => Err(AppError::internal(format!(
            "event {event_id} is {} after its draw",
            other.as_str()
        ))),
        None => Err(AppError::internal("event vanished during its draw")),
    }
}

/// Where a beacon event's draw stands before its write.
enum BeaconStep {
    /// The event is no longer drawing (finished elsewhere, or gone).
    Over(Option<EventStatus>),
    /// The draw can be written: with the round's randomness, or without
    /// one when too few came and the event is cancelled instead.
    Ready {
        uses: BeaconUse,
        randomness: Option<[u8; 32]>,
    },
}

/// A beacon event's draw up to its round: the participant list fixed and
/// its hash shown the moment the draw starts (once: a resumed draw finds
/// what was fixed before), then the first round after that instant waited
/// for and verified. Any failure leaves the event drawing and is retried;
/// the draw never goes on without the round.
async fn beacon_round(
    db: &Db,
    event_id: i64,
    owner: Option<Token>,
    draws: &Draws,
    chain: &str,
    page: &LivePage,
) -> AppResult<BeaconStep> {
    let Some(beacon) = draws.beacon.as_ref().filter(|b| b.chain_hex() == chain) else {
        return Err(AppError::Unavailable(format!(
            "the event is drawn with drand chain {chain}, which LOTTERY_BEACON_CHAIN_HASH \
             does not name on this server: the draw waits for it"
        )));
    };
    let fixed = {
        let _permit = draws.permits.acquire().await;
        store::draws::fix_for_beacon(db, event_id, owner, |t| beacon.chain().first_round_after(t))
            .await?
    };
    let fix = match fixed {
        Fixed::Fixed(fix) => fix,
        Fixed::Over(status) => return Ok(BeaconStep::Over(status)),
    };
    page.set_beacon(fix.round, &fix.participants_hash, fix.fixed_at);
    if fix.too_few {
        return Ok(BeaconStep::Ready {
            uses: BeaconUse {
                participants_hash: fix.participants_hash,
                signature: None,
            },
            randomness: None,
        });
    }
    let verified = beacon.when_published(fix.round).await.map_err(|err| {
        AppError::Unavailable(format!("beacon round {} for the draw: {err}", fix.round))
    })?;
    metrics::histogram!("lottery_beacon_wait_seconds")
        .record((Utc::now() - fix.fixed_at).as_seconds_f64());
    Ok(BeaconStep::Ready {
        uses: BeaconUse {
            participants_hash: fix.participants_hash,
            signature: Some(hex::encode(&verified.signature)),
        },
        randomness: Some(verified.randomness),
    })
}

/// A beacon draw counted in `lottery_beacon_waiting_draws` from its start
/// until it is written: held by the event's live state, so it goes when
/// the draw is written, the actor stops or is fenced.
pub(super) struct BeaconWait(metrics::Gauge);

impl BeaconWait {
    fn new() -> Self {
        let gauge = metrics::gauge!("lottery_beacon_waiting_draws");
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for BeaconWait {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
