//! The registry: owns the map of live event actors, starts them on demand
//! (spread over the HTTP workers' threads, or dedicated arbiters when
//! `LOTTERY_ACTOR_THREADS` asks for them), and keeps a timer queue of the draws
//! due soon. It holds no actor for a future event: every `REFILL_EVERY` it
//! asks the database for the events due within `HORIZON`, so a million
//! scheduled events cost the database an index, not the process memory.

mod messages;
mod schedule;
mod timers;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix::ArbiterHandle;
use chrono::Utc;
use tokio::sync::Semaphore;

pub(super) use self::messages::{
    Drain, Ensure, Purpose, RefillNow, RelinquishAll, Schedule, Shutdown,
};
use self::messages::{DrawClaimed, Refilled};
use self::schedule::{REFILL_EVERY, TICK};
use self::timers::DrawTimers;
use super::directory::{live_entry, ActorEntry, Directory};
use super::event::{Draws, EventActor};
use super::live_page::LivePage;
use super::messages::{DrawDue, Evict, Relinquish};
use super::missing_ids::MissingIds;
use super::notifier::NoticeBell;
use super::writes::Writes;
use crate::beacon::client::Beacon;
use crate::cluster::Placement;
use crate::error::{AppError, AppResult};
use crate::pii::Keyring;
use crate::store::ownership::Token;
use crate::store::{self, Db};

/// The HTTP workers' event loops, which host the actors by default.
pub(super) type Hosts = Arc<parking_lot::Mutex<Vec<ArbiterHandle>>>;

/// Cluster mode: how often event keys without an actor are given back.
const RELEASE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct ActorSettings {
    pub mailbox_capacity: usize,
    pub idle_timeout: Duration,
    /// Dedicated actor threads; 0 puts the actors on the HTTP workers.
    pub arbiters: usize,
    /// Draws written at the same time (each holds a database connection).
    pub concurrent_draws: usize,
    /// Live actors started on request; beyond it a write evicts an actor
    /// only views started, or gets 503 when there is none; a view reads the
    /// database (due draws start regardless).
    pub max_live: usize,
    /// The outbox's doorbell when notices are on: a draw or cancel writes
    /// its notices in its transaction, then rings.
    pub notices: NoticeBell,
    /// The keys join passwords' digests are checked with.
    pub pii: Arc<Keyring>,
    /// The beacon beacon events are drawn with (`LOTTERY_BEACON_*`).
    pub beacon: Option<Arc<Beacon>>,
}

pub struct EventRegistry {
    db: Db,
    missing: MissingIds,
    /// Actors started so far (each one load of its event).
    starts: Arc<AtomicU64>,
    draws: Draws,
    settings: ActorSettings,
    directory: Directory,
    arbiters: Vec<Arbiter>,
    hosts: Hosts,
    next_arbiter: usize,
    timers: DrawTimers,
    /// Actors views started, oldest first: the candidates for eviction
    /// (an entry since written to, stopped or replaced is skipped).
    viewed: VecDeque<(i64, Arc<Writes>)>,
    /// Shutting down: no draw is started (the next start's recovery draws
    /// what came due meanwhile).
    draining: bool,
    placement: Placement,
}

impl EventRegistry {
    /// The registry over the shared directory, missing-id memory, start
    /// counter and hosts that the HTTP side's handle reads.
    pub(super) fn new(
        db: Db,
        settings: ActorSettings,
        placement: Placement,
        directory: Directory,
        missing: MissingIds,
        starts: Arc<AtomicU64>,
        hosts: Hosts,
    ) -> Self {
        Self {
            db,
            missing,
            starts,
            draws: Draws {
                permits: Arc::new(Semaphore::new(settings.concurrent_draws.max(1))),
                beacon: settings.beacon.clone(),
            },
            arbiters: (0..settings.arbiters).map(|_| Arbiter::new()).collect(),
            settings,
            directory,
            hosts,
            next_arbiter: 0,
            timers: DrawTimers::default(),
            viewed: VecDeque::new(),
            draining: false,
            placement,
        }
    }

