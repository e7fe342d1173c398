//! The event read path: one event's page and lists of events, answered
//! from memory where it can be. A live event's page is what its actor
//! publishes (`LivePage`), a drawn or cancelled one's is the finished-events
//! cache, and both keep their serialized answers per kind of viewer
//! (`cache::answers`). The database answers the rest. The viewer's `me`
//! comes from the same place as the page.

use crate::api::state::AppState;
use crate::api::views::EventView;
use crate::cache::answers::Answer;
use crate::cache::finished::FinishedEvent;
use crate::cache::results::Published;
use crate::domain::draw;
use crate::error::{AppError, AppResult};
use crate::store;
use crate::store::events::{EventRecord, Selection, ViewerState};

fn counted(source: &'static str) {
    metrics::counter!("lottery_event_views_total", "source" => source).increment(1);
}

/// A live event's actor knows its count before the row does (it writes the
/// row about once a second): a record read from the database shows the
/// actor's count when the event is live here.
fn with_live_count(state: &AppState, record: &mut EventRecord) {
    if record.event.status.is_live() {
        if let Some(count) = state.events.committed_count(record.event.id) {
            record.event.participant_count = count;
        }
    }
}

/// Full views of the selected events, with `me` filled for the viewer.
pub async fn list(
    state: &AppState,
    selection: Selection,
    viewer: Option<i64>,
) -> AppResult<Vec<EventView>> {
    let (records, viewer_state) = store::events::load(&state.db, selection, viewer).await?;
    Ok(records
        .into_iter()
        .map(|mut record| {
            with_live_count(state, &mut record);
            EventView::new(record, viewer_state.as_ref(), &state.media_urls)
        })
        .collect())
}

/// The serialized answer of a view of an event live here (see
/// `LivePage::body`) or finished and cached (`FinishedEvent::body`): most
/// views of a hot event end here.
#[cfg(not(feature = "mailbox-views"))]
pub fn from_memory(state: &AppState, id: i64, viewer: Option<i64>) -> Option<Answer> {
    let build = |record, me: Option<ViewerState>| {
        crate::api::envelope::ok_body(&EventView::new(record, me.as_ref(), &state.media_urls))
    };
    if let Some(body) = state
        .events
        .live_page(id)
        .and_then(|page| page.body(viewer, build))
    {
        counted("live");
        return Some(body);
    }
    let finished = state.finished.get(id)?;
    counted("finished");
    Some(finished.body(viewer, build))
}

/// With `mailbox-views` every live view takes the round trip in `view`.
#[cfg(feature = "mailbox-views")]
pub fn from_memory(_: &AppState, _: i64, _: Option<i64>) -> Option<Answer> {
    None
}

/// One event's view, from memory where it can be: the live page its actor
/// publishes when the event is live here (a view of an open event that is
/// not starts its actor), the finished-events cache once it is drawn or
/// cancelled (filled by the first view), else the database. An id known to
/// be missing costs no query; one found missing is remembered (see
/// `MissingIds`).
pub async fn view(state: &AppState, id: i64, viewer: Option<i64>) -> AppResult<EventView> {
    let missing = state.events.missing();
    if missing.contains(id) {
        return Err(AppError::event_not_found());
    }
    if let Some((record, me)) = live_view(state, id, viewer).await {
        counted("live");
        return Ok(EventView::new(record, me.as_ref(), &state.media_urls));
    }
    if let Some(finished) = state.finished.get(id) {
        counted("finished");
        return Ok(finished_view(state, &finished, viewer));
    }
    // Drawn or cancelled a moment ago, here: every view of that instant
    // waits for one read of the finished event instead of each reading
    // the database (a hot event's viewers arrive all at once).
    if state
        .events
        .live_page(id)
        .is_some_and(|page| page.is_finished())
    {
        counted("finished");
        let finished = state
            .finished
            .get_or_build(id, finished_from_database(state, id))
            .await?;
        return Ok(finished_view(state, &finished, viewer));
    }
    // Not live here: its actor's one load serves every concurrent viewer
    // and publishes the page for the next ones. A finished event, or no
    // room for another actor, reads the database.
    match state.events.warm_page(id).await {
        Ok(page) => {
            if let Some((record, me)) = page.view(viewer) {
                counted("warmed");
                return Ok(EventView::new(record, me.as_ref(), &state.media_urls));
            }
        }
        Err(AppError::NotFound(_)) => return Err(AppError::event_not_found()),
        Err(_) => {}
    }
    stored_view(state, id, viewer).await
}

