//! Keeps personal data no longer than needed: every `SWEEP_EVERY` it
//! erases the delivery details of claims whose prize was received more
//! than `RECEIVED_KEEP_DAYS` ago, or shipped more than `SHIPPED_KEEP_DAYS`
//! ago and never confirmed (the claim row stays, without details). An
//! unclaimed or expired claim never had details. Every instance sweeps;
//! the erasure is one conditional update, so two sweeps agree. Time is the
//! claim clock's, so tests move it and sweep at once (`SweepNow`). The
//! same sweep forgets Idempotency-Keys past their keeping time
//! (`domain::idempotency::KEEP_HOURS`): they hold no personal data, but
//! nothing else would ever delete them.

use std::time::Duration;

use actix::prelude::*;

use crate::clock::Clock;
use crate::domain::claim::{RECEIVED_KEEP_DAYS, SHIPPED_KEEP_DAYS};
use crate::error::AppResult;
use crate::store::{self, Db};

const SWEEP_EVERY: Duration = Duration::from_secs(3600);

pub struct ClaimKeeper {
    db: Db,
    clock: Clock,
}

impl ClaimKeeper {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }
}

async fn sweep(db: Db, clock: Clock) -> AppResult<usize> {
    let now = clock.now();
    let erased = store::claims::erase_details(
        &db,
        now - chrono::Duration::days(RECEIVED_KEEP_DAYS),
        now - chrono::Duration::days(SHIPPED_KEEP_DAYS),
        now,
    )
    .await?;
    if erased > 0 {
        metrics::counter!("lottery_claim_details_erased_total").increment(erased as u64);
        tracing::info!(erased, "delivery details past their keeping time erased");
    }
    let keys = store::idempotency::forget_before(
        &db,
        now - chrono::Duration::hours(crate::domain::idempotency::KEEP_HOURS),
    )
    .await?;
    if keys > 0 {
        tracing::info!(keys, "Idempotency-Keys past their keeping time forgotten");
    }
    Ok(erased)
}

impl Actor for ClaimKeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SWEEP_EVERY, |act, ctx| {
            let work = sweep(act.db.clone(), act.clock.clone());
            ctx.spawn(
                async move {
                    if let Err(err) = work.await {
                        tracing::warn!(error = %err, "the erasure of old delivery details failed; tried again later");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

/// Sweeps now; answers how many claims lost their details.
#[derive(Message)]
#[rtype(result = "AppResult<usize>")]
pub struct SweepNow;

impl Handler<SweepNow> for ClaimKeeper {
    type Result = ResponseFuture<AppResult<usize>>;

    fn handle(&mut self, _: SweepNow, _: &mut Context<Self>) -> Self::Result {
        Box::pin(sweep(self.db.clone(), self.clock.clone()))
    }
}
