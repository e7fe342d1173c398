//! The OpenAPI 3 document, generated from the handlers' annotations and
//! the views' schemas (utoipa), served at `/api/v1/openapi.json` and
//! rendered at `/api/v1/docs` by Swagger UI, whose script and style are
//! in the page itself (nothing loads from another host, and the contract
//! has the one path). docs/API.md is the human contract; a test holds both
//! to the app's routes.

use std::sync::OnceLock;

mod docs_page;
mod envelopes;
mod errors;

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub use docs_page::docs_page;
use errors::CommonErrors;

use super::envelope::{EmptyEnvelope, ErrorEnvelope};
use super::handlers::{
    auth, claims, events, groups, me, media, ops, participation, push, redraw, results, share,
};

#[derive(OpenApi)]
#[openapi(
    info(
        // ASCII: client generators make package names of it.
        title = "Lottery API",
        version = "1.2",
        description = "REST API of the WeChat mini-program lottery (抽奖) backend. \
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
        docs_page::docs_page,
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

/// The paths that serve this document: not API operations, and readable
/// unsigned.
pub const DOCUMENT_PATHS: [&str; 2] = ["/api/v1/openapi.json", "/api/v1/docs"];

/// The document as served, built once.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the API document serializes");
        envelopes::refer_to_answers(&mut doc);
        serde_json::to_string_pretty(&doc).expect("JSON values serialize")
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
