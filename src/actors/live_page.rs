//! What a live event's actor publishes for the HTTP side: the event as its
//! page shows it, the committed participant count and the committed
//! participants. Views of a live event read it straight from here, with no
//! message to the actor and no query. The actor is the only writer, and it
//! updates the page before it answers the requests of a commit, so a view
//! that follows an acknowledged join shows that join.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::domain::event::EventStatus;
use crate::store::events::{EventRecord, ViewerState};

/// The committed participants (user id → asked for notice), shared by the
/// actor's membership model (which writes it) and the views (which read it).
pub type Committed = Arc<RwLock<HashMap<i64, bool>>>;

/// `count` while no live count is published.
const NO_COUNT: i64 = -1;

pub struct LivePage {
    count: AtomicI64,
    page: RwLock<Option<Page>>,
}

struct Page {
    record: Arc<EventRecord>,
    members: Committed,
}

impl Default for LivePage {
    fn default() -> Self {
        Self {
            count: AtomicI64::new(NO_COUNT),
            page: RwLock::new(None),
        }
    }
}

impl LivePage {
    /// The actor has loaded a live event.
    pub fn publish(&self, record: EventRecord, members: Committed) {
        self.count
            .store(members.read().len() as i64, Ordering::Release);
        *self.page.write() = Some(Page {
            record: Arc::new(record),
            members,
        });
    }

    /// A commit changed the committed count.
    pub fn set_count(&self, count: usize) {
        self.count.store(count as i64, Ordering::Release);
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
                let mut record = (*page.record).clone();
                record.event.status = status;
                page.record = Arc::new(record);
            }
        }
    }

    /// The event is no longer live here (finished, or the actor stopped):
    /// views go back to the database.
    pub fn withdraw(&self) {
        self.count.store(NO_COUNT, Ordering::Release);
        *self.page.write() = None;
    }

    /// The committed participant count, if one is published.
    pub fn count(&self) -> Option<i32> {
        let count = self.count.load(Ordering::Acquire);
        (count != NO_COUNT).then_some(count as i32)
    }

    /// The event as a view shows it, and what `viewer` has to do with it
    /// (a live event has no winners yet); None when nothing is published.
    pub fn view(&self, viewer: Option<i64>) -> Option<(EventRecord, Option<ViewerState>)> {
        let page = self.page.read();
        let page = page.as_ref()?;
        let mut record = (*page.record).clone();
        if let Some(count) = self.count() {
            record.event.participant_count = count;
        }
        let viewer = viewer.map(|user_id| ViewerState {
            joined: if page.members.read().contains_key(&user_id) {
                HashSet::from([record.event.id])
            } else {
                HashSet::new()
            },
            prizes: HashMap::new(),
        });
        Some((record, viewer))
    }
}
