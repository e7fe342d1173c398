//! Drawn and cancelled events never change again: the first view of one
//! reads it (the event, its prizes, its participants and its winners) and
//! later views are answered from memory, `me` included. Bounded by an
//! estimate of each entry's bytes (quick_cache, which evicts by CLOCK-Pro:
//! recently and often read events stay).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::web::Bytes;
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::cache::answers::{Answer, Answers, Seen};
use crate::error::AppResult;
use crate::store::events::{EventRecord, ViewerState};

pub struct FinishedEvent {
    pub record: EventRecord,
    /// Ascending user ids.
    pub participants: Vec<i64>,
    /// Winner → (prize id, prize name).
    pub winners: HashMap<i64, (i64, String)>,
    /// Serialized answers by kind of viewer (`body`); a finished event
    /// has one version.
    answers: Answers<()>,
}

impl FinishedEvent {
    pub fn new(
        record: EventRecord,
        participants: Vec<i64>,
        winners: HashMap<i64, (i64, String)>,
    ) -> Self {
        Self {
            record,
            participants,
            winners,
            answers: Answers::default(),
        }
    }

    /// The event as `viewer` sees it.
    pub fn view(&self, viewer: Option<i64>) -> (EventRecord, Option<ViewerState>) {
        let id = self.record.event.id;
        let viewer = viewer.map(|user_id| ViewerState {
            joined: if self.participants.binary_search(&user_id).is_ok() {
                HashSet::from([id])
            } else {
                HashSet::new()
            },
            prizes: self
                .winners
                .get(&user_id)
                .map(|prize| HashMap::from([(id, prize.clone())]))
                .unwrap_or_default(),
        });
        (self.record.clone(), viewer)
    }

    /// The serialized answer for `viewer` with its entity tag (a finished
    /// page changes no more), built once per kind of viewer with `build`
    /// (given what `view` gives).
    pub fn body(
        &self,
        viewer: Option<i64>,
        build: impl FnOnce(EventRecord, Option<ViewerState>) -> Bytes,
    ) -> Answer {
        let seen = match viewer {
            None => Seen::Anonymous,
            Some(user_id) => match self.winners.get(&user_id) {
                Some((prize_id, _)) => Seen::Winner(*prize_id),
                None if self.participants.binary_search(&user_id).is_ok() => Seen::Participant,
                None => Seen::Outsider,
            },
        };
        self.answers.get_or_build((), seen, || {
            let (record, me) = self.view(viewer);
            Answer::tagged(build(record, me))
        })
    }

    /// Roughly the bytes it holds (the serialized answers not counted:
    /// at most a few KB each, built only for kinds of viewers seen).
    fn weight(&self) -> u64 {
        let e = &self.record.event;
        let text = e.title.len() + e.description.len() + e.seed_hash.len();
        let prizes: usize = self.record.prizes.iter().map(|p| 64 + p.name.len()).sum();
        let winners: usize = self.winners.values().map(|(_, name)| 48 + name.len()).sum();
        (512 + text + prizes + winners + 8 * self.participants.len()) as u64
    }
}

#[derive(Clone)]
struct BySize;

impl Weighter<i64, Arc<FinishedEvent>> for BySize {
    fn weight(&self, _: &i64, event: &Arc<FinishedEvent>) -> u64 {
        event.weight()
    }
}

pub struct FinishedEvents {
    cache: Cache<i64, Arc<FinishedEvent>, BySize>,
    /// Finished events read from the database, by a build of this cache or
    /// by a view that found none here (what a hot event's draw instant
    /// must not multiply).
    database_reads: AtomicU64,
}

impl FinishedEvents {
    pub fn new(capacity_bytes: u64) -> Self {
        let estimated_items = (capacity_bytes / 4096).clamp(16, 1 << 20) as usize;
        Self {
            cache: Cache::with_weighter(estimated_items, capacity_bytes, BySize),
            database_reads: AtomicU64::new(0),
        }
    }

    /// A finished event was read from the database.
    pub fn read_from_database(&self) {
        self.database_reads.fetch_add(1, Ordering::Relaxed);
    }

    pub fn database_reads(&self) -> u64 {
        self.database_reads.load(Ordering::Relaxed)
    }

    pub fn get(&self, event_id: i64) -> Option<Arc<FinishedEvent>> {
        self.cache.get(&event_id)
    }

    /// The cached event, or `build`'s, kept; concurrent callers share one
    /// build. `build` must only be given for a drawn or cancelled event.
    pub async fn get_or_build(
        &self,
        event_id: i64,
        build: impl Future<Output = AppResult<FinishedEvent>>,
    ) -> AppResult<Arc<FinishedEvent>> {
        self.cache
            .get_or_insert_async(&event_id, async { build.await.map(Arc::new) })
            .await
    }

    /// Drops a cached event (its creator renamed themselves).
    pub fn forget(&self, event_id: i64) {
        self.cache.remove(&event_id);
    }

    /// Drops every cached event (`cache::changes`).
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// The bytes held now (at most the capacity).
    pub fn weight(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::claim::ClaimMode;
    use crate::domain::count::ParticipantCount;
    use crate::domain::event::{DrawMode, EventStatus};
    use crate::store::models::EventRow;

    fn finished(id: i64, participants: usize) -> FinishedEvent {
        let t = chrono::NaiveDateTime::default();
        FinishedEvent::new(
            EventRecord {
                event: EventRow {
                    id,
                    creator_id: 1,
                    title: "t".into(),
                    description: String::new(),
                    status: EventStatus::Drawn,
                    draw_mode: DrawMode::AtTime,
                    draw_at: t,
                    max_participants: None,
                    participant_count: ParticipantCount::of(participants),
                    seed: vec![0; 32],
                    seed_hash: "h".repeat(64),
                    created_at: t,
                    drawn_at: Some(t),
                    cancelled_at: None,
                    claim_days: 7,
                    claim_mode: ClaimMode::Address,
                    cancel_reason: None,
                    join_password: None,
                    group_only: false,
                    risk_check: false,
                    min_participants: None,
                    cover_id: None,
                    beacon_chain: None,
                    beacon_round: None,
                    participants_hash: None,
                    beacon_fixed_at: None,
                    beacon_signature: None,
                },
                creator_nickname: None,
                prizes: vec![],
                images: vec![],
            },
            (1..=participants as i64).collect(),
            HashMap::from([(2, (7, "Gold".to_string()))]),
        )
    }

    #[tokio::test]
    async fn the_cache_keeps_to_its_bound() {
        let cache = FinishedEvents::new(64 * 1024);
        for id in 0..500 {
            // Each about 1.3 KB: 500 of them are ten times the bound.
            let built = cache
                .get_or_build(id, async move { Ok(finished(id, 100)) })
                .await
                .unwrap();
            assert_eq!(built.record.event.id, id);
            assert!(cache.weight() <= 64 * 1024, "{}", cache.weight());
        }
        let kept = (0..500).filter(|id| cache.get(*id).is_some()).count();
        assert!((10..100).contains(&kept), "{kept} kept");
    }

    #[test]
    fn me_comes_from_the_participants_and_winners() {
        let event = finished(5, 10);
        let (_, me) = event.view(Some(2));
        let me = me.unwrap();
        assert!(me.joined.contains(&5));
        assert_eq!(me.prizes[&5], (7, "Gold".to_string()));
        let (_, stranger) = event.view(Some(99));
        let stranger = stranger.unwrap();
        assert!(stranger.joined.is_empty() && stranger.prizes.is_empty());
        assert!(event.view(None).1.is_none());
    }
}
