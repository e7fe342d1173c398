//! The notifier: drains the outbox of result notices (`store::notices`)
//! into WeChat subscribe messages.
//!
//! Its loop claims a batch of due notices, sends them a few at a time
//! within the send rate, and records each: sent, due again after a backoff
//! (transient failures), or failed for good with WeChat's reason. Draws and
//! cancels ring its bell after they commit, so a batch starts at once; a
//! poll every second finds retries that came due and rows a crashed sender
//! left behind. Claims keep two instances off the same row; a crash leaves
//! at most the sends in flight (`IN_FLIGHT`) unrecorded, and those go twice.
//! Two chunks are under way at once: one's record commits while the next
//! one's sends go, so the round trips of a chunk (rate, sends, record)
//! overlap instead of adding up.
//! docs/NOTIFICATIONS.md states the guarantees.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use tokio::sync::Notify;

use crate::cache::send_rate::SendRate;
use crate::clock::Clock;
use crate::config::NoticeSettings;
use crate::domain::notice::NoticeKind;
use crate::error::AppResult;
use crate::store::notices::{self, Claimed, Queues};
use crate::store::Db;
use crate::wechat::subscribe::{Delivery, Message};
use crate::wechat::token::AccessTokens;

/// Sends a chunk makes at once; its deliveries are recorded in one UPDATE.
const CHUNK: usize = 16;
/// Chunks under way at once (sent or being recorded). One alone made a
/// chunk's rate take, sends and record add up, each tenth of a second's
/// unused share lost: a million drained at 0.90-0.95 of 5,000 a second on
/// a two-core machine (0.98 with two).
const CHUNKS_AT_ONCE: usize = 2;
/// Sends not yet recorded at most: also the most a crash can send twice.
pub const IN_FLIGHT: usize = CHUNK * CHUNKS_AT_ONCE;
/// Participants a fan-out is expanded by at a time: one transaction of at
/// most this many outbox rows (about 60 ms on MySQL), a few seconds of
/// sends at the rates WeChat allows.
const FANOUT_PAGE: i64 = 10_000;
/// How often the expander looks again while it is a page ahead.
const EXPAND_CHECK: Duration = Duration::from_millis(200);
/// How often the outbox is looked at without a ring.
const POLL: Duration = Duration::from_secs(1);
/// How often the pending gauge is refreshed.
const GAUGE_EVERY: Duration = Duration::from_secs(5);
/// Sent notices are kept this long (for questions like "did user X get
/// it?"), then deleted a batch at a time; failed ones are kept.
const KEEP_SENT: Duration = Duration::from_secs(30 * 24 * 3600);
const PURGE_EVERY: Duration = Duration::from_secs(600);
const PURGE_BATCH: i64 = 10_000;
const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(600);

/// The outbox's doorbell: rung after a draw, cancel or re-draw commits its
/// notices. It also says which notices are written at all (`queues`):
/// only those with a template, so without one the transactions write no
/// outbox rows of that kind.
#[derive(Clone, Default)]
pub struct NoticeBell {
    bell: Option<Arc<Notify>>,
    queues: Queues,
}

impl NoticeBell {
    pub fn on(queues: Queues) -> Self {
        Self {
            bell: Some(Arc::new(Notify::new())),
            queues,
        }
    }

    pub fn queues(&self) -> Queues {
        self.queues
    }

    pub fn ring(&self) {
        if let Some(bell) = &self.bell {
            bell.notify_one();
        }
    }
}

/// Everything a drain needs; shared by the actor and its loop.
struct Sender {
    db: Db,
    /// The claim clock (`crate::clock`): reminders come due by it, so
    /// every time the outbox compares is read from it.
    clock: Clock,
    tokens: Arc<AccessTokens>,
    settings: NoticeSettings,
    rate: SendRate,
    /// Set by `Shutdown`: finish the chunk in flight, give the rest back.
    stopping: AtomicBool,
    /// The loop's answer to `stopping`: it has given back what it held.
    stopped: Notify,
}

pub struct Notifier {
    sender: Arc<Sender>,
    bell: NoticeBell,
}

