//! Database errors as the client meets them: a lost connection, a busy
//! database and the ownership fence's refusal are 503s the client may
//! retry; anything else is a 500. The driver's text goes to the log alone.

use super::ownership::is_fence_refusal;
use crate::error::AppError;

/// How a database error bears on the request.
#[derive(Debug, PartialEq, Eq)]
enum DbFailure {
    /// The connection is gone (I/O error, closed, killed, server gone away):
    /// retry on another connection.
    Lost,
    /// A lock not granted in time or a deadlock victim: the statement or
    /// transaction was rolled back; retrying is right.
    Busy,
    /// The ownership fence refused a stale owner (see `ownership.rs`).
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
    if is_fence_refusal(message) {
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
    use actix_web::http::StatusCode;
    use actix_web::ResponseError;
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
}
