//! What a live event's actor publishes for the HTTP side: the event as its
//! page shows it, the committed participant count and the committed
//! participants. Views of a live event read it straight from here, with no
//! message to the actor and no query. The actor is the only writer, and it
//! updates the page before it answers the requests of a commit, so a view
//! that follows an acknowledged join shows that join.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;

use crate::cache::answers::{Answer, Answers, Seen};
use crate::domain::count::ParticipantCount;
use crate::domain::event::EventStatus;
use crate::domain::membership::Committed;
use crate::store::events::{EventRecord, ViewerState};
use crate::store::models::to_db_time;

/// The committed count as views read it: none while nothing is published.
/// One atomic, so a view never takes a lock for it.
struct PublishedCount(AtomicU64);

impl PublishedCount {
    /// Stored while no count is published (no count reaches it).
    const NONE: u64 = u64::MAX;

    fn set(&self, count: Option<ParticipantCount>) {
        let value = count.map_or(Self::NONE, |c| u64::from(c.get()));
        self.0.store(value, Ordering::Release);
    }

    fn get(&self) -> Option<ParticipantCount> {
        let value = self.0.load(Ordering::Acquire);
        (value != Self::NONE).then(|| ParticipantCount::of(value as usize))
    }
}

/// Rows at the head of the participant list that a cached first page can
/// show: the largest page (100) and the row that says another page exists.
pub const HEAD_ROWS: usize = 101;

/// Versions of list heads, unique across events and actor lifetimes, so a
/// cached first page taken at one version never matches another.
static HEAD_VERSIONS: AtomicU64 = AtomicU64::new(1);

/// `head` while nothing is published.
const NO_HEAD: u64 = 0;

pub struct LivePage {
    count: PublishedCount,
    page: RwLock<Option<Page>>,
    /// Changes whenever a commit may have changed the first `HEAD_ROWS`
    /// participants (a leave, or a join among them).
    head: AtomicU64,
    /// Set when the event was drawn or cancelled here: its views go to the
    /// finished-events cache, whose one build serves them all.
    finished: AtomicBool,
}

struct Page {
    record: Arc<EventRecord>,
    members: Committed,
    /// The answer's bytes for each kind of viewer, built by the first view
    /// after a change (`body`). A view of a live event differs by viewer
    /// only in `me`: none (anonymous), joined, or not joined (a live event
    /// has no winners), so three answers serve every viewer until the
    /// count or the record changes.
    answers: Answers<ParticipantCount>,
}

impl Page {
    /// A changed copy of the record replaces it; the answers built from
    /// the old one are dropped.
    fn change_record(&mut self, change: impl FnOnce(&mut EventRecord)) {
        let mut record = (*self.record).clone();
        change(&mut record);
        self.record = Arc::new(record);
        self.answers.clear();
    }

    fn kind(&self, viewer: Option<i64>) -> Seen {
        match viewer {
            None => Seen::Anonymous,
            Some(user_id) if self.members.read().contains_key(&user_id) => Seen::Participant,
            Some(_) => Seen::Outsider,
        }
    }

    /// The event with the live `count` (when one is published), and the
    /// state of a viewer of this kind (a live event has no winners yet).
    fn view(
        &self,
        count: Option<ParticipantCount>,
        kind: Seen,
    ) -> (EventRecord, Option<ViewerState>) {
        let mut record = (*self.record).clone();
        if let Some(count) = count {
            record.event.participant_count = count;
        }
        let id = record.event.id;
        let state = match kind {
            Seen::Anonymous => None,
            Seen::Participant | Seen::Winner(_) => Some(ViewerState {
                joined: HashSet::from([id]),
                prizes: HashMap::new(),
            }),
            Seen::Outsider => Some(ViewerState::default()),
        };
        (record, state)
    }
}

impl Default for LivePage {
    fn default() -> Self {
        Self {
            count: PublishedCount(AtomicU64::new(PublishedCount::NONE)),
            page: RwLock::new(None),
            head: AtomicU64::new(NO_HEAD),
            finished: AtomicBool::new(false),
        }
    }
}

impl LivePage {
    /// The actor has loaded a live event.
    pub fn publish(&self, record: EventRecord, members: Committed) {
        self.count
            .set(Some(ParticipantCount::of(members.read().len())));
        *self.page.write() = Some(Page {
            record: Arc::new(record),
            members,
            answers: Answers::default(),
        });
        self.head.store(
            HEAD_VERSIONS.fetch_add(1, Ordering::Relaxed),
            Ordering::Release,
        );
    }

