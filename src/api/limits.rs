//! Limits by client address, before any handler runs: every API request
//! per address (when configured), and logins per address. Per-user limits
//! are checked where the user becomes known (`auth.rs`). Health, readiness
//! and metrics are never limited; image files (`/media/`) are, as API
//! requests.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error};

use super::client_addr;
use super::forward::is_forwarded;
use super::middleware::pass_or_refuse;
use super::state::AppState;

pub async fn limit_by_address(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let verdict = match (state, req.peer_addr()) {
        // A forwarded request was limited by the instance it came to.
        // Image files too: a name nobody made costs a database read.
        (Some(state), Some(peer))
            if (req.path().starts_with("/api/") || req.path().starts_with("/media/"))
                && !is_forwarded(&req, &state) =>
        {
            let ip = client_addr::direct(peer.ip(), req.headers(), &state);
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
