//! The OpenAPI 3 document, generated from the handlers' annotations and
//! the views' schemas (utoipa), served at `/api/v1/openapi.json` and
//! rendered at `/api/v1/docs` (Scalar; its script comes from a CDN when
//! the page opens, nothing is downloaded at build time). docs/API.md is
//! the human contract; a test holds both to the app's routes.

use std::sync::OnceLock;

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::Scalar;

use super::envelope::{EmptyEnvelope, ErrorEnvelope};
use super::handlers::{
    auth, claims, events, groups, me, media, ops, participation, push, redraw, results, share,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lottery (抽奖) API",
        version = "1.1",
        description = "REST API of the WeChat mini-program lottery backend. \
            Every /api/v1 answer is enveloped ({code, message, data}); errors \
            carry the codes listed under ErrorEnvelope. Authenticate with \
            `Authorization: Bearer <token>` from POST /api/v1/auth/login. \
            When the server requires signed requests, every /api/v1 request \
            but this document carries X-Lottery-Timestamp, X-Lottery-Nonce \
            and X-Lottery-Signature (docs/SIGNING.md)."
    ),
    paths(
        ops::healthz,
        ops::readyz,
        ops::metrics,
        openapi_json,
        docs_page,
        auth::login,
        auth::logout,
        me::get,
        me::update,
        me::events,
        events::create,
        events::get,
        events::cancel,
        events::draw,
        results::winners,
        results::fairness,
        participation::list,
        participation::join,
        participation::leave,
        claims::own,
        claims::give_details,
        claims::received,
        claims::list,
        claims::export,
        claims::ship,
        redraw::redraw,
        groups::bind,
        media::upload,
        media::get,
        media::file,
        share::share_code,
        push::verify,
        push::receive,
    ),
    components(schemas(ErrorEnvelope, EmptyEnvelope)),
    modifiers(&BearerAuth, &CommonErrors),
    tags(
        (name = "auth", description = "login and logout"),
        (name = "me", description = "the caller's profile and events"),
        (name = "events", description = "events, draws and their results"),
        (name = "participation", description = "joining, leaving, the participant list"),
        (name = "claims", description = "winners' claims: details, shipping, receipt, export"),
        (name = "media", description = "uploaded images and their files"),
        (name = "wechat", description = "WeChat's message push (called by WeChat, not by clients)"),
        (name = "ops", description = "health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The errors any API operation may answer, added to each so the
/// annotations list only what is particular to their endpoint.
struct CommonErrors;

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
            }
        }
    }
}

/// The paths that serve this document: not API operations, and readable
/// unsigned.
pub const DOCUMENT_PATHS: [&str; 2] = ["/api/v1/openapi.json", "/api/v1/docs"];

/// The document as served, built once.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the API document serializes")
    })
}

/// The OpenAPI 3 document of this API (not enveloped).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "ops",
    responses((status = 200, description = "this document", content_type = "application/json"))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document())
}

/// A page that renders this document (Scalar).
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "ops",
    responses((status = 200, description = "an HTML page", content_type = "text/html"))
)]
pub async fn docs_page() -> HttpResponse {
    static HTML: OnceLock<String> = OnceLock::new();
    let html = HTML.get_or_init(|| Scalar::new(ApiDoc::openapi()).to_html());
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html.as_str())
}
