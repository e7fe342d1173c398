//! One file per resource; each handler is a few lines.

pub mod auth;
pub mod events;
pub mod me;
pub mod ops;
pub mod participation;

use actix_web::web;

use crate::error::{AppError, AppResult};

/// The `{id}` of an event path.
pub fn event_id(path: web::Path<String>) -> AppResult<i64> {
    path.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            AppError::InvalidArgument("the event id must be a positive whole number".into())
        })
}
