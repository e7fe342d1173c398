//! The signing middleware: when `LOTTERY_SIGNING_KEYS` is set, every API
//! request carries a valid signature (`signature.rs`) and a nonce not seen
//! within the window; anything else is 401 40100 and changes nothing. The
//! API document and its page stay readable unsigned.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use super::forward::is_forwarded;
use super::middleware::pass_or_refuse;
use super::openapi::DOCUMENT_PATHS;

/// Where WeChat pushes: not signed our way.
const PUSH_PATH: &str = "/api/v1/wechat/push";
use super::state::AppState;

pub async fn verify_signature(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // A forwarded request's signature (and nonce) was checked by the
    // instance it came to.
    let signing = req
        .app_data::<web::Data<AppState>>()
        .filter(|state| !is_forwarded(&req, state))
        .and_then(|state| state.signing.clone());
    // WeChat's message push is signed WeChat's way (its own handler checks).
    let applies = req.path().starts_with("/api/")
        && !DOCUMENT_PATHS.contains(&req.path())
        && req.path() != PUSH_PATH;
    let verdict = match signing.filter(|_| applies) {
        Some(signing) => signing.check(&mut req).await,
        None => Ok(()),
    };
    pass_or_refuse(req, next, verdict).await
}
