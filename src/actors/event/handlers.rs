//! The event actor's messages: each decided at once against the live
//! event's rules, answered now when refused, else after its write.

use std::time::Instant;

use actix::prelude::*;
use chrono::Utc;

use super::{EventActor, Phase};
use crate::actors::messages::{
    Cancel, DrawDue, DrawNow, Evict, Join, Leave, Peek, Relinquish, Reply, Request, Settled, Timed,
};
use crate::domain::event as rules;
use crate::domain::join_rules::{Proof, PASSWORD_TRIES};
use crate::domain::membership::{Change, Membership};
use crate::error::AppError;
use crate::pii::join_password;
use crate::secret::Secret;

impl EventActor {
    /// What a join showed of the event's rules: its password checked
    /// against the digest here (microseconds: an HMAC).
    fn proof(
        &self,
        user_id: i64,
        password: Option<&Secret>,
        group: Option<bool>,
        risk: Option<bool>,
    ) -> Proof {
        let Phase::Live(live) = &self.phase else {
            return Proof::ALL;
        };
        let (digest, group_only, risk_check) = (
            live.password_digest.as_deref(),
            live.group_only,
            live.risk_check,
        );
        let wrong = live.wrong_tries.get(&user_id).copied().unwrap_or(0);
        Proof {
            tries_left: digest.is_none() || wrong < PASSWORD_TRIES,
            password: match (digest, password) {
                (None, _) => true,
                (Some(digest), Some(given)) => join_password::matches(&self.pii, digest, given),
                (Some(_), None) => false,
            },
            group: !group_only || group == Some(true),
            risk: if risk_check { risk } else { Some(true) },
        }
    }

    /// A join or leave: decided now, answered after the batch that holds
    /// it commits, so no answer overtakes a write it depends on.
    /// `guess`: the join gave a password, so a wrong one counts a try.
    fn membership_change(
        &mut self,
        user_id: i64,
        change: Change,
        guess: bool,
        reply: Reply<Membership>,
        ctx: &mut Context<Self>,
    ) {
        self.last_touch = Instant::now();
        let Phase::Live(live) = &mut self.phase else {
            let _ = reply.send(Err(self.not_live()));
            return;
        };
        let result = match live.event.decide(user_id, change, reply, Utc::now()) {
            Ok(()) => "accepted",
            Err((reply, err)) => {
                if guess && matches!(err, AppError::WrongJoinPassword(_)) {
                    *live.wrong_tries.entry(user_id).or_insert(0) += 1;
                }
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
                if <$request as Request>::WRITES && !timed.sender.is_none() {
                    self.senders.push(timed.sender);
                }
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
        let change = Change::Join {
            accepted: msg.accepted,
            proof: self.proof(msg.user_id, msg.password.as_ref(), msg.group, msg.risk),
        };
        let guess = msg.password.is_some();
        self.membership_change(msg.user_id, change, guess, msg.reply, ctx);
    }
}

impl Handler<Leave> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.membership_change(msg.user_id, Change::Leave, false, msg.reply, ctx);
    }
}

impl Handler<Cancel> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: Cancel, ctx: &mut Context<Self>) {
        self.last_touch = Instant::now();
        match &mut self.phase {
            Phase::Live(live) => {
                if let Err((reply, err)) = live.event.cancel(msg.user_id, msg.reply, Utc::now()) {
                    let _ = reply.send(Err(err));
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
            Phase::Live(live) => match live.event.order_draw(msg.user_id) {
                Ok(()) => {
                    live.draw_waiters.push(msg.reply);
                    self.advance(ctx);
                }
                Err(err) => {
                    let _ = msg.reply.send(Err(err));
                }
            },
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

impl Handler<Evict> for EventActor {
    type Result = ();

    /// Only views ever reached this actor (the registry's `Writes` claim
    /// made sure), so it holds nothing to write: it stops, and views of
    /// its event read the database until another actor starts.
    fn handle(&mut self, _: Evict, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<DrawDue> for EventActor {
    type Result = ();

    fn handle(&mut self, _: DrawDue, ctx: &mut Context<Self>) {
        if let Phase::Live(live) = &mut self.phase {
            live.event.draw_due(Utc::now());
        }
        self.advance(ctx);
    }
}
