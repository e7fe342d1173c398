//! The registry's schedule: due draws start from the timer queue, a few
//! hundred per tick, and the queue is refilled from the database every
//! `REFILL_EVERY` with the events due within `HORIZON`.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::messages::{DrawClaimed, Refilled, Schedule};
use super::EventRegistry;
use crate::cluster::Route;
use crate::store;

pub(super) const TICK: Duration = Duration::from_millis(100);
pub(super) const REFILL_EVERY: Duration = Duration::from_secs(10);
const HORIZON: chrono::Duration = chrono::Duration::seconds(30);
const REFILL_LIMIT: i64 = 50_000;
/// Due draws started per tick: a storm of events due at one second starts
/// in waves instead of exhausting the connection pool all at once.
const STARTS_PER_TICK: usize = 200;

impl EventRegistry {
    pub(super) fn push_timer(&mut self, event_id: i64, draw_at: DateTime<Utc>) {
        if draw_at <= Utc::now() + HORIZON {
            self.timers.push(event_id, draw_at);
        }
    }

    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        let now = Utc::now();
        for _ in 0..STARTS_PER_TICK {
            let Some(event_id) = self.timers.pop_due(now) else {
                break;
            };
            if self.placement.is_clustered() {
                self.claim_due(event_id, ctx);
            } else {
                self.wake_for_draw(event_id, None);
            }
        }
        metrics::gauge!("lottery_scheduled_draws").set(self.timers.len() as f64);
    }

    /// Cluster mode: a due event is drawn by its owner. Unowned, this
    /// instance claims it and draws; owned elsewhere, the owner draws it,
    /// and if the owner dies first its departure (or the next refill)
    /// brings the event back here to be claimed. The fence and the draw's
    /// conditional steps make a second attempt harmless.
    fn claim_due(&mut self, event_id: i64, ctx: &mut Context<Self>) {
        if let Some(entry) = self.live_entry(event_id) {
            self.wake_for_draw(event_id, entry.token);
            return;
        }
        let placement = self.placement.clone();
        let me = ctx.address();
        actix::spawn(async move {
            match placement.route(event_id).await {
                Ok(Route::Here(token)) => me.do_send(DrawClaimed(event_id, token)),
                Ok(Route::There(_)) => {}
                // etcd unreachable or the key changing hands: try again.
                Err(_) => me.do_send(Schedule {
                    event_id,
                    draw_at: Utc::now(),
                }),
            }
        });
    }

    pub(super) fn refill(&mut self, ctx: &mut Context<Self>) {
        self.directory
            .write()
            .retain(|_, entry| entry.addr.connected());
        // Eviction candidates that stopped or were written meanwhile.
        self.viewed
            .retain(|(_, writes)| Arc::strong_count(writes) > 1 && writes.views_only_so_far());
        let db = self.db.clone();
        let me = ctx.address();
        actix::spawn(async move {
            let until = Utc::now() + HORIZON;
            match store::draws::due_for_draw(&db, until, REFILL_LIMIT).await {
                Ok(due) => me.do_send(Refilled(due)),
                Err(err) => tracing::warn!(error = %err, "could not read the draw schedule"),
            }
        });
    }
}