    /// A commit may have changed the head of the participant list: first
    /// pages cached at the old version are no longer served. Called after
    /// the commit and before its requests are answered.
    pub fn head_changed(&self) {
        if self.head.load(Ordering::Acquire) != NO_HEAD {
            self.head.store(
                HEAD_VERSIONS.fetch_add(1, Ordering::Relaxed),
                Ordering::Release,
            );
        }
    }

    /// The version of the list's head, while the event is live here. Read
    /// it before reading the participants: a first page read afterwards
    /// holds at least what every commit up to that version stored.
    pub fn head(&self) -> Option<u64> {
        let head = self.head.load(Ordering::Acquire);
        (head != NO_HEAD).then_some(head)
    }

    /// A commit changed the committed count.
    pub fn set_count(&self, count: ParticipantCount) {
        self.count.set(Some(count));
    }

    /// The status a view shows: `drawing` from the instant no join or leave
    /// is accepted (the row says so a moment later), `open` again if a
    /// failed commit undid what filled a `when_full` event.
    pub fn set_status(&self, status: EventStatus) {
        // Called on every step of the actor: a read lock when unchanged.
        let unchanged = self
            .page
            .read()
            .as_ref()
            .is_none_or(|page| page.record.event.status == status);
        if unchanged {
            return;
        }
        if let Some(page) = self.page.write().as_mut() {
            if page.record.event.status != status {
                page.change_record(|record| record.event.status = status);
            }
        }
    }

    /// A beacon draw fixed its list: views show its hash and round from
    /// now on (the contract: from the instant the draw starts).
    pub fn set_beacon(&self, round: u64, participants_hash: &str, fixed_at: DateTime<Utc>) {
        if let Some(page) = self.page.write().as_mut() {
            if page.record.event.participants_hash.as_deref() != Some(participants_hash) {
                page.change_record(|record| {
                    record.event.beacon_round = Some(round as i64);
                    record.event.participants_hash = Some(participants_hash.to_string());
                    record.event.beacon_fixed_at = Some(to_db_time(fixed_at));
                });
            }
        }
    }

    /// WeChat's verdict changed what the event's images show.
    pub fn set_images(&self, images: Vec<crate::store::media::MediaRow>) {
        if let Some(page) = self.page.write().as_mut() {
            page.change_record(|record| record.images = images);
        }
    }

    /// The creator renamed themselves.
    pub fn set_creator_nickname(&self, nickname: &str) {
        if let Some(page) = self.page.write().as_mut() {
            page.change_record(|record| record.creator_nickname = Some(nickname.to_string()));
        }
    }

    /// The event was drawn or cancelled (and the database says so): the
    /// page is withdrawn, and views know to wait for the one build of the
    /// finished event rather than each read the database.
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Release);
        self.withdraw();
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// The event is no longer live here (finished, or the actor stopped):
    /// views go back to the database.
    pub fn withdraw(&self) {
        self.head.store(NO_HEAD, Ordering::Release);
        self.count.set(None);
        *self.page.write() = None;
    }

    /// The committed participant count, if one is published.
    pub fn count(&self) -> Option<ParticipantCount> {
        self.count.get()
    }

    /// The event as a view shows it, and what `viewer` has to do with it
    /// (a live event has no winners yet); None when nothing is published.
    pub fn view(&self, viewer: Option<i64>) -> Option<(EventRecord, Option<ViewerState>)> {
        let page = self.page.read();
        let page = page.as_ref()?;
        Some(page.view(self.count(), page.kind(viewer)))
    }

    /// The serialized answer for `viewer`, built with `build` (from the
    /// same record and viewer state `view` gives) when the count changed
    /// since the last build; None when nothing is published. The count is
    /// read first and the members at the call, so the answer holds every
    /// change the actor published before it.
    pub fn body(
        &self,
        viewer: Option<i64>,
        build: impl FnOnce(EventRecord, Option<ViewerState>) -> Bytes,
    ) -> Option<Answer> {
        let count = self.count()?;
        let page = self.page.read();
        let page = page.as_ref()?;
        let kind = page.kind(viewer);
        Some(page.answers.get_or_build(count, kind, || {
            let (record, state) = page.view(Some(count), kind);
            Answer::plain(build(record, state))
        }))
    }
}
