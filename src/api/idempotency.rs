//! `Idempotency-Key` on `POST /api/v1/events`: a client that lost the
//! answer to a timeout retries with the same key and body and gets the
//! event the first request made, not a second one (docs/API-NOTES.md,
//! "Retrying a creation"). The rules are `domain::idempotency`'s, the rows
//! `store::idempotency`'s; this is the order of the steps.

use actix_web::{web, HttpRequest};
use chrono::Utc;
use rand::Rng;

use crate::api::state::AppState;
use crate::domain::idempotency::{self, Retry};
use crate::error::{AppError, AppResult};
use crate::pii::request_digest;
use crate::store;

pub const HEADER: &str = "idempotency-key";

/// A key this request holds until its event is made (or it lets go).
pub struct Held {
    pub key: String,
    pub attempt: i64,
}

pub enum Reserved {
    Held(Held),
    /// The key's event, made by an earlier request with the same body.
    Made(i64),
}

/// The request's key, checked; None without the header.
pub fn key_of(req: &HttpRequest) -> AppResult<Option<String>> {
    let mut values = req.headers().get_all(HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AppError::InvalidArgument(
            "send one Idempotency-Key header, not several".into(),
        ));
    }
    idempotency::check_key(value.as_bytes()).map(|key| Some(key.to_string()))
}

/// Takes `key` for this request, or finds what an earlier request with it
/// made; 409 when its body differs or it is still being handled.
pub async fn reserve(
    state: &AppState,
    user_id: i64,
    key: String,
    body: &[u8],
) -> AppResult<Reserved> {
    let digest = request_digest::digest(&state.pii, body);
    // A lost race (another request inserted or took over first) reads the
    // row again; twice is enough for any interleaving of two requests.
    for _ in 0..3 {
        let now = Utc::now();
        let replacing = match store::idempotency::get(&state.db, user_id, &key).await? {
            None => None,
            Some((found, stored)) => {
                let same = request_digest::matches(&state.pii, &stored, body);
                match idempotency::decide(&found, same, now) {
                    Retry::Answer(event_id) => return Ok(Reserved::Made(event_id)),
                    Retry::Refuse(err) => return Err(err),
                    Retry::TakeOver(row) => Some(row),
                }
            }
        };
        let attempt = rand::rng().random::<i64>();
        if store::idempotency::take(&state.db, user_id, &key, &digest, attempt, replacing, now)
            .await?
        {
            return Ok(Reserved::Held(Held { key, attempt }));
        }
    }
    Err(idempotency::in_progress())
}

/// The event an earlier request with this key and this body made, if
/// any (read only: the request is answered with it before any check).
pub async fn made_by(
    state: &AppState,
    user_id: i64,
    key: &str,
    body: &[u8],
) -> AppResult<Option<i64>> {
    let Some((found, stored)) = store::idempotency::get(&state.db, user_id, key).await? else {
        return Ok(None);
    };
    let same = request_digest::matches(&state.pii, &stored, body);
    Ok(match idempotency::decide(&found, same, Utc::now()) {
        Retry::Answer(event_id) => Some(event_id),
        Retry::Refuse(_) | Retry::TakeOver(_) => None,
    })
}

/// A held key, let go unless its creation succeeded: at once when it
/// failed (`settle`), or, when the request is dropped before it settles
/// (the client went away), by a task the drop spawns.
pub struct Guard {
    state: web::Data<AppState>,
    user_id: i64,
    pub held: Held,
    armed: bool,
}

impl Guard {
    pub fn new(state: web::Data<AppState>, user_id: i64, held: Held) -> Self {
        Self {
            state,
            user_id,
            held,
            armed: true,
        }
    }

    /// The creation ended: a failed one releases the key before the
    /// answer, so the client's retry starts afresh.
    pub async fn settle(mut self, made: bool) {
        self.armed = false;
        if !made {
            release(&self.state, self.user_id, &self.held).await;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.armed {
            let (state, user_id) = (self.state.clone(), self.user_id);
            let held = Held {
                key: std::mem::take(&mut self.held.key),
                attempt: self.held.attempt,
            };
            actix_web::rt::spawn(async move { release(&state, user_id, &held).await });
        }
    }
}

/// Lets a key go after its creation failed, so that a retry starts afresh
/// (a key left held is taken over once abandoned).
pub async fn release(state: &AppState, user_id: i64, held: &Held) {
    if let Err(err) = store::idempotency::release(&state.db, user_id, &held.key, held.attempt).await
    {
        tracing::warn!(error = %err, "an Idempotency-Key was not released; it frees itself later");
    }
}
