//! A live event's rules as its actor applies them: whether a join, leave,
//! cancel or manual draw is accepted now, when the event closes for its
//! draw, and what status it shows meanwhile. Pure: the caller passes the
//! time, and the replies are opaque (`J` for joins and leaves, `O` for the
//! creator's orders), handed back with the reason when refused.

use chrono::{DateTime, Utc};

use crate::domain::draw::{PrizeSlots, Seed};
use crate::domain::event::{self as rules, DrawMode, EventStatus};
use crate::domain::membership::{Change, Members};
use crate::error::AppError;

/// Why no join or leave is accepted any more.
pub enum Closing<O> {
    Draw {
        because_full: bool,
    },
    /// The creator's cancel, with its reply until the cancel is written.
    Cancel(Option<O>),
}

pub struct LiveEvent<J, O> {
    pub creator_id: i64,
    pub draw_mode: DrawMode,
    pub draw_at: DateTime<Utc>,
    pub seed: Seed,
    pub prizes: Vec<PrizeSlots>,
    pub members: Members<J>,
    /// Set once no join or leave is accepted any more.
    pub closing: Option<Closing<O>>,
}

impl<J, O> LiveEvent<J, O> {
    pub fn new(
        creator_id: i64,
        draw_mode: DrawMode,
        draw_at: DateTime<Utc>,
        seed: Seed,
        prizes: Vec<PrizeSlots>,
        members: Members<J>,
    ) -> Self {
        Self {
            creator_id,
            draw_mode,
            draw_at,
            seed,
            prizes,
            members,
            closing: None,
        }
    }

    /// The status the rules judge requests by: a pending cancel already
    /// refuses what a cancelled event refuses.
    fn status(&self) -> EventStatus {
        match self.closing {
            None => EventStatus::Open,
            Some(Closing::Draw { .. }) => EventStatus::Drawing,
            Some(Closing::Cancel(_)) => EventStatus::Cancelled,
        }
    }

    /// The status views show. A closing draw shows `drawing` at once: no
    /// join or leave is accepted and the draw will happen (a failed one is
    /// retried, never undone). A pending cancel still shows `open`: its
    /// write may fail, which reopens the event, and no view may have said
    /// `cancelled` of an event that then draws; views show `cancelled` once
    /// the row says so.
    pub fn shown_status(&self) -> EventStatus {
        match self.closing {
            Some(Closing::Draw { .. }) => EventStatus::Drawing,
            None | Some(Closing::Cancel(_)) => EventStatus::Open,
        }
    }

    /// Starts the draw unless a closing is already under way.
    pub fn close_for_draw(&mut self, because_full: bool) {
        if self.closing.is_none() {
            self.closing = Some(Closing::Draw { because_full });
        }
    }

    /// The draw time has come (a timer, or a request that noticed).
    pub fn draw_due(&mut self, now: DateTime<Utc>) {
        if now >= self.draw_at {
            self.close_for_draw(false);
        }
    }

    /// Decides a join or leave; a join or leave arriving after draw_at
    /// starts the draw if the timer has not yet.
    pub fn decide(
        &mut self,
        user_id: i64,
        change: Change,
        reply: J,
        now: DateTime<Utc>,
    ) -> Result<(), (J, AppError)> {
        if let Err(err) = rules::check_membership_change(self.status(), self.draw_at, now) {
            self.close_for_draw(false);
            return Err((reply, err));
        }
        self.members.decide(user_id, change, reply)?;
        self.follow_fill();
        Ok(())
    }

    /// A `when_full` event draws once full, and stays open again if a
    /// failed commit undid what filled it.
    pub fn follow_fill(&mut self) {
        let filled = self.members.is_filled(self.draw_mode);
        match self.closing {
            None if filled => self.closing = Some(Closing::Draw { because_full: true }),
            Some(Closing::Draw { because_full: true }) if !filled => self.closing = None,
            _ => {}
        }
    }

