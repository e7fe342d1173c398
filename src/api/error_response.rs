//! How an error is answered over HTTP: the status is the contract code's
//! first three digits, the body the envelope with `data` null, a 405 names
//! the path's methods, and a 429 or 503 says when to retry. The detail of
//! an internal error stays in the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::envelope::envelope;
use crate::error::AppError;

/// Seconds a client should wait before retrying a 429 or 503.
pub const RETRY_AFTER_SECS: u64 = 1;

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
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            // The rest of a body that did not arrive in time is not waited
            // for: the connection goes with the answer.
            Self::RequestTimeout(_) => {
                response.force_close();
            }
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
        response.json(envelope(self.code(), &self.to_string(), ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
