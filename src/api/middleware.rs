//! Request ids, the early 413, and HTTP figures.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use rand::RngCore;
use tracing::Instrument;

use super::{route_label, MAX_BODY_BYTES};
use crate::error::AppError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn new_request_id() -> String {
    let mut raw = [0u8; 8];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Echoes a sane client request id (or makes one), logs within a span that
/// carries it, refuses declared bodies over the limit, and counts requests.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let too_large = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES);
    let mut res = if too_large {
        let (http_req, _) = req.into_parts();
        ServiceResponse::new(http_req, AppError::PayloadTooLarge.error_response())
            .map_into_right_body()
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body()
    };
    let status = res.status().as_u16();
    let route = route_label(res.request().path());
    metrics::histogram!("lottery_http_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("lottery_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "done"
        )
    });
    Ok(res)
}
