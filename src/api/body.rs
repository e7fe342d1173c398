//! JSON bodies with the contract's errors: 413 past 16 KiB, 40000 naming
//! the field for anything malformed.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Bodies above this get 413, before any handler runs.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A required JSON body.
pub struct JsonBody<T>(pub T);

/// A JSON body that may be absent (an empty body reads as `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

pub(crate) async fn read_limited(payload: &mut Payload) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::InvalidArgument(format!("bad request body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A malformed body's 40000 names where in the body it went wrong
/// (`claim_days: invalid type: string "7", expected i64`).
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let invalid =
        |detail: String| AppError::InvalidArgument(format!("invalid JSON body: {detail}"));
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        invalid(if at == "." {
            inner.to_string()
        } else {
            format!("{at}: {inner}")
        })
    })?;
    // Trailing characters are an error too, as serde_json::from_slice has it.
    json.end().map_err(|e| invalid(e.to_string()))?;
    Ok(value)
}

/// Reads and parses a body; `None` when it is empty (or only whitespace).
fn read_json<T: DeserializeOwned + 'static>(
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<Option<T>, AppError>> {
    let mut payload = payload.take();
    Box::pin(async move {
        let bytes = read_limited(&mut payload).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse(&bytes).map(Some)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(payload);
        Box::pin(async move {
            body.await?
                .map(JsonBody)
                .ok_or_else(|| AppError::InvalidArgument("a JSON body is required".into()))
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(_: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(payload);
        Box::pin(async move { Ok(OptionalJsonBody(body.await?.unwrap_or_default())) })
    }
}
