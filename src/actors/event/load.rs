//! The event as its actor starts: live (a draw a crash interrupted resumes,
//! a full or past-due one starts), finished, missing, or unreadable.

use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;

use super::{EventActor, Live, Phase, LINGER};
use crate::actors::messages::DrawDue;
use crate::domain::draw::{PrizeSlots, Seed};
use crate::domain::event::EventStatus;
use crate::domain::live::LiveEvent;
use crate::domain::membership::Members;
use crate::error::{AppError, AppResult};
use crate::store::events::EventRecord;
use crate::store::live::LiveState;
use crate::store::models::from_db_time;

/// A missing event's actor answers only the requests already in its
/// mailbox: later ones stop at the missing-id memory.
const MISSING_LINGER: Duration = Duration::from_millis(200);

impl Live {
    fn from_state(state: LiveState) -> AppResult<Self> {
        let e = state.event;
        let seed: Seed = e
            .seed
            .as_slice()
            .try_into()
            .map_err(|_| AppError::internal(format!("event {} has a bad seed", e.id)))?;
        let prizes = state
            .prizes
            .iter()
            .map(|p| PrizeSlots {
                prize_id: p.id,
                quantity: p.quantity.max(0) as u32,
            })
            .collect();
        let members = Members::new(state.members, e.max_participants);
        let password_digest = e.join_password.clone();
        let wrong_tries = state
            .wrong_tries
            .iter()
            .map(|&(user, wrong)| (user, wrong.max(0) as u32))
            .collect();
        Ok(Self {
            event: LiveEvent::new(
                e.creator_id,
                e.draw_mode,
                from_db_time(e.draw_at),
                seed,
                prizes,
                members,
            ),
            stored_count: Some(e.participant_count),
            count_written_at: Instant::now(),
            finishing: false,
            draw_waiters: Vec::new(),
            draw_failures: 0,
            password_digest,
            wrong_tries,
            group_only: e.group_only,
            risk_check: e.risk_check,
            beacon_chain: e.beacon_chain.clone(),
            beacon_wait: None,
        })
    }
}

impl EventActor {
    pub(super) fn loaded(&mut self, result: AppResult<Option<LiveState>>, ctx: &mut Context<Self>) {
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
                    images: state.images.clone(),
                };
                match Live::from_state(state) {
                    Ok(mut live) => {
                        if resume {
                            live.event.close_for_draw(false);
                        }
                        // Filled before a crash, not yet drawn.
                        live.event.follow_fill();
                        // A draw to carry out: written before the page
                        // shows the actor loaded (only loaded actors are
                        // evicted), so no eviction cuts it off.
                        if live.event.closing.is_some() {
                            self.writes.admit();
                        }
                        self.page
                            .publish(record, live.event.members.committed_handle());
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
                let wait = (live.event.draw_at - Utc::now())
                    .to_std()
                    .unwrap_or_default();
                if wait.is_zero() {
                    live.event.close_for_draw(false);
                }
                if wait < self.idle_timeout * 2 {
                    ctx.notify_later(DrawDue, wait);
                }
                self.advance(ctx);
            }
            Phase::Unavailable => ctx.stop(),
            Phase::Missing => {
                self.missing.remember(self.event_id);
                ctx.run_later(MISSING_LINGER, |_, ctx| ctx.stop());
            }
            _ => {
                ctx.run_later(LINGER, |_, ctx| ctx.stop());
            }
        }
    }
}
