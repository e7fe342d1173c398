//! What request signing needs (the keys, the nonces already spent) and the
//! check of one request against them. The app state holds it when keys are
//! configured; the middleware in `signing.rs` decides which requests it
//! checks.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::HttpMessage;

use super::body::read_limited;
use super::signature::{self, Refusal, Signed, MAX_SKEW_SECS};
use crate::cache::nonces::Nonces;
use crate::error::AppError;
use crate::secret::Secret;

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

    pub async fn check(&self, req: &mut ServiceRequest) -> Result<(), AppError> {
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
        let deadlines = super::body::deadlines(req.request());
        let body = read_limited(&mut req.take_payload(), deadlines)
            .await?
            .freeze();
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
        signature::verify(&self.keys, &request, &sent, now).map_err(refuse)?;
        // Only a correctly signed request spends its nonce: without the key
        // nobody can fill the store.
        let window = Duration::from_secs(2 * MAX_SKEW_SECS as u64);
        if !self.nonces.first_use(&nonce, window).await? {
            return Err(AppError::Unauthorized(
                "this request was already received (its nonce was used)".into(),
            ));
        }
        Ok(())
    }
}