    /// The creator's cancel: accepted before draw_at while open. Past
    /// draw_at the timer may not have fired yet: the draw starts.
    pub fn cancel(
        &mut self,
        user_id: i64,
        reply: O,
        now: DateTime<Utc>,
    ) -> Result<(), (O, AppError)> {
        let allowed = rules::check_creator(self.creator_id, user_id)
            .and_then(|()| rules::check_cancel(self.status(), self.draw_at, now));
        match allowed {
            Ok(()) => {
                self.closing = Some(Closing::Cancel(Some(reply)));
                Ok(())
            }
            Err(err) => {
                self.draw_due(now);
                Err((reply, err))
            }
        }
    }

    /// A cancel whose write failed: the event is open again.
    pub fn cancel_failed(&mut self) {
        self.closing = None;
    }

    /// The creator's order to draw a manual event now.
    pub fn order_draw(&mut self, user_id: i64) -> Result<(), AppError> {
        rules::check_creator(self.creator_id, user_id)
            .and_then(|()| rules::check_manual_draw(self.draw_mode, self.status()))?;
        self.close_for_draw(false);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::join_rules::Proof;
    use crate::domain::subscription::Subscriptions;

    const CREATOR: i64 = 1;

    fn event(mode: DrawMode, max: Option<i32>) -> LiveEvent<&'static str, &'static str> {
        let at = "2026-12-31T12:00:00Z".parse().unwrap();
        LiveEvent::new(CREATOR, mode, at, [0; 32], vec![], Members::new([], max))
    }

    fn before(e: &LiveEvent<&str, &str>) -> DateTime<Utc> {
        e.draw_at - chrono::Duration::seconds(1)
    }

    #[test]
    fn a_pending_cancel_refuses_joins_but_still_shows_open() {
        let mut e = event(DrawMode::AtTime, None);
        let now = before(&e);
        e.cancel(CREATOR, "cancel", now).unwrap();
        assert_eq!(e.shown_status(), EventStatus::Open);
        let (reply, err) = e
            .decide(
                5,
                Change::Join {
                    accepted: Subscriptions::NONE,
                    proof: Proof::ALL,
                },
                "join",
                now,
            )
            .unwrap_err();
        assert_eq!((reply, err.code()), ("join", 40900));
        e.cancel_failed();
        assert!(e
            .decide(
                5,
                Change::Join {
                    accepted: Subscriptions::NONE,
                    proof: Proof::ALL,
                },
                "join",
                now
            )
            .is_ok());
    }

    #[test]
    fn a_closing_draw_shows_drawing_at_once() {
        let mut e = event(DrawMode::Manual, None);
        assert_eq!(e.order_draw(2).unwrap_err().code(), 40300);
        e.order_draw(CREATOR).unwrap();
        assert_eq!(e.shown_status(), EventStatus::Drawing);
        assert_eq!(e.order_draw(CREATOR).unwrap_err().code(), 40901);
    }

    #[test]
    fn a_late_request_starts_the_draw() {
        let mut e = event(DrawMode::AtTime, None);
        let late = e.draw_at;
        let (_, err) = e.cancel(CREATOR, "cancel", late).unwrap_err();
        assert_eq!(err.code(), 40901);
        assert_eq!(e.shown_status(), EventStatus::Drawing);
    }

    #[test]
    fn a_when_full_event_closes_when_full_and_reopens_when_undone() {
        let mut e = event(DrawMode::WhenFull, Some(1));
        let now = before(&e);
        e.decide(
            5,
            Change::Join {
                accepted: Subscriptions::NONE,
                proof: Proof::ALL,
            },
            "join",
            now,
        )
        .unwrap();
        assert_eq!(e.shown_status(), EventStatus::Drawing);
        e.members.start_batch();
        e.members.failed([]);
        e.follow_fill();
        assert_eq!(e.shown_status(), EventStatus::Open);
    }
}
