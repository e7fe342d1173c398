//! The registry: owns the map of live event actors, starts them on demand
//! (spread over the HTTP workers' threads, or dedicated arbiters when
//! `LOTTERY_ACTOR_THREADS` asks for them), and keeps a timer queue of the draws
//! due soon. It holds no actor for a future event: every `REFILL_EVERY` it
//! asks the database for the events due within `HORIZON`, so a million
//! scheduled events cost the database an index, not the process memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::ArbiterHandle;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use tokio::sync::Semaphore;

use super::event::EventActor;
use super::live_page::LivePage;
use super::messages::{DrawDue, Peek, Relinquish, Request, Settled, Timed};
use super::notifier::NoticeBell;
use crate::cluster::{Placement, Route};
use crate::error::{AppError, AppResult};
use crate::store::ownership::Token;
use crate::store::{self, Db};

const TICK: Duration = Duration::from_millis(100);
const REFILL_EVERY: Duration = Duration::from_secs(10);
const HORIZON: chrono::Duration = chrono::Duration::seconds(30);
const REFILL_LIMIT: i64 = 50_000;
/// Due draws started per tick: a storm of events due at one second starts
/// in waves instead of exhausting the connection pool all at once.
const STARTS_PER_TICK: usize = 200;
/// Cluster mode: how often event keys without an actor are given back.
const RELEASE_EVERY: Duration = Duration::from_secs(5);

/// A live actor and the number of requests it holds (queued or waiting for
/// their commit). actix bounds a mailbox per sender handle, and every
/// request uses its own handle, so the bound is kept here instead.
#[derive(Clone)]
struct ActorEntry {
    addr: Addr<EventActor>,
    in_flight: Arc<AtomicUsize>,
    /// What views of the live event read (see `LivePage`).
    page: Arc<LivePage>,
    /// The fencing token it writes under (cluster mode).
    token: Option<Token>,
}

type Directory = Arc<RwLock<HashMap<i64, ActorEntry>>>;
/// The HTTP workers' event loops, which host the actors by default.
type Hosts = Arc<parking_lot::Mutex<Vec<ArbiterHandle>>>;

/// The directory's entry for the event, if its actor is still running (a
/// stopped actor's entry stays until the next refill prunes it).
fn live_entry(directory: &Directory, event_id: i64) -> Option<ActorEntry> {
    let directory = directory.read();
    let entry = directory.get(&event_id)?;
    entry.addr.connected().then(|| entry.clone())
}

/// Holds one of an event's request slots until the answer arrives.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(counter: &Arc<AtomicUsize>, capacity: usize) -> Option<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Ids recently found to have no event. A request for a made-up id costs
/// one indexed lookup (an actor's load) and then, for `MISSING_FOR`, none:
/// no actor, no query. Bounded: when full, entries past their time go, and
/// if none has, the id is simply not remembered.
#[derive(Clone, Default)]
pub struct MissingIds(Arc<parking_lot::Mutex<HashMap<i64, Instant>>>);

const MISSING_FOR: Duration = Duration::from_secs(5);
const MISSING_MAX: usize = 100_000;

impl MissingIds {
    pub fn remember(&self, event_id: i64) {
        let mut ids = self.0.lock();
        if ids.len() >= MISSING_MAX {
            ids.retain(|_, at| at.elapsed() < MISSING_FOR);
            if ids.len() >= MISSING_MAX {
                return;
            }
        }
        ids.insert(event_id, Instant::now());
    }

    pub fn contains(&self, event_id: i64) -> bool {
        self.0
            .lock()
            .get(&event_id)
            .is_some_and(|at| at.elapsed() < MISSING_FOR)
    }

    /// An event created here with an id a client guessed a moment ago.
    pub fn forget(&self, event_id: i64) {
        self.0.lock().remove(&event_id);
    }
}

