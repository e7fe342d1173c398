//! The error answers every API operation shares, added to each so that the
//! annotations list only what is particular to their endpoint.

use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

use super::DOCUMENT_PATHS;

/// The errors any API operation may answer, and a `default` answer: any
/// other status an operation may meet (a 401 under signing, a 405) still
/// carries the envelope, so generated clients keep its code and message.
pub(super) struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") || DOCUMENT_PATHS.contains(&path.as_str()) {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description));
                };
                add("400", "40000: an argument is invalid; the message names it");
                if secured {
                    add("401", "40100: missing, unknown, expired or revoked token, or a bad request signature");
                }
                if has_body {
                    add("413", "41300: the body is over 16 KiB");
                }
                add("429", "42900: rate limited; Retry-After says when to retry");
                add("500", "50000: internal error");
                add("503", "50300: temporarily unavailable (database or cache down, the event's queue full, the server restarting); Retry-After set");
                add("default", "any other error (a 401 of a bad signature, a 405), in the envelope: its code is one of ErrorEnvelope's");
            }
        }
    }
}
