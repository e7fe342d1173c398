//! Paging: `limit` (1..=100, default 20) and an opaque cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub role: Option<String>,
}

/// One page of a list; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[schema(required)]
    pub next_cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, AppError> {
        match &self.limit {
            None => Ok(20),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => Ok(n),
                _ => Err(AppError::InvalidArgument(
                    "limit must be a whole number from 1 to 100".into(),
                )),
            },
        }
    }

    /// The position the cursor stands for; `kind` keeps one list's cursor
    /// from being replayed on another.
    pub fn position(&self, kind: &str) -> Result<Option<i64>, AppError> {
        let Some(cursor) = &self.cursor else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| {
                text.strip_prefix(kind)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .and_then(|n| n.parse().ok())
            })
            .map(Some)
            .ok_or_else(|| AppError::InvalidArgument("cursor is not valid for this list".into()))
    }
}

pub fn cursor(kind: &str, position: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{position}"))
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says
/// whether another page exists.
pub fn page_of<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    kind: &str,
    position_of: impl Fn(&R) -> i64,
    view: impl Fn(R) -> T,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| cursor(kind, position_of(r)))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_list() {
        let q = PageQuery {
            cursor: Some(cursor("p", 42)),
            ..Default::default()
        };
        assert_eq!(q.position("p").unwrap(), Some(42));
        assert_eq!(q.position("e").unwrap_err().code(), 40000);
    }

    #[test]
    fn limits_are_checked() {
        let q = |l: &str| PageQuery {
            limit: Some(l.into()),
            ..Default::default()
        };
        assert_eq!(PageQuery::default().limit().unwrap(), 20);
        assert_eq!(q("100").limit().unwrap(), 100);
        assert!(q("0").limit().is_err());
        assert!(q("101").limit().is_err());
        assert!(q("x").limit().is_err());
    }
}