#[derive(Clone)]
pub struct ActorSettings {
    pub mailbox_capacity: usize,
    pub idle_timeout: Duration,
    /// Dedicated actor threads; 0 puts the actors on the HTTP workers.
    pub arbiters: usize,
    /// Draws written at the same time (each holds a database connection).
    pub concurrent_draws: usize,
    /// Live actors started on request; beyond it requests for events not
    /// live get 503 (due draws start regardless).
    pub max_live: usize,
    /// The outbox's doorbell when notices are on: a draw or cancel writes
    /// its notices in its transaction, then rings.
    pub notices: NoticeBell,
}

pub struct EventRegistry {
    db: Db,
    missing: MissingIds,
    /// Actors started so far (each one load of its event).
    starts: Arc<AtomicU64>,
    draw_permits: Arc<Semaphore>,
    settings: ActorSettings,
    directory: Directory,
    arbiters: Vec<Arbiter>,
    hosts: Hosts,
    next_arbiter: usize,
    timers: BinaryHeap<Reverse<(DateTime<Utc>, i64)>>,
    scheduled: HashSet<i64>,
    /// Shutting down: no draw is started (the next start's recovery draws
    /// what came due meanwhile).
    draining: bool,
    placement: Placement,
}

/// The actor of an event a request names, started if need be (within the
/// live-actor cap), under the token this instance claimed it with.
#[derive(Message)]
#[rtype(result = "AppResult<ActorEntry>")]
struct Ensure(i64, Option<Token>);

/// Cluster mode: a due event this instance has just claimed.
#[derive(Message)]
#[rtype(result = "()")]
struct DrawClaimed(i64, Option<Token>);

/// Cluster mode: this instance's lease was lost; every actor stops.
#[derive(Message)]
#[rtype(result = "()")]
struct RelinquishAll;

/// Cluster mode: another instance left; its due draws need an owner now,
/// not at the next refill.
#[derive(Message)]
#[rtype(result = "()")]
struct RefillNow;

/// A new event: draw it at `draw_at`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Schedule {
    pub event_id: i64,
    pub draw_at: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Refilled(Vec<(i64, DateTime<Utc>)>);

/// The start of a graceful shutdown: no more draws are started; answers
/// the live actors, whose work in flight shutdown waits for.
#[derive(Message)]
#[rtype(result = "Vec<Addr<EventActor>>")]
struct Drain;

