//! What a request with an `Idempotency-Key` already used by its user is
//! told (docs/API-NOTES.md, "Retrying a creation"): the first creation's
//! event when the body is the same and the event was made; 409 when the
//! body differs or the first request is still being handled. A key is
//! kept `KEEP_HOURS`; after that it is a new key. A key whose request
//! made nothing for `ABANDONED_AFTER_SECS` (its server stopped between
//! taking the key and committing) is taken over by the next request with
//! the same body.

use chrono::{DateTime, Duration, Utc};

use crate::error::AppError;

/// How long a key answers with its event.
pub const KEEP_HOURS: i64 = 24;

/// A creation takes at most WeChat's content check (seconds, by its
/// timeout) and one transaction: a key still without its event after
/// this was abandoned.
pub const ABANDONED_AFTER_SECS: i64 = 60;

/// The longest key accepted (the IETF draft's keys are UUIDs; Stripe's
/// limit is 255).
pub const MAX_KEY_BYTES: usize = 255;

/// A key's row as a later request finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyState {
    /// The attempt holding the key (random).
    pub attempt: i64,
    /// The event made under it; None while it is being made.
    pub event_id: Option<i64>,
    /// When the key was taken.
    pub since: DateTime<Utc>,
}

#[derive(Debug)]
pub enum Retry {
    /// Answer with this event, as the first request was answered.
    Answer(i64),
    /// Refuse (409 40901); nothing is created.
    Refuse(AppError),
    /// The key is free again: take it over from the row as read.
    TakeOver(KeyState),
}

/// What a request whose body is (`same_body`) or is not the key's gets.
pub fn decide(key: &KeyState, same_body: bool, now: DateTime<Utc>) -> Retry {
    let age = now - key.since;
    if age >= Duration::hours(KEEP_HOURS) {
        return Retry::TakeOver(*key);
    }
    if !same_body {
        return Retry::Refuse(AppError::InvalidState(
            "this Idempotency-Key was used with another body; use a new key for another event"
                .into(),
        ));
    }
    match key.event_id {
        Some(id) => Retry::Answer(id),
        None if age >= Duration::seconds(ABANDONED_AFTER_SECS) => Retry::TakeOver(*key),
        None => Retry::Refuse(in_progress()),
    }
}

/// 409 for a request whose key another request holds, still creating.
pub fn in_progress() -> AppError {
    AppError::InvalidState(
        "the first request with this Idempotency-Key is still being handled; retry shortly".into(),
    )
}

/// The header's value, checked: 1 to 255 visible ASCII characters.
pub fn check_key(value: &[u8]) -> Result<&str, AppError> {
    let visible = value.iter().all(|b| (0x21..=0x7e).contains(b));
    if value.is_empty() || value.len() > MAX_KEY_BYTES || !visible {
        return Err(AppError::InvalidArgument(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_BYTES} visible ASCII characters (a UUID is usual)"
        )));
    }
    Ok(std::str::from_utf8(value).expect("ASCII"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(event_id: Option<i64>, age_secs: i64, now: DateTime<Utc>) -> KeyState {
        KeyState {
            attempt: 7,
            event_id,
            since: now - Duration::seconds(age_secs),
        }
    }

    #[test]
    fn a_retry_gets_the_event_a_conflict_or_the_key_back() {
        let now = Utc::now();
        assert!(matches!(
            decide(&key(Some(5), 10, now), true, now),
            Retry::Answer(5)
        ));
        assert!(matches!(
            decide(&key(Some(5), 10, now), false, now),
            Retry::Refuse(AppError::InvalidState(m)) if m.contains("another body")
        ));
        assert!(matches!(
            decide(&key(None, 10, now), true, now),
            Retry::Refuse(AppError::InvalidState(m)) if m.contains("still being handled")
        ));
        assert!(matches!(
            decide(&key(None, ABANDONED_AFTER_SECS, now), false, now),
            Retry::Refuse(_)
        ));
        assert!(matches!(
            decide(&key(None, ABANDONED_AFTER_SECS, now), true, now),
            Retry::TakeOver(KeyState { attempt: 7, .. })
        ));
        let day = KEEP_HOURS * 3600;
        assert!(matches!(
            decide(&key(Some(5), day - 1, now), true, now),
            Retry::Answer(5)
        ));
        assert!(matches!(
            decide(&key(Some(5), day, now), false, now),
            Retry::TakeOver(KeyState { attempt: 7, .. })
        ));
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert_eq!(check_key(b"3f1c-9a").unwrap(), "3f1c-9a");
        assert!(check_key(&[b'k'; MAX_KEY_BYTES]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; MAX_KEY_BYTES + 1],
            b"a b",
            "键".as_bytes(),
            b"a\tb",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
