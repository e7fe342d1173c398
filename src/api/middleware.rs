//! Request ids and the request's log fields, the early 413, the 503 of a
//! server shutting down, and HTTP figures.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use rand::RngCore;
use tracing::Instrument;

use super::body::MAX_BODY_BYTES;

/// The upload's path: its body is a file, with a limit of its own.
const UPLOAD_PATH: &str = "/api/v1/media";

/// Bytes a multipart body may add around its file (boundaries, part
/// headers): the declared length may exceed the file limit by this much.
const MULTIPART_FRAMING: u64 = 16 * 1024;
use super::event_id;
use super::route_label;
use super::state::AppState;
use crate::error::AppError;
use crate::telemetry::traces;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// W3C Trace Context: a caller's trace, logged with the request.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace id of a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`),
/// or None when the header is malformed (it is then ignored, as the W3C
/// recommendation asks).
pub fn trace_id(header: &str) -> Option<&str> {
    let mut parts = header.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        // Version 00 has exactly four fields; later versions may add more.
        && (version != "00" || parts.next().is_none());
    valid.then_some(trace)
}

fn new_request_id() -> String {
    let mut raw = [0u8; 8];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// A refusal in the contract's envelope: the request goes no further.
pub fn refusal<B>(req: ServiceRequest, err: &AppError) -> ServiceResponse<EitherBody<B>> {
    let (http_req, _) = req.into_parts();
    ServiceResponse::new(http_req, err.error_response()).map_into_right_body()
}

/// A guard middleware's end: the request goes on when `verdict` is Ok,
/// else it is refused.
pub async fn pass_or_refuse<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    verdict: Result<(), AppError>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    match verdict {
        Ok(()) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        Err(err) => Ok(refusal(req, &err)),
    }
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
    // Probes and scrapes are not traced: every few seconds from every
    // orchestrator, they would bury the requests worth following.
    let probe = matches!(req.path(), "/healthz" | "/readyz" | "/metrics");
    let exporting = traces::exporting() && !probe;
    // Once: the exported span's name and the request figures' label.
    let route = route_label(req.path());
    let span = if probe {
        tracing::info_span!(
            target: traces::UNTRACED,
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            event_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    } else if exporting {
        // The exported span's name, kind and attributes follow
        // OpenTelemetry's HTTP server conventions.
        tracing::info_span!(
            "request",
            otel.name = %format_args!("{} {route}", req.method()),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.route = route,
            http.response.status_code = tracing::field::Empty,
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            event_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    } else {
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            // Recorded when known; the user's id by the `Caller` extractor.
            event_id = tracing::field::Empty,
            user_id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        )
    };
    if let Some(event_id) = event_id::in_path(req.path()) {
        span.record("event_id", event_id);
    }
    let trace = if exporting {
        // The caller's trace continued, or a new one: its id in the logs.
        traces::continue_trace(&span, req.headers())
    } else {
        req.headers()
            .get(&TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(trace_id)
            .map(str::to_string)
    };
    if let Some(trace) = trace {
        span.record("trace_id", trace);
    }
    let started = Instant::now();
    let state = req.app_data::<actix_web::web::Data<AppState>>();
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // An upload has its own limit (with room for the multipart framing);
    // every other body is JSON of at most 16 KiB.
    let upload_limit = (req.path() == UPLOAD_PATH)
        .then(|| state.map(|s| s.media.settings.limits.max_bytes))
        .flatten();
    let too_large = match (declared, upload_limit) {
        (Some(n), Some(limit)) if n > limit + MULTIPART_FRAMING => Some(AppError::UploadTooLarge(
            format!("the file is over the upload limit of {} KiB", limit / 1024),
        )),
        (Some(n), None) if n > MAX_BODY_BYTES as u64 => Some(AppError::PayloadTooLarge),
        _ => None,
    };
    let draining = state.is_some_and(|state| state.draining.is_on());
    let refuse = if let Some(err) = too_large {
        Some(err)
    } else if req.path().contains('%') {
        // The router decodes `%XX` while signing, limits, forwarding and
        // the id gate read the path as sent: `/%61pi/…` or `/api/v1/%65vents/5`
        // would be routed without them. No path of this API needs an
        // escape (ids are digits, image names base64url).
        Some(AppError::InvalidArgument(
            "percent-encoded paths are not served: no path of this API needs one".into(),
        ))
    } else if event_id::malformed_in(req.path()) {
        Some(event_id::invalid())
    } else if draining && req.path().starts_with("/api/") {
        Some(AppError::ShuttingDown)
    } else {
        None
    };
    let res = if let Some(err) = refuse {
        refusal(req, &err)
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body()
    };
    let mut res = crate::api::compression::encode_response(res).await;
    let status = res.status().as_u16();
    if exporting {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
    }
    metrics::histogram!("lottery_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("lottery_http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    if draining {
        // Keep-alive connections close after this answer: the client's
        // next request reaches a live instance, not this one's closed door.
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_headers_give_their_trace_id_when_well_formed() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(&format!("00-{trace}-00f067aa0ba902b7-01")),
            Some(trace)
        );
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736",
            "",
        ] {
            assert_eq!(trace_id(bad), None, "{bad}");
        }
    }
}
