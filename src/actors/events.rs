//! The HTTP side's handle on the actors: a fast path through the shared
//! directory, the registry for everything else. A request for a live event
//! takes one of its slots and goes straight to its actor.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::directory::{live_entry, ActorEntry, Directory};
use super::event::EventActor;
use super::live_page::LivePage;
use super::messages::{Peek, Request, Settled, Timed};
use super::missing_ids::MissingIds;
use super::registry::{
    ActorSettings, Drain, Ensure, EventRegistry, Hosts, Purpose, RefillNow, RelinquishAll,
    Schedule, Shutdown,
};
use super::slot::Slot;
use crate::cluster::{Placement, Route};
use crate::domain::count::ParticipantCount;
use crate::error::{AppError, AppResult};
use crate::store::Db;

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
        let registry = EventRegistry::new(
            db,
            settings,
            placement.clone(),
            directory.clone(),
            missing.clone(),
            starts.clone(),
            hosts.clone(),
        )
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

    async fn actor(&self, event_id: i64, purpose: Purpose) -> AppResult<ActorEntry> {
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
            .send(Ensure(event_id, token, purpose))
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
    /// started (within the cap, and evicted again when a write needs its
    /// slot: see `Writes`) and loads it once, however many views wait on
    /// that load meanwhile. Err when the event is not live (no such event,
    /// finished) or no actor can be started now.
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
        let purpose = if M::WRITES {
            Purpose::Write
        } else {
            Purpose::View
        };
        // One retry: an idle actor may stop (or be evicted) between lookup
        // and send.
        for _ in 0..2 {
            let entry = self.actor(event_id, purpose).await?;
            if M::WRITES && !entry.writes.admit() {
                continue;
            }
            let Some(_slot) = Slot::take(&entry.in_flight, self.capacity) else {
                metrics::counter!("lottery_event_mailbox_full_total").increment(1);
                return Err(AppError::event_busy());
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            match entry.addr.try_send(Timed::now(make(tx))) {
                Ok(()) => {
                    return rx
                        .await
                        .unwrap_or_else(|_| Err(AppError::event_unavailable()))
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
    pub fn committed_count(&self, event_id: i64) -> Option<ParticipantCount> {
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
