//! Limits by client address, before any handler runs: every API request
//! per address (when configured), and logins per address. Per-user limits
//! are checked where the user becomes known (`auth.rs`). Health, readiness
//! and metrics are never limited.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header::HeaderName, Method};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use super::forward::is_forwarded;
use super::middleware::pass_or_refuse;
use super::state::AppState;
use crate::limits::client_ip::client_ip;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn limit_by_address(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let verdict = match (state, req.peer_addr()) {
        // A forwarded request was limited by the instance it came to.
        (Some(state), Some(peer))
            if req.path().starts_with("/api/") && !is_forwarded(&req, &state) =>
        {
            let forwarded = req
                .headers()
                .get(&X_FORWARDED_FOR)
                .and_then(|v| v.to_str().ok());
            let ip = client_ip(peer.ip(), forwarded, &state.config.trusted_proxies);
            let mut verdict = state.limits.check_ip(ip).await;
            if verdict.is_ok() && req.method() == Method::POST && req.path() == "/api/v1/auth/login"
            {
                verdict = state.limits.check_login(ip).await;
            }
            verdict
        }
        _ => Ok(()),
    };
    pass_or_refuse(req, next, verdict).await
}
