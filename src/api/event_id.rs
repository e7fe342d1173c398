//! The event id of a path, read by one rule wherever it is read: by the
//! handlers (a bad one is 40000), by the forwarder (which event's owner a
//! write goes to) and for the request's log field.

use actix_web::web;

use crate::error::{AppError, AppResult};

/// The `{id}` segment: a positive whole number in its one canonical form,
/// decimal digits without a sign or a leading zero. `+5`, `05` or `%35`
/// once named event 5 too, and the cluster's forwarder (which reads the
/// raw path) did not recognise all of them: one spelling per event keeps
/// every layer, cache and log line agreeing on which event a path names.
pub fn parse(segment: &str) -> Option<i64> {
    let canonical = !segment.is_empty()
        && !segment.starts_with('0')
        && segment.bytes().all(|b| b.is_ascii_digit());
    if !canonical {
        return None;
    }
    segment.parse::<i64>().ok()
}

/// Whether `path` is under `/api/v1/events/` with a number in another
/// spelling than the canonical one (`+5`, `05`, `%35`, `%2B5`): refused
/// 40000 before routing (`api::middleware`), where the path is still as the
/// client sent it (the router decodes `%35` to `5`). What is not a number
/// at all (`abc`) is left to the router: 40000 from a handler, or 404 where
/// no route takes the method.
pub fn malformed_in(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/events/") else {
        return false;
    };
    let segment = rest.split('/').next().unwrap_or_default();
    if segment.is_empty() || parse(segment).is_some() {
        return false;
    }
    let decoded = percent_decoded(segment);
    let digits = decoded.strip_prefix(['+', '-']).unwrap_or(&decoded);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `%XX` sequences decoded (others kept as they are): enough to see the
/// number a segment spells.
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The event id of an event's path (`/api/v1/events/{id}/…`).
pub fn in_path(path: &str) -> Option<i64> {
    parse(path.strip_prefix("/api/v1/events/")?.split('/').next()?)
}

/// The `{id}` of an event route, or 40000.
pub fn from_route(segment: web::Path<String>) -> AppResult<i64> {
    parse(&segment).ok_or_else(invalid)
}

/// The 40000 of a path whose id is not an event id.
pub fn invalid() -> AppError {
    AppError::InvalidArgument(
        "the event id must be a positive whole number, written in decimal digits \
         without a sign or leading zeros"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_positive_whole_numbers() {
        assert_eq!(parse("42"), Some(42));
        assert_eq!(parse("9223372036854775807"), Some(i64::MAX));
        for bad in [
            "01",
            "+5",
            "%35",
            "%2B5",
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

    #[test]
    fn only_canonical_ids_pass_the_gate() {
        for bad in [
            "/api/v1/events/+1",
            "/api/v1/events/01/draw",
            "/api/v1/events/%31",
            "/api/v1/events/%2B1",
            "/api/v1/events/-1",
            "/api/v1/events/0",
        ] {
            assert!(malformed_in(bad), "{bad}");
        }
        for fine in [
            "/api/v1/events",
            "/api/v1/events/",
            "/api/v1/events/1",
            "/api/v1/events/10/participants/me",
            "/api/v1/me/events",
            "/api/v1/events/abc",
        ] {
            assert!(!malformed_in(fine), "{fine}");
        }
    }
}