    /// The event's actor for a request: none is started beyond the cap,
    /// where a write takes the place of an actor only views started.
    fn ensure_for_request(
        &mut self,
        event_id: i64,
        token: Option<Token>,
        purpose: Purpose,
    ) -> AppResult<ActorEntry> {
        if let Some(entry) = self.live_entry(event_id) {
            if entry.token == token {
                return Ok(entry);
            }
        }
        // The claim may have been given back (idle) or lost since.
        if !self.placement.holds(event_id, token) {
            return Err(AppError::changing_servers());
        }
        if self.directory.read().len() >= self.settings.max_live {
            self.directory
                .write()
                .retain(|_, entry| entry.addr.connected());
            if self.directory.read().len() >= self.settings.max_live {
                if purpose == Purpose::View {
                    return Err(AppError::Unavailable(
                        "no room to bring the event live for a view".into(),
                    ));
                }
                if !self.evict_one() {
                    metrics::counter!("lottery_event_actor_cap_refusals_total").increment(1);
                    return Err(AppError::Unavailable(
                        "too many events are active at once; try again".into(),
                    ));
                }
            }
        }
        Ok(self.ensure(event_id, token, purpose))
    }

    /// Stops the oldest actor that only views started and no write has
    /// reached, making room for a write. False when every live actor has
    /// had a write.
    fn evict_one(&mut self) -> bool {
        // Still loading: such an actor may find a draw to finish (an event
        // filled before a crash), which it claims before it publishes its
        // page; it stays a candidate for the next write that needs room.
        let mut loading = Vec::new();
        let mut evicted = false;
        while let Some((event_id, writes)) = self.viewed.pop_front() {
            let mut directory = self.directory.write();
            let Some(entry) = directory.get(&event_id) else {
                continue;
            };
            // Replaced by a later actor of the event, or stopped.
            if !Arc::ptr_eq(&entry.writes, &writes) || !entry.addr.connected() {
                continue;
            }
            if entry.page.count().is_none() {
                loading.push((event_id, writes));
                continue;
            }
            // Written meanwhile: never evicted.
            if !writes.evict() {
                continue;
            }
            let entry = directory.remove(&event_id).expect("just read");
            drop(directory);
            entry.addr.do_send(Evict);
            metrics::counter!("lottery_event_actor_evictions_total").increment(1);
            evicted = true;
            break;
        }
        for candidate in loading.into_iter().rev() {
            self.viewed.push_front(candidate);
        }
        evicted
    }

    /// Starts the event's draw in its actor (started if need be, beyond
    /// the cap). An actor a view started counts as written from now on, so
    /// it is never evicted while it draws; it cannot be evicted already, as
    /// only this actor evicts and the directory no longer shows those.
    fn wake_for_draw(&mut self, event_id: i64, token: Option<Token>) {
        let entry = self.ensure(event_id, token, Purpose::Write);
        entry.writes.admit();
        entry.addr.do_send(DrawDue);
    }

    fn live_entry(&self, event_id: i64) -> Option<ActorEntry> {
        live_entry(&self.directory, event_id)
    }

    /// The event's actor, started if need be: due draws come here directly
    /// and never wait on the cap. An actor under an older claim of this
    /// instance (a lease lost and regained) gives way to a new one.
    fn ensure(&mut self, event_id: i64, token: Option<Token>, purpose: Purpose) -> ActorEntry {
        if let Some(entry) = self.live_entry(event_id) {
            if entry.token == token {
                return entry;
            }
            entry.addr.do_send(Relinquish);
        }
        let arbiter = self.pick_arbiter();
        let db = self.db.clone();
        let idle_timeout = self.settings.idle_timeout;
        let draws = self.draws.clone();
        let page = Arc::new(LivePage::default());
        let shared = page.clone();
        let missing = self.missing.clone();
        let notices = self.settings.notices.clone();
        let pii = self.settings.pii.clone();
        let placement = self.placement.clone();
        let writes = Arc::new(match purpose {
            Purpose::View => Writes::views_only(),
            Purpose::Write => Writes::written(),
        });
        let marks = writes.clone();
        let addr = EventActor::start_in_arbiter(&arbiter, move |_| {
            EventActor::new(
                event_id,
                token,
                placement,
                db,
                draws,
                idle_timeout,
                shared,
                missing,
                notices,
                pii,
                marks,
            )
        });
        if purpose == Purpose::View {
            self.viewed.push_back((event_id, writes.clone()));
        }
        let entry = ActorEntry {
            addr,
            in_flight: Arc::default(),
            page,
            token,
            writes,
        };
        self.directory.write().insert(event_id, entry.clone());
        self.starts.fetch_add(1, Ordering::Relaxed);
        entry
    }

