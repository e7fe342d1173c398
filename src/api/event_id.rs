//! The event id of a path, read by one rule wherever it is read: by the
//! handlers (a bad one is 40000), by the forwarder (which event's owner a
//! write goes to) and for the request's log field.

use actix_web::web;

use crate::error::{AppError, AppResult};

/// The `{id}` segment: a positive whole number as `i64::from_str` reads
/// it. So a leading `+` and leading zeros pass (`+5` and `05` are event 5):
/// the handlers always accepted them, and a client's request keeps its
/// meaning.
pub fn parse(segment: &str) -> Option<i64> {
    segment.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The event id of an event's path (`/api/v1/events/{id}/…`).
pub fn in_path(path: &str) -> Option<i64> {
    parse(path.strip_prefix("/api/v1/events/")?.split('/').next()?)
}

/// The `{id}` of an event route, or 40000.
pub fn from_route(segment: web::Path<String>) -> AppResult<i64> {
    parse(&segment).ok_or_else(|| {
        AppError::InvalidArgument("the event id must be a positive whole number".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_positive_whole_numbers() {
        assert_eq!(parse("42"), Some(42));
        assert_eq!(parse("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse("01"), Some(1));
        assert_eq!(parse("+5"), Some(5));
        for bad in [
            "0",
            "-1",
            "9223372036854775808",
            "",
            "x",
            "4a",
            " 5",
            "5 ",
            "1.0",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_event_id_of_a_path_is_its_events_segment() {
        assert_eq!(in_path("/api/v1/events/42/participants/me"), Some(42));
        assert_eq!(in_path("/api/v1/events/42"), Some(42));
        assert_eq!(in_path("/api/v1/events/42/"), Some(42));
        assert_eq!(in_path("/api/v1/events"), None);
        assert_eq!(in_path("/api/v1/events/"), None);
        assert_eq!(in_path("/api/v1/events/x"), None);
        assert_eq!(in_path("/api/v1/events/0/draw"), None);
        assert_eq!(in_path("/api/v1/me/events/42"), None);
    }
}
