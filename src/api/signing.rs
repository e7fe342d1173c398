//! The signing middleware: when `LOTTERY_SIGNING_KEYS` is set, every API
//! request carries a valid signature (`signature.rs`) and a nonce not seen
//! within the window; anything else is 401 40100 and changes nothing. The
//! API document and its page stay readable unsigned.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use super::body::read_limited;
use super::forward::is_forwarded;
use super::middleware::pass_or_refuse;
use super::openapi::DOCUMENT_PATHS;
use super::signature::{self, Refusal, Signed, MAX_SKEW_SECS};
use crate::cache::nonces::Nonces;
use crate::config::Secret;
use crate::error::AppError;
use crate::state::AppState;

pub struct Signing {
    keys: Vec<Vec<u8>>,
    nonces: Nonces,
}

impl Signing {
    pub fn new(keys: &[Secret], nonces: Nonces) -> Arc<Self> {
        Arc::new(Self {
            keys: keys
                .iter()
                .map(|k| k.expose().as_bytes().to_vec())
                .collect(),
            nonces,
        })
    }
}

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
    let applies = req.path().starts_with("/api/") && !DOCUMENT_PATHS.contains(&req.path());
    let verdict = match signing.filter(|_| applies) {
        Some(signing) => check(&signing, &mut req).await,
        None => Ok(()),
    };
    pass_or_refuse(req, next, verdict).await
}

async fn check(signing: &Signing, req: &mut ServiceRequest) -> Result<(), AppError> {
    let refuse = |why: Refusal| AppError::Unauthorized(why.message().into());
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(timestamp), Some(nonce), Some(sent)) = (
        header(signature::TIMESTAMP),
        header(signature::NONCE),
        header(signature::SIGNATURE),
    ) else {
        return Err(refuse(Refusal::Missing));
    };
    // The body is read here to be hashed, then handed on to the handler.
    let body = read_limited(&mut req.take_payload()).await?.freeze();
    req.set_payload(Payload::from(body.clone()));
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or(req.path(), |pq| pq.as_str())
        .to_string();
    let request = Signed {
        method: req.method().as_str(),
        path_and_query: &path_and_query,
        timestamp: &timestamp,
        nonce: &nonce,
        body: &body,
    };
    let now = chrono::Utc::now().timestamp();
    signature::verify(&signing.keys, &request, &sent, now).map_err(refuse)?;
    // Only a correctly signed request spends its nonce: without the key
    // nobody can fill the store.
    let window = Duration::from_secs(2 * MAX_SKEW_SECS as u64);
    if !signing.nonces.first_use(&nonce, window).await? {
        return Err(AppError::Unauthorized(
            "this request was already received (its nonce was used)".into(),
        ));
    }
    Ok(())
}