/// A live event's view from the page its actor publishes: no message, no
/// query.
#[cfg(not(feature = "mailbox-views"))]
async fn live_view(
    state: &AppState,
    id: i64,
    viewer: Option<i64>,
) -> Option<(EventRecord, Option<ViewerState>)> {
    state.events.live_page(id).and_then(|p| p.view(viewer))
}

/// The alternative issue 9 asked to measure, kept so the comparison can be
/// re-run (`load-tests/views.sh`, docs/BENCHMARKS.md): every view of an
/// event live here is a round trip through its actor's mailbox (the actor
/// answers a `Peek`, then the view is built from its page, as the actor
/// would build it). Not for production: it queues views behind joins.
#[cfg(feature = "mailbox-views")]
async fn live_view(
    state: &AppState,
    id: i64,
    viewer: Option<i64>,
) -> Option<(EventRecord, Option<ViewerState>)> {
    state.events.live_page(id)?;
    state.events.warm_page(id).await.ok()?.view(viewer)
}

/// One event's view from the database (and, once finished, the cache).
/// Creating an event answers with this: creations must not start actors.
pub async fn stored_view(state: &AppState, id: i64, viewer: Option<i64>) -> AppResult<EventView> {
    counted("database");
    let (mut records, me) = store::events::load(&state.db, Selection::One(id), viewer).await?;
    let Some(mut record) = records.pop() else {
        state.events.missing().remember(id);
        return Err(AppError::event_not_found());
    };
    if !record.event.status.is_live() {
        state.finished.read_from_database();
        let finished = state
            .finished
            .get_or_build(id, finished_event(state, record))
            .await?;
        return Ok(finished_view(state, &finished, viewer));
    }
    with_live_count(state, &mut record);
    Ok(EventView::new(record, me.as_ref(), &state.media_urls))
}

fn finished_view(state: &AppState, finished: &FinishedEvent, viewer: Option<i64>) -> EventView {
    let (record, me) = finished.view(viewer);
    EventView::new(record, me.as_ref(), &state.media_urls)
}

/// A finished event read from the database for the cache.
async fn finished_from_database(state: &AppState, id: i64) -> AppResult<FinishedEvent> {
    counted("database");
    state.finished.read_from_database();
    let (mut records, _) = store::events::load(&state.db, Selection::One(id), None).await?;
    let record = records.pop().ok_or_else(AppError::event_not_found)?;
    if record.event.status.is_live() {
        return Err(AppError::internal(format!(
            "event {id} finished here but its row is {}",
            record.event.status.as_str()
        )));
    }
    finished_event(state, record).await
}

/// What the finished-events cache keeps of a drawn or cancelled event.
async fn finished_event(state: &AppState, record: EventRecord) -> AppResult<FinishedEvent> {
    let id = record.event.id;
    let participants = draw::canonical_order(store::participants::user_ids(&state.db, id).await?);
    let winners = store::events::winners(&state.db, id)
        .await?
        .into_iter()
        .map(|w| (w.user_id, (w.prize_id, w.prize_name)))
        .collect();
    Ok(FinishedEvent::new(record, participants, winners))
}

/// Cached pages that show a renamed user's old nickname: live pages of the
/// events they created are updated, first participant pages of the live
/// events they joined move to a new head version, and the cached finished
/// events and winners lists they appear in are dropped. Done before the
/// rename is answered. (This instance's caches only: docs/ARCHITECTURE.md.)
pub async fn forget_nickname(state: &AppState, user_id: i64, nickname: &str) -> AppResult<()> {
    let shown = store::users::shown_in(&state.db, user_id).await?;
    for id in shown.created {
        if let Some(page) = state.events.live_page(id) {
            page.set_creator_nickname(nickname);
        }
        state.finished.forget(id);
    }
    for id in shown.joined {
        if let Some(page) = state.events.live_page(id) {
            page.head_changed();
        }
    }
    for id in shown.won {
        state.results.forget(id, Published::Winners);
    }
    Ok(())
}