/// Stops every event actor and its threads (for shutdown and tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl EventRegistry {
    /// The event's actor for a request: none is started beyond the cap.
    fn ensure_for_request(&mut self, event_id: i64, token: Option<Token>) -> AppResult<ActorEntry> {
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
                metrics::counter!("lottery_event_actor_cap_refusals_total").increment(1);
                return Err(AppError::Unavailable(
                    "too many events are active at once; try again".into(),
                ));
            }
        }
        Ok(self.ensure(event_id, token))
    }

    fn live_entry(&self, event_id: i64) -> Option<ActorEntry> {
        live_entry(&self.directory, event_id)
    }

    /// The event's actor, started if need be: due draws come here directly
    /// and never wait on the cap. An actor under an older claim of this
    /// instance (a lease lost and regained) gives way to a new one.
    fn ensure(&mut self, event_id: i64, token: Option<Token>) -> ActorEntry {
        if let Some(entry) = self.live_entry(event_id) {
            if entry.token == token {
                return entry;
            }
            entry.addr.do_send(Relinquish);
        }
        let arbiter = self.pick_arbiter();
        let db = self.db.clone();
        let idle_timeout = self.settings.idle_timeout;
        let permits = self.draw_permits.clone();
        let page = Arc::new(LivePage::default());
        let shared = page.clone();
        let missing = self.missing.clone();
        let notices = self.settings.notices.clone();
        let placement = self.placement.clone();
        let addr = EventActor::start_in_arbiter(&arbiter, move |_| {
            EventActor::new(
                event_id,
                token,
                placement,
                db,
                permits,
                idle_timeout,
                shared,
                missing,
                notices,
            )
        });
        let entry = ActorEntry {
            addr,
            in_flight: Arc::default(),
            page,
            token,
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

    fn push_timer(&mut self, event_id: i64, draw_at: DateTime<Utc>) {
        if draw_at <= Utc::now() + HORIZON && self.scheduled.insert(event_id) {
            self.timers.push(Reverse((draw_at, event_id)));
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.draining {
            return;
        }
        let now = Utc::now();
        for _ in 0..STARTS_PER_TICK {
            let Some(Reverse((at, _))) = self.timers.peek() else {
                break;
            };
            if *at > now {
                break;
            }
            let Some(Reverse((_, event_id))) = self.timers.pop() else {
                break;
            };
            self.scheduled.remove(&event_id);
            if self.placement.is_clustered() {
                self.claim_due(event_id, ctx);
            } else {
                self.ensure(event_id, None).addr.do_send(DrawDue);
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
            entry.addr.do_send(DrawDue);
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

    fn refill(&mut self, ctx: &mut Context<Self>) {
        self.directory
            .write()
            .retain(|_, entry| entry.addr.connected());
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
        self.ensure_for_request(msg.0, msg.1)
    }
}

impl Handler<DrawClaimed> for EventRegistry {
    type Result = ();

    fn handle(&mut self, DrawClaimed(event_id, token): DrawClaimed, _: &mut Context<Self>) {
        if !self.draining && self.placement.holds(event_id, token) {
            self.ensure(event_id, token).addr.do_send(DrawDue);
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

/// The HTTP side's handle on the actors: a fast path through the shared
/// directory, the registry for everything else.
#[derive(Clone)]
pub struct Events {
    directory: Directory,
    missing: MissingIds,
    starts: Arc<AtomicU64>,
    hosts: Hosts,
    registry: Addr<EventRegistry>,
    capacity: usize,
    placement: Placement,
}

/// Cluster mode: passes the membership's signals on to the registry.
fn follow_the_cluster(
    mut signals: tokio::sync::watch::Receiver<crate::cluster::Signals>,
    registry: Addr<EventRegistry>,
) {
    actix::spawn(async move {
        let mut seen = *signals.borrow_and_update();
        while signals.changed().await.is_ok() {
            let now = *signals.borrow_and_update();
            if now.lost != seen.lost {
                registry.do_send(RelinquishAll);
            }
            if now.departures != seen.departures {
                registry.do_send(RefillNow);
            }
            seen = now;
        }
    });
}

impl Events {
    pub fn start(db: Db, settings: ActorSettings, placement: Placement) -> Self {
        let directory: Directory = Arc::default();
        let missing = MissingIds::default();
        let starts: Arc<AtomicU64> = Arc::default();
        let hosts: Hosts = Arc::default();
        let capacity = settings.mailbox_capacity.max(1);
        let arbiters = (0..settings.arbiters).map(|_| Arbiter::new()).collect();
        let registry = EventRegistry {
            missing: missing.clone(),
            starts: starts.clone(),
            draw_permits: Arc::new(Semaphore::new(settings.concurrent_draws.max(1))),
            db,
            settings,
            directory: directory.clone(),
            arbiters,
            hosts: hosts.clone(),
            next_arbiter: 0,
            timers: BinaryHeap::new(),
            scheduled: HashSet::new(),
            draining: false,
            placement: placement.clone(),
        }
        .start();
        if let Some(signals) = placement.signals() {
            follow_the_cluster(signals, registry.clone());
        }
        Self {
            directory,
            missing,
            starts,
            hosts,
            registry,
            capacity,
            placement,
        }
    }

    /// Offers the calling thread's event loop (an HTTP worker's) to host
    /// event actors.
    pub fn host_on_this_thread(&self) {
        self.hosts.lock().push(Arbiter::current());
    }

    async fn actor(&self, event_id: i64) -> AppResult<ActorEntry> {
        if let Some(entry) = live_entry(&self.directory, event_id) {
            return Ok(entry);
        }
        if self.missing.contains(event_id) {
            return Err(AppError::event_not_found());
        }
        let token = match self.placement.route(event_id).await? {
            Route::Here(token) => token,
            // Writes were forwarded before they got here (`api::forward`);
            // this is a view, which reads the database instead, or a
            // write that raced a change of owner.
            Route::There(_) => {
                return Err(AppError::Unavailable(
                    "the event is served by another server; try again".into(),
                ))
            }
        };
        self.registry
            .send(Ensure(event_id, token))
            .await
            .map_err(|_| AppError::Unavailable("the event registry is not running".into()))?
    }

    /// Where requests for the event are served: here when an actor here
    /// holds it (no lookup at all) or this instance owns or just claimed
    /// it, else at its owner's URL.
    pub async fn route(&self, event_id: i64) -> AppResult<Route> {
        if let Some(entry) = live_entry(&self.directory, event_id) {
            return Ok(Route::Here(entry.token));
        }
        self.placement.route(event_id).await
    }

    /// The ids recently found to have no event (shared with the views).
    pub fn missing(&self) -> &MissingIds {
        &self.missing
    }

    /// Event actors started in this process so far: each is one load of
    /// its event from the database.
    pub fn actor_starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    /// The page of an event that is not live here yet: its actor is
    /// started (within the cap) and loads it once, however many views wait
    /// on that load meanwhile. Err when the event is not live (no such
    /// event, finished) or no actor can be started now.
    pub async fn warm_page(&self, event_id: i64) -> AppResult<Arc<LivePage>> {
        self.ask(event_id, |reply| Peek { reply }).await?;
        self.live_page(event_id)
            .ok_or_else(|| AppError::Unavailable("the event is not live here".into()))
    }

    /// Event actors alive in this process.
    pub fn live_actors(&self) -> usize {
        self.directory
            .read()
            .values()
            .filter(|entry| entry.addr.connected())
            .count()
    }

    /// Sends a message to the event's actor and waits for the answer. An
    /// event already holding `capacity` requests answers 503 at once.
    pub async fn ask<M, T, F>(&self, event_id: i64, make: F) -> AppResult<T>
    where
        M: Request + Send + 'static,
        EventActor: Handler<Timed<M>>,
        F: Fn(tokio::sync::oneshot::Sender<AppResult<T>>) -> M,
    {
        // One retry: an idle actor may stop between lookup and send.
        for _ in 0..2 {
            let entry = self.actor(event_id).await?;
            let Some(_slot) = Slot::take(&entry.in_flight, self.capacity) else {
                metrics::counter!("lottery_event_mailbox_full_total").increment(1);
                return Err(AppError::event_busy());
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            match entry.addr.try_send(Timed::now(make(tx))) {
                Ok(()) => {
                    return rx.await.unwrap_or_else(|_| {
                        Err(AppError::event_unavailable())
                    })
                }
                Err(SendError::Full(_)) => {
                    return Err(AppError::event_busy());
                }
                Err(SendError::Closed(_)) => continue,
            }
        }
        Err(AppError::event_unavailable())
    }

    /// The committed participant count of an event live in this process:
    /// fresher than the event row, which the actor updates about once a
    /// second. None when no actor here holds the event.
    pub fn committed_count(&self, event_id: i64) -> Option<i32> {
        self.live_page(event_id)?.count()
    }

    /// The page of an event live in this process, which its views read
    /// instead of the database.
    pub fn live_page(&self, event_id: i64) -> Option<Arc<LivePage>> {
        live_entry(&self.directory, event_id).map(|entry| entry.page)
    }

    pub fn schedule(&self, event_id: i64, draw_at: DateTime<Utc>) {
        self.missing.forget(event_id);
        self.registry.do_send(Schedule { event_id, draw_at });
    }

    /// Graceful shutdown's first step: no draw is started any more, and
    /// every live actor finishes what it has in flight (batches commit, a
    /// running draw or cancel completes). True when all settled within
    /// `within`; false leaves the rest to the next start's recovery.
    pub async fn drain(&self, within: Duration) -> bool {
        let Ok(actors) = self.registry.send(Drain).await else {
            return true;
        };
        let deadline = Instant::now() + within;
        loop {
            let answers =
                futures::future::join_all(actors.iter().map(|actor| actor.send(Settled))).await;
            // A stopped actor (Err) has nothing in flight either.
            if answers.iter().all(|settled| !matches!(settled, Ok(false))) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn shutdown(&self) {
        self.registry.do_send(Shutdown);
    }
}
