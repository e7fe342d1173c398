//! The one error type that reaches users, and its mapping to the contract.
//!
//! Policy: domain rules, store queries, actors and handlers all return
//! `AppResult`. Each variant carries a message written for the client; the
//! contract's code and HTTP status are decided here and nowhere else.
//! `Internal` keeps its detail for the log and shows the client nothing.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

pub type AppResult<T> = Result<T, AppError>;

/// Seconds a client should wait before retrying a 429 or 503.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    WechatLoginRejected(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    EventClosed(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    EventFull(String),
    #[error("request body too large: the limit is 16 KiB")]
    PayloadTooLarge,
    #[error("{0}")]
    RateLimited(String),
    #[error("internal error")]
    Internal(String),
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 40000,
            Self::Unauthorized(_) => 40100,
            Self::WechatLoginRejected(_) => 40101,
            Self::Forbidden(_) => 40300,
            Self::NotFound(_) => 40400,
            Self::EventClosed(_) => 40900,
            Self::InvalidState(_) => 40901,
            Self::EventFull(_) => 40902,
            Self::PayloadTooLarge => 41300,
            Self::RateLimited(_) => 42900,
            Self::Internal(_) => 50000,
            Self::Upstream(_) => 50200,
            Self::Unavailable(_) => 50300,
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn event_not_found() -> Self {
        Self::NotFound("no such event".into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16((self.code() / 100) as u16)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::RateLimited(_) | Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
        }
        response.json(json!({"code": self.code(), "message": self.to_string(), "data": null}))
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => Self::NotFound("not found".into()),
            Error::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                info,
            ) => Self::Unavailable(format!("database unavailable: {}", info.message())),
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if is_unavailable(info.message()) =>
            {
                Self::Unavailable(format!("database unavailable: {}", info.message()))
            }
            other => Self::internal(format!("database: {other}")),
        }
    }
}

/// diesel-async reports a MySQL connection that died (mysql_async's I/O and
/// "connection closed" errors) as an error of unknown kind, and SQLite's
/// writer lock held past busy_timeout likewise; both mean "try again", not
/// "bug". Only these driver texts are matched: server errors stay 500.
fn is_unavailable(message: &str) -> bool {
    message.starts_with("Input/output error")
        || message.contains("Connection to the server is closed")
        || message == "database is locked"
}

impl<E: std::error::Error + 'static> From<bb8::RunError<E>> for AppError {
    fn from(err: bb8::RunError<E>) -> Self {
        Self::Unavailable(format!("database unavailable: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn unknown(message: &str) -> AppError {
        Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_string())).into()
    }

    #[test]
    fn a_lost_database_connection_is_503_and_other_database_errors_500() {
        assert_eq!(unknown("Input/output error: broken pipe").code(), 50300);
        assert_eq!(
            unknown("Driver error: `Connection to the server is closed.'").code(),
            50300
        );
        assert_eq!(unknown("database is locked").code(), 50300);
        assert_eq!(unknown("ERROR 1054 (42S22): Unknown column").code(), 50000);
        assert_eq!(AppError::from(Error::NotFound).code(), 40400);
    }

    #[test]
    fn internal_errors_show_the_client_nothing() {
        let err = AppError::internal("secret detail");
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            AppError::Unavailable("x".into()).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
