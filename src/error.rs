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
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Whole seconds until the client may try again (`Retry-After`).
        retry_after_secs: u64,
    },
    #[error("internal error")]
    Internal(String),
    #[error("{0}")]
    Upstream(String),
    #[error("{0}")]
    Unavailable(String),
    /// The server is shutting down; another instance (or this one,
    /// restarted) answers the retry.
    #[error("the server is restarting; try again")]
    ShuttingDown,
    /// The database connection died under the query: the connection is
    /// dropped from the pool, and whether a write applied is unknown.
    #[error("the database is unreachable; try again")]
    DatabaseLost,
    /// Cluster mode: a newer owner holds the event, and the database's
    /// fence refused this instance's write (rolled back, nothing stored).
    /// The retry reaches the new owner.
    #[error("the event moved to another server; try again")]
    Fenced,
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
            Self::RateLimited { .. } => 42900,
            Self::Internal(_) => 50000,
            Self::Upstream(_) => 50200,
            Self::Unavailable(_) | Self::DatabaseLost | Self::ShuttingDown | Self::Fenced => 50300,
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    pub fn event_not_found() -> Self {
        Self::NotFound("no such event".into())
    }

    /// Cluster mode: the event's ownership is moving (a claim given back,
    /// lost, or owned elsewhere than a forwarded request expected).
    pub fn changing_servers() -> Self {
        Self::Unavailable("the event is changing servers; try again".into())
    }

    /// The event already holds as many requests as its mailbox allows.
    pub fn event_busy() -> Self {
        Self::Unavailable("the event is busy: its queue is full; try again".into())
    }

    /// The event's actor stopped or could not load: the retry starts a new
    /// one from the database.
    pub fn event_unavailable() -> Self {
        Self::Unavailable("the event is temporarily unavailable; try again".into())
    }

    /// A join or leave whose batch failed to commit (or was never written).
    pub fn participation_not_stored() -> Self {
        Self::Unavailable("the participation could not be stored; try again".into())
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
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            } => {
                response
                    .insert_header((header::RETRY_AFTER, (*retry_after_secs).max(1).to_string()));
            }
            Self::Unavailable(_) | Self::DatabaseLost | Self::ShuttingDown | Self::Fenced => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
            }
            _ => {}
        }
        response.json(json!({"code": self.code(), "message": self.to_string(), "data": null}))
    }
}

/// How a database error bears on the request.
#[derive(Debug, PartialEq, Eq)]
enum DbFailure {
    /// The connection is gone (I/O error, closed, killed, server gone away):
    /// retry on another connection.
    Lost,
    /// A lock not granted in time or a deadlock victim: the statement or
    /// transaction was rolled back; retrying is right.
    Busy,
    /// The ownership fence refused a stale owner (see store::ownership).
    Fenced,
    /// Anything else: a bug or a broken row.
    Other,
}

/// diesel-async hands MySQL server errors over as a kind and the server's
/// message, without the numeric code (its `mysql/error_helper.rs` keeps the
/// code only to pick the kind), and driver errors as their text. So the
/// kinds decide first, then the messages the server sends for the codes we
/// care about (fixed English texts unless `lc_messages` is changed):
/// 1205 lock wait timeout, 1213 deadlock, 1927 connection killed, 2006
/// server gone away, 2013 lost connection; mysql_async's I/O and closed
/// connection errors; SQLite's busy and locked.
fn classify(kind: &diesel::result::DatabaseErrorKind, message: &str) -> DbFailure {
    use diesel::result::DatabaseErrorKind as Kind;
    const LOST: [&str; 5] = [
        "Input/output error",
        "Connection to the server is closed",
        "Connection was killed",
        "server has gone away",
        "Lost connection to",
    ];
    const BUSY: [&str; 5] = [
        "Lock wait timeout exceeded",
        "Deadlock found",
        "Query execution was interrupted",
        "database is locked",
        "database is busy",
    ];
    if crate::store::ownership::is_fence_refusal(message) {
        return DbFailure::Fenced;
    }
    match kind {
        Kind::UnableToSendCommand | Kind::ClosedConnection => DbFailure::Lost,
        Kind::SerializationFailure => DbFailure::Busy,
        _ if LOST.iter().any(|m| message.contains(m)) => DbFailure::Lost,
        _ if BUSY.iter().any(|m| message.contains(m)) => DbFailure::Busy,
        _ => DbFailure::Other,
    }
}

/// Database errors: the client learns only that it may retry (503) or that
/// something went wrong (500); the driver's text goes to the log alone.
impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::Error;
        match err {
            Error::NotFound => Self::NotFound("not found".into()),
            Error::DatabaseError(kind, info) => match classify(&kind, info.message()) {
                DbFailure::Lost => {
                    tracing::warn!(detail = info.message(), "database connection lost");
                    Self::DatabaseLost
                }
                DbFailure::Busy => {
                    tracing::warn!(detail = info.message(), "database busy");
                    Self::Unavailable("the database is busy; try again".into())
                }
                DbFailure::Fenced => {
                    tracing::warn!("a newer owner holds the event: write refused by the fence");
                    Self::Fenced
                }
                DbFailure::Other => Self::internal(format!("database: {}", info.message())),
            },
            other => Self::internal(format!("database: {other}")),
        }
    }
}

impl<E: std::error::Error + 'static> From<bb8::RunError<E>> for AppError {
    fn from(err: bb8::RunError<E>) -> Self {
        tracing::warn!(detail = %err, "no database connection");
        Self::Unavailable("the database is unavailable; try again".into())
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
    fn lost_connections_and_lock_timeouts_are_503_without_driver_text() {
        for lost in [
            "Input/output error: broken pipe",
            "Driver error: `Connection to the server is closed.'",
            "Connection was killed",
            "MySQL server has gone away",
            "Lost connection to server during query",
        ] {
            let err = unknown(lost);
            assert!(matches!(err, AppError::DatabaseLost), "{lost}");
            assert_eq!(err.code(), 50300);
        }
        for busy in [
            "Lock wait timeout exceeded; try restarting transaction",
            "Deadlock found when trying to get lock; try restarting transaction",
            "database is locked",
        ] {
            let err = unknown(busy);
            assert_eq!(err.code(), 50300, "{busy}");
            assert_eq!(err.to_string(), "the database is busy; try again");
        }
        let closed: AppError = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("secret driver text".to_string()),
        )
        .into();
        assert!(!closed.to_string().contains("secret"));
    }

    #[test]
    fn other_database_errors_are_500_and_missing_rows_404() {
        assert_eq!(unknown("Unknown column 'x' in 'field list'").code(), 50000);
        let fk: AppError = Error::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new("Cannot add or update a child row".to_string()),
        )
        .into();
        assert_eq!(fk.code(), 50000);
        assert_eq!(AppError::from(Error::NotFound).code(), 40400);
    }

    #[test]
    fn the_ownership_fence_is_a_503_without_driver_text() {
        let err: AppError = Error::DatabaseError(
            DatabaseErrorKind::NotNullViolation,
            Box::new("Column 'stale_owner' cannot be null".to_string()),
        )
        .into();
        assert!(matches!(err, AppError::Fenced));
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!err.to_string().contains("stale_owner"));
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