    /// Where the next actor runs. On an HTTP worker's own loop, a request
    /// that lands on that worker reaches its event's actor and gets its
    /// answer without waking another thread; with two workers that halves
    /// the cross-thread hops of a hot event (BENCHMARKS.md).
    fn pick_arbiter(&mut self) -> ArbiterHandle {
        let n = self.next_arbiter;
        self.next_arbiter = n.wrapping_add(1);
        if self.arbiters.is_empty() {
            let mut hosts = self.hosts.lock();
            // A worker that stopped (shutdown, or a crash actix restarts)
            // refuses the spawn.
            hosts.retain(|host| host.spawn(async {}));
            if !hosts.is_empty() {
                return hosts[n % hosts.len()].clone();
            }
            drop(hosts);
            // No HTTP worker (yet): a thread of our own.
            self.arbiters.push(Arbiter::new());
        }
        self.arbiters[n % self.arbiters.len()].handle()
    }
}

impl Actor for EventRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(100_000);
        // Recovery: the first refill finds overdue and interrupted draws.
        self.refill(ctx);
        let db = self.db.clone();
        actix::spawn(async move {
            match store::live::heal_counts(&db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "participant counts caught up with their rows"),
                Err(err) => tracing::warn!(error = %err, "could not check participant counts"),
            }
        });
        ctx.run_interval(REFILL_EVERY, |act, ctx| act.refill(ctx));
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
        if self.placement.is_clustered() {
            ctx.run_interval(RELEASE_EVERY, |act, _| {
                let directory = act.directory.clone();
                act.placement
                    .release_idle(&|id| live_entry(&directory, id).is_some());
            });
        }
    }
}

impl Handler<Ensure> for EventRegistry {
    type Result = AppResult<ActorEntry>;

    fn handle(&mut self, msg: Ensure, _: &mut Context<Self>) -> Self::Result {
        self.ensure_for_request(msg.0, msg.1, msg.2)
    }
}

impl Handler<DrawClaimed> for EventRegistry {
    type Result = ();

    fn handle(&mut self, DrawClaimed(event_id, token): DrawClaimed, _: &mut Context<Self>) {
        if !self.draining && self.placement.holds(event_id, token) {
            self.wake_for_draw(event_id, token);
        }
    }
}

impl Handler<RelinquishAll> for EventRegistry {
    type Result = ();

    fn handle(&mut self, _: RelinquishAll, _: &mut Context<Self>) {
        for entry in self.directory.write().drain().map(|(_, entry)| entry) {
            entry.addr.do_send(Relinquish);
        }
    }
}

impl Handler<RefillNow> for EventRegistry {
    type Result = ();

    fn handle(&mut self, _: RefillNow, ctx: &mut Context<Self>) {
        self.refill(ctx);
    }
}

impl Handler<Schedule> for EventRegistry {
    type Result = ();

    fn handle(&mut self, msg: Schedule, _: &mut Context<Self>) {
        self.push_timer(msg.event_id, msg.draw_at);
    }
}

impl Handler<Refilled> for EventRegistry {
    type Result = ();

    fn handle(&mut self, msg: Refilled, _: &mut Context<Self>) {
        let now = Utc::now();
        for (event_id, draw_at) in msg.0 {
            // Interrupted draws (status drawing) may have a later draw_at.
            self.push_timer(event_id, draw_at.min(now));
        }
    }
}

impl Handler<Drain> for EventRegistry {
    type Result = MessageResult<Drain>;

    fn handle(&mut self, _: Drain, _: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        let directory = self.directory.read();
        MessageResult(
            directory
                .values()
                .filter(|entry| entry.addr.connected())
                .map(|entry| entry.addr.clone())
                .collect(),
        )
    }
}

impl Handler<Shutdown> for EventRegistry {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        self.directory.write().clear();
        ctx.stop();
    }
}
