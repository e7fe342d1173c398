//! JSON bodies with the contract's errors: 413 past 16 KiB, 40000 naming
//! the field for anything malformed.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures::future::LocalBoxFuture;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use std::time::Duration;

use crate::config::BodyDeadlines;
use crate::error::AppError;

/// Bodies above this get 413, before any handler runs.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A required JSON body.
pub struct JsonBody<T>(pub T);

/// A required JSON body and its bytes as sent (a retry under an
/// Idempotency-Key is compared with them).
pub struct JsonBodyAndBytes<T>(pub T, pub web::Bytes);

/// A JSON body that may be absent (an empty body reads as `T::default()`).
pub struct OptionalJsonBody<T>(pub T);

/// A JSON body (16 KiB at most) within its deadlines (`BodyDeadlines`:
/// 10 s in all and 5 s between pieces by default; a phone on a poor 2G
/// link sends 16 KiB in two seconds). Without them, a client that trickled
/// a body a byte every few seconds held its connection for minutes without
/// logging in, and 40 of them starved a process of its file descriptors
/// (issue 24, finding 1; the headers already had actix's 5 s
/// `client_request_timeout`).
pub(crate) async fn read_limited(
    payload: &mut Payload,
    deadlines: BodyDeadlines,
) -> Result<web::BytesMut, AppError> {
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = next_within(payload, deadlines.gap).await? {
            let chunk =
                chunk.map_err(|e| AppError::InvalidArgument(format!("bad request body: {e}")))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(deadlines.total, read)
        .await
        .unwrap_or_else(|_| Err(too_slow(deadlines.total)))
}

/// The next piece of a stream, unless it stays silent for `gap`.
pub async fn next_within<S: futures::Stream + Unpin>(
    stream: &mut S,
    gap: Duration,
) -> Result<Option<S::Item>, AppError> {
    tokio::time::timeout(gap, stream.next()).await.map_err(|_| {
        AppError::RequestTimeout(format!(
            "the request body stopped arriving for {} s",
            gap.as_secs()
        ))
    })
}

/// The deadlines of this server's bodies, which the app carries as its
/// own app data (the defaults outside the app).
pub fn deadlines(req: &HttpRequest) -> BodyDeadlines {
    req.app_data::<BodyDeadlines>().copied().unwrap_or_default()
}

/// 408 40800 for a body still arriving after `within`.
pub fn too_slow(within: Duration) -> AppError {
    AppError::RequestTimeout(format!(
        "the request body did not arrive within {} s",
        within.as_secs()
    ))
}

/// A malformed body's 40000 names where in the body it went wrong
/// (`claim_days: invalid type: string, expected i64`), never what was sent
/// there: a body may carry personal data (a claim's phone number), and
/// the message is answered and logged.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let invalid =
        |detail: String| AppError::InvalidArgument(format!("invalid JSON body: {detail}"));
    // Every body of the contract is an object; serde would also read an
    // array into a struct (its fields in order: `["dev:x"]` logged in).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(invalid("the body must be a JSON object".into()));
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        let detail = without_values(&inner.to_string());
        invalid(if at == "." {
            detail
        } else {
            format!("{at}: {detail}")
        })
    })?;
    // Trailing characters are an error too, as serde_json::from_slice has it.
    json.end().map_err(|e| invalid(e.to_string()))?;
    Ok(value)
}

/// A serde message with the values it quotes taken out: `invalid type:
/// string "…", expected …` keeps only the kind (`string`), and an unknown
/// field or variant is named only when it looks like a field name.
fn without_values(detail: &str) -> String {
    let mut out = detail.to_string();
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(start) = out.find(lead) {
            let from = start + lead.len();
            // The expected part comes from our types, never from the body.
            if let Some(len) = out[from..].rfind(", expected") {
                let kind = out[from..from + len]
                    .split([' ', '`'])
                    .next()
                    .unwrap_or("value")
                    .to_string();
                out.replace_range(from..from + len, &kind);
            }
        }
    }
    for lead in ["unknown field `", "unknown variant `"] {
        if let Some(start) = out.find(lead) {
            let from = start + lead.len();
            if let Some(len) = out[from..].find('`') {
                let name = &out[from..from + len];
                let looks_like_a_name = name.len() <= 32
                    && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !looks_like_a_name {
                    out.replace_range(from..from + len, "…");
                }
            }
        }
    }
    out
}

/// Reads and parses a body, kept with its bytes; `None` when it is empty.
/// Whitespace alone is not JSON (RFC 8259: a text is a value) and is
/// refused like any other malformed body, as the document says.
fn read_json<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<Option<(T, web::Bytes)>, AppError>> {
    let mut payload = payload.take();
    let deadlines = deadlines(req);
    Box::pin(async move {
        let bytes = read_limited(&mut payload, deadlines).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let value = parse(&bytes)?;
        Ok(Some((value, bytes.freeze())))
    })
}

fn required<T>(body: Option<(T, web::Bytes)>) -> Result<(T, web::Bytes), AppError> {
    body.ok_or_else(|| AppError::InvalidArgument("a JSON body is required".into()))
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move { required(body.await?).map(|(value, _)| JsonBody(value)) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBodyAndBytes<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move {
            required(body.await?).map(|(value, bytes)| JsonBodyAndBytes(value, bytes))
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move {
            Ok(OptionalJsonBody(
                body.await?.map(|(value, _)| value).unwrap_or_default(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn messages_name_kinds_and_fields_never_values() {
        assert_eq!(
            without_values(
                "invalid type: integer `13912345678`, expected a string at line 1 column 9"
            ),
            "invalid type: integer, expected a string at line 1 column 9"
        );
        assert_eq!(
            without_values(r#"invalid type: string "a, expected b", expected i64"#),
            "invalid type: string, expected i64"
        );
        assert_eq!(
            without_values(r#"invalid value: string "13912345678", expected address or contact"#),
            "invalid value: string, expected address or contact"
        );
        assert_eq!(
            without_values("unknown field `extra`, expected one of `name`, `phone`"),
            "unknown field `extra`, expected one of `name`, `phone`"
        );
        assert_eq!(
            without_values("unknown field `13912345678`, expected one of `name`"),
            "unknown field `…`, expected one of `name`"
        );
        assert_eq!(
            without_values("unknown variant `张三`, expected `address`"),
            "unknown variant `…`, expected `address`"
        );
        assert_eq!(
            without_values("EOF while parsing a value"),
            "EOF while parsing a value"
        );
    }
}