/// Stops the notifier at once: sends in flight are dropped, as in a crash;
/// their claims run out and another sender (or the next start) takes them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Notifier {
    pub fn new(
        db: Db,
        clock: Clock,
        tokens: Arc<AccessTokens>,
        settings: NoticeSettings,
        rate: SendRate,
        bell: NoticeBell,
    ) -> Self {
        Self {
            sender: Arc::new(Sender {
                db,
                clock,
                tokens,
                settings,
                rate,
                stopping: AtomicBool::new(false),
                stopped: Notify::new(),
            }),
            bell,
        }
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let sender = self.sender.clone();
        let bell = self.bell.bell.clone().unwrap_or_default();
        ctx.spawn(sender.clone().run(bell).into_actor(self));
        ctx.spawn(sender.expand_ahead().into_actor(self));
        ctx.run_interval(PURGE_EVERY, |act, ctx| act.purge(ctx));
        ctx.run_interval(GAUGE_EVERY, |act, ctx| {
            let db = act.sender.db.clone();
            ctx.spawn(
                async move {
                    // Rows not sent yet, and those the fan-outs will still write.
                    let depth = async {
                        Ok::<_, crate::error::AppError>(
                            notices::pending(&db).await? + notices::unexpanded(&db).await?,
                        )
                    };
                    match depth.await {
                        Ok(n) => metrics::gauge!("lottery_notices_pending").set(n as f64),
                        Err(err) => tracing::debug!(error = %err, "cannot count pending notices"),
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Notifier {
    /// Deletes sent notices older than `KEEP_SENT`, a batch per call, so a
    /// big draw's 100,000 rows go over a few calls without a long lock.
    fn purge(&mut self, ctx: &mut Context<Self>) {
        let db = self.sender.db.clone();
        let before =
            self.sender.clock.now() - chrono::Duration::from_std(KEEP_SENT).unwrap_or_default();
        ctx.spawn(
            async move {
                match notices::purge_sent(&db, before, PURGE_BATCH).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "old sent notices deleted"),
                    Err(err) => tracing::debug!(error = %err, "cannot delete old notices"),
                }
            }
            .into_actor(self),
        );
    }
}

/// Stops the notifier cleanly (a graceful shutdown): the sends in flight
/// finish and are recorded, the notices it claimed and has not tried are
/// given back (due at once for the other instances or the next start),
/// then it stops. Waits at most `SHUTDOWN_WAIT`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

impl Handler<Shutdown> for Notifier {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        let sender = self.sender.clone();
        sender.stopping.store(true, Ordering::SeqCst);
        self.bell.ring();
        Box::pin(
            async move {
                if tokio::time::timeout(SHUTDOWN_WAIT, sender.stopped.notified())
                    .await
                    .is_err()
                {
                    tracing::warn!("notifier did not finish its sends in time; stopping anyway");
                }
            }
            .into_actor(self)
            .map(|_, _, ctx| ctx.stop()),
        )
    }
}

impl Handler<Stop> for Notifier {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// How long before the `attempt`-th retry: doubling from 2 s up to 10
/// minutes, spread by ±20 % so a burst of failures does not return at once.
fn backoff(attempt: u32) -> Duration {
    let base = FIRST_RETRY
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(LONGEST_RETRY);
    base.mul_f64(rand::rng().random_range(0.8..1.2))
}

impl Sender {
    async fn run(self: Arc<Self>, bell: Arc<Notify>) {
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                // A stored permit: the shutdown may start waiting after this.
                self.stopped.notify_one();
                return;
            }
            match self.drain_batch().await {
                Ok(0) => {
                    let _ = tokio::time::timeout(POLL, bell.notified()).await;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "notice outbox unavailable; retrying");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Keeps the fan-outs' expansion ahead of the senders: while a fan-out
    /// is left and fewer than a page of notices are due, the next page is
    /// expanded, so the senders never wait for a page's transaction (when
    /// they did, a million-participant drain ran at 0.94 of the rate).
    /// `drain_batch` expands too, when it finds nothing due (the first
    /// page after a draw); the two never write a notice twice.
    async fn expand_ahead(self: Arc<Self>) {
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            let step = async {
                if notices::due_at_least(&self.db, self.clock.now(), FANOUT_PAGE).await? {
                    return Ok(EXPAND_CHECK);
                }
                let expanded =
                    notices::expand_fanout(&self.db, self.clock.now(), FANOUT_PAGE).await?;
                Ok::<_, crate::error::AppError>(if expanded { Duration::ZERO } else { POLL })
            };
            let pause = step.await.unwrap_or_else(|err| {
                tracing::debug!(error = %err, "cannot expand notice fan-outs now");
                POLL
            });
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Claims a batch and sends it; returns how many were claimed.
    async fn drain_batch(&self) -> AppResult<usize> {
        let hold = self.settings.claim;
        // A batch takes at most half its claim at the full rate.
        let size = (u64::from(self.settings.rate) * hold.as_secs() / 2).clamp(1, 500) as i64;
        let batch = notices::claim(&self.db, self.clock.now(), hold, size).await?;
        if (batch.len() as i64) < size {
            // The outbox runs low: the next page of a draw's or a cancel's
            // fan-out becomes its rows. Done here, by the senders, the big
            // draw's transaction writes one row, and the rows are written
            // about as fast as they are sent.
            let expanded = notices::expand_fanout(&self.db, self.clock.now(), FANOUT_PAGE).await?;
            if batch.is_empty() {
                return Ok(usize::from(expanded));
            }
        }
        // Past this, the claim may run out: the rest goes back rather than
        // risk a second sender taking rows this one is still sending.
        let deadline = Instant::now() + hold.mul_f64(0.75);
        let mut rest: &[Claimed] = &batch;
        let mut under_way = FuturesUnordered::new();
        let mut failed = None;
        while !rest.is_empty() {
            if under_way.len() >= CHUNKS_AT_ONCE {
                if let Some(Err(err)) = under_way.next().await {
                    failed = Some(err);
                    break;
                }
                continue;
            }
            if Instant::now() >= deadline || self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let n = self.rate.take(rest.len().min(CHUNK) as u32).await as usize;
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            let token = match self.tokens.get().await {
                Ok(token) => token,
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            };
            under_way.push(self.send_chunk(chunk, token));
            rest = tail;
        }
        // Chunks under way finish and are recorded, whatever stopped the
        // loop; what was not sent goes back, due at once.
        while let Some(done) = under_way.next().await {
            if let Err(err) = done {
                failed.get_or_insert(err);
            }
        }
        if !rest.is_empty() {
            let ids: Vec<i64> = rest.iter().map(|c| c.id).collect();
            if let Err(err) = notices::release(&self.db, &ids, self.clock.now()).await {
                failed.get_or_insert(err);
            }
        }
        match failed {
            Some(err) => Err(err),
            None => Ok(batch.len()),
        }
    }

    /// Sends a chunk, a message each, and records how each went.
    async fn send_chunk(&self, chunk: &[Claimed], token: String) -> AppResult<()> {
        let deliveries =
            futures::future::join_all(chunk.iter().map(|c| self.deliver(c, &token))).await;
        self.record(chunk, deliveries).await
    }

    /// One message; a refused token is replaced and the message sent once more.
    async fn deliver(&self, notice: &Claimed, token: &str) -> Delivery {
        let settings = &self.settings;
        let page = settings
            .page
            .replace("{id}", &notice.content.event_id.to_string());
        let template = match notice.kind {
            NoticeKind::Result | NoticeKind::Cancelled => &settings.result,
            NoticeKind::ClaimReminder => &settings.reminder,
        };
        // Queued while its template was set, and the setting went since.
        let Some(template) = template else {
            return Delivery::Permanent {
                reason: "no_template".into(),
                detail: format!("no template is configured for {:?} notices", notice.kind),
            };
        };
        let message = Message {
            touser: &notice.openid,
            template_id: &template.id,
            page: &page,
            data: template.fields.data(&notice.content),
            miniprogram_state: &settings.miniprogram_state,
        };
        let api = self.tokens.client();
        match api.send_subscribe(token, &message).await {
            Delivery::TokenRefused => {
                self.tokens.invalidate(token).await;
                let fresh = match self.tokens.get().await {
                    Ok(fresh) => fresh,
                    Err(err) => {
                        return Delivery::Transient {
                            reason: "token".into(),
                            detail: err.to_string(),
                        }
                    }
                };
                match api.send_subscribe(&fresh, &message).await {
                    Delivery::TokenRefused => Delivery::Transient {
                        reason: "token".into(),
                        detail: "a freshly fetched access token was refused".into(),
                    },
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn record(&self, chunk: &[Claimed], deliveries: Vec<Delivery>) -> AppResult<()> {
        let now = self.clock.now();
        let mut sent = Vec::new();
        for (notice, delivery) in chunk.iter().zip(deliveries) {
            let event_id = notice.content.event_id;
            let delivery = match delivery {
                // `deliver` already replaced the token once.
                Delivery::TokenRefused => Delivery::Transient {
                    reason: "token".into(),
                    detail: "the access token was refused".into(),
                },
                other => other,
            };
            match delivery {
                Delivery::Sent => sent.push(notice.id),
                Delivery::TokenRefused => unreachable!("mapped above"),
                Delivery::Transient { reason, detail } => {
                    let attempt = notice.attempts as u32 + 1;
                    if attempt >= self.settings.max_attempts {
                        let error = format!("gave up after {attempt} attempts: {detail}");
                        tracing::warn!(event_id, notice = notice.id, %error, "notice failed");
                        metrics::counter!("lottery_notices_total", "result" => "failed", "reason" => reason)
                            .increment(1);
                        notices::fail(&self.db, notice.id, &error).await?;
                    } else {
                        tracing::debug!(event_id, notice = notice.id, %detail, "notice will be retried");
                        metrics::counter!("lottery_notices_total", "result" => "retried", "reason" => reason)
                            .increment(1);
                        notices::retry(&self.db, notice.id, now + backoff(attempt), &detail)
                            .await?;
                    }
                }
                Delivery::Permanent { reason, detail } => {
                    tracing::info!(event_id, notice = notice.id, %detail, "notice cannot be delivered");
                    metrics::counter!("lottery_notices_total", "result" => "failed", "reason" => reason)
                        .increment(1);
                    notices::fail(&self.db, notice.id, &detail).await?;
                }
            }
        }
        metrics::counter!("lottery_notices_total", "result" => "sent", "reason" => "")
            .increment(sent.len() as u64);
        notices::sent(&self.db, &sent, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        for _ in 0..20 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(1600) && first <= Duration::from_millis(2400));
            let fourth = backoff(4);
            assert!(
                fourth >= Duration::from_millis(12_800) && fourth <= Duration::from_millis(19_200)
            );
            assert!(backoff(30) <= LONGEST_RETRY.mul_f64(1.2));
        }
    }
}
