//! The contract's envelope, `{"code", "message", "data"}`, around every
//! `/api/v1` answer: built here for successes and errors alike, and
//! described here for the OpenAPI document.

use actix_web::http::header::ContentType;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Every successful answer: `code` 0, `message` "ok", the answer in `data`.
#[derive(ToSchema)]
pub struct Envelope<T> {
    #[schema(example = 0)]
    pub code: u32,
    #[schema(example = "ok")]
    pub message: String,
    pub data: T,
}

/// A successful answer with nothing to say (`data` is null).
#[derive(ToSchema)]
pub struct EmptyEnvelope {
    #[schema(example = 0)]
    pub code: u32,
    #[schema(example = "ok")]
    pub message: String,
    #[schema(value_type = Option<Object>, nullable)]
    pub data: Option<()>,
}

/// Every error: the HTTP status is `code / 100`; `message` is written for
/// the mini-program developer; `data` is null. 429 and 503 carry
/// `Retry-After`.
#[derive(ToSchema)]
pub struct ErrorEnvelope {
    /// 40000 invalid argument (the message names the field), 40100 missing,
    /// unknown, expired or revoked token (or a bad request signature),
    /// 40101 WeChat refused the login code, 40300 not allowed (creator-only
    /// action), 40400 no such event or endpoint, 40500 a method the path
    /// does not have (`Allow` lists those it has), 40900 the event is closed,
    /// 40901 not in a state that allows this, 40902 the event is full, 40903 the claim window
    /// is closed or the prize already shipped, 41300
    /// body over 16 KiB, 42900 rate limited, 50000 internal error, 50200
    /// WeChat unavailable, 50300 temporarily unavailable.
    #[schema(example = 40000)]
    pub code: u32,
    #[schema(example = "title: 1 to 64 characters")]
    pub message: String,
    #[schema(value_type = Option<Object>, nullable)]
    pub data: Option<()>,
}

/// The one place the envelope is written.
pub(super) fn envelope<T: Serialize>(code: u32, message: &str, data: T) -> serde_json::Value {
    json!({"code": code, "message": message, "data": data})
}

pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(envelope(0, "ok", data))
}

/// The envelope of `data`, serialized once (for answers that are cached).
pub fn ok_body<T: Serialize>(data: &T) -> Bytes {
    let body = envelope(0, "ok", data);
    Bytes::from(serde_json::to_vec(&body).expect("JSON values serialize"))
}

/// An answer serialized earlier by `ok_body`.
pub fn ok_serialized(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(envelope(0, "ok", data))
}
