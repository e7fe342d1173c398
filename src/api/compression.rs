//! Compressed answers (`coding`): every JSON or text answer over 1 KiB goes
//! out in the coding the client asks for, with `Vary: Accept-Encoding` so
//! that a cache keeps one copy per coding. Answers kept in memory (event
//! pages, published results, first participant pages) carry their
//! compressed copies (`Answer::encoded`), made once; the rest are
//! compressed as they leave (`encode_response`). Large bodies are
//! compressed on the blocking pool, not on an HTTP worker.

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::HttpRequest;

use crate::cache::answers::Answer;
use crate::coding::{self, Coding, MIN_BYTES};

/// Larger bodies are compressed off the HTTP worker: at about 100 MB/s a
/// 64 KiB body is well under a millisecond of a worker's time.
const ON_WORKER_MAX: usize = 64 * 1024;

/// `answer`'s body as `req` asks for it: its compressed copy (made now if
/// it is the first to ask) and the coding, or the body as it is.
pub async fn body_for(req: &HttpRequest, answer: &Answer) -> (Bytes, Option<Coding>) {
    let Some(coding) = coding::for_request(req, answer.body.len()) else {
        return (answer.body.clone(), None);
    };
    // A copy made already costs nothing to take.
    let len = if answer.has_encoded(coding) {
        0
    } else {
        answer.body.len()
    };
    let copy = answer.clone();
    match off_the_worker_if_large(len, move || copy.encoded(coding)).await {
        Some(encoded) => (encoded, Some(coding)),
        // The blocking pool is gone (shutting down): the plain body.
        None => (answer.body.clone(), None),
    }
}

/// `encode()` for a body of `len` bytes: on this worker when small, on
/// the blocking pool when large; None when that pool is gone.
async fn off_the_worker_if_large(
    len: usize,
    encode: impl FnOnce() -> Bytes + Send + 'static,
) -> Option<Bytes> {
    if len <= ON_WORKER_MAX {
        Some(encode())
    } else {
        web::block(encode).await.ok()
    }
}

/// Whether an answer of `len` bytes of this kind varies by coding.
pub fn varies(len: usize) -> bool {
    len > MIN_BYTES
}

pub fn vary_value() -> HeaderValue {
    HeaderValue::from_static("accept-encoding")
}

/// The last step of every answer: a compressible body over 1 KiB says it
/// varies by coding and, when the client asks and the handler did not
/// encode it already, is compressed.
pub async fn encode_response<B: MessageBody>(
    mut res: ServiceResponse<B>,
) -> ServiceResponse<EitherBody<B, Bytes>> {
    let headers = res.headers();
    if headers.contains_key(header::CONTENT_ENCODING) {
        // Encoded by its handler from a kept copy.
        res.headers_mut().append(header::VARY, vary_value());
        return res.map_into_left_body();
    }
    let BodySize::Sized(len) = res.response().body().size() else {
        return res.map_into_left_body();
    };
    let len = len as usize;
    if !varies(len) || !coding::compressible(headers.get(header::CONTENT_TYPE)) {
        return res.map_into_left_body();
    }
    res.headers_mut().append(header::VARY, vary_value());
    let Some(coding) = coding::for_request(res.request(), len) else {
        return res.map_into_left_body();
    };
    let (req, response) = res.into_parts();
    let (response, body) = response.into_parts();
    let plain = match body.try_into_bytes() {
        Ok(plain) => plain,
        // A streamed body: sent as it is.
        Err(body) => {
            return ServiceResponse::new(req, response.set_body(body)).map_into_left_body()
        }
    };
    let copy = plain.clone();
    let encoded = off_the_worker_if_large(len, move || coding.encode(&copy)).await;
    let Some(encoded) = encoded else {
        return ServiceResponse::new(req, response.set_body(EitherBody::right(plain)));
    };
    let mut response = response.set_body(EitherBody::right(encoded));
    response
        .headers_mut()
        .insert(header::CONTENT_ENCODING, coding.header_value());
    ServiceResponse::new(req, response)
}
