//! The HTTP side: routes, extractors, views and thin handlers. Handlers
//! parse, authorize, send one message or run one query, and shape the answer.

pub mod auth;
pub mod body;
pub mod claim_views;
pub mod client_addr;
pub mod compression;
pub mod conditional;
pub mod cors;
pub mod envelope;
pub mod error_response;
pub mod event_id;
pub mod event_pages;
pub mod forward;
pub mod handlers;
pub mod idempotency;
pub mod image_verdicts;
pub mod limits;
pub mod media_keeper;
pub mod media_views;
pub mod middleware;
pub mod openapi;
pub mod page;
pub mod readiness;
pub mod risk;
pub mod signature;
pub mod signing;
pub mod signing_keys;
pub mod state;
pub mod upload;
pub mod views;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;

/// Every route `routes` registers, as (method, pattern): the metric labels
/// (kept here because actix's `match_pattern()` re-runs the router's
/// regexes on every request, which showed up in profiles of the join hot
/// path), the `Allow` of a 405 and the list a test holds against
/// docs/API.md.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("GET", "/api/v1/me/events"),
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/events/{id}"),
    ("POST", "/api/v1/events/{id}/cancel"),
    ("POST", "/api/v1/events/{id}/draw"),
    ("GET", "/api/v1/events/{id}/winners"),
    ("GET", "/api/v1/events/{id}/fairness"),
    ("GET", "/api/v1/events/{id}/participants"),
    ("PUT", "/api/v1/events/{id}/participants/me"),
    ("DELETE", "/api/v1/events/{id}/participants/me"),
    ("GET", "/api/v1/events/{id}/claim"),
    ("PUT", "/api/v1/events/{id}/claim"),
    ("POST", "/api/v1/events/{id}/claim/received"),
    ("GET", "/api/v1/events/{id}/claims"),
    ("GET", "/api/v1/events/{id}/claims/export"),
    ("POST", "/api/v1/events/{id}/claims/{user_id}/ship"),
    ("POST", "/api/v1/events/{id}/redraw"),
    ("POST", "/api/v1/events/{id}/groups"),
    ("GET", "/api/v1/events/{id}/share-code"),
    ("POST", "/api/v1/media"),
    ("GET", "/api/v1/media/{id}"),
    ("GET", "/media/{name}"),
    ("GET", "/api/v1/wechat/push"),
    ("POST", "/api/v1/wechat/push"),
];

/// Bulk sessions for load tests, registered only when
/// `LOTTERY_LOAD_TEST_SESSIONS` is on: outside `ROUTES` and the OpenAPI
/// document, because no client of the API may rely on it.
pub fn load_test_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/load-test/sessions",
        web::post().to(handlers::load_test::sessions),
    );
}

/// What the default service answers when no route has this path.
pub const NO_SUCH_ENDPOINT: &str = "no such endpoint";

/// The route a path belongs to (numeric segments stand for `{id}`), or
/// "other", so labels stay few whatever clients send.
pub fn route_label(path: &str) -> &'static str {
    route_of(path).unwrap_or("other")
}

/// The pattern of `ROUTES` a path belongs to. Image ids and file names
/// are not numbers: their routes are found by prefix.
fn route_of(path: &str) -> Option<&'static str> {
    for (prefix, pattern) in [
        ("/api/v1/media/", "/api/v1/media/{id}"),
        ("/media/", "/media/{name}"),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return (!rest.is_empty() && !rest.contains('/')).then_some(pattern);
        }
    }
    pattern_of(path)
}

/// The pattern of `ROUTES` a path matches, numeric segments standing for
/// the pattern's `{id}` or `{user_id}`. One pass over the path and one
/// hash lookup: this runs for every request (its metric label), and a
/// scan of the patterns showed up at 5 % of a hot join's CPU.
fn pattern_of(path: &str) -> Option<&'static str> {
    static BY_SHAPE: std::sync::LazyLock<std::collections::HashMap<String, &'static str>> =
        std::sync::LazyLock::new(|| {
            ROUTES
                .iter()
                .map(|(_, pattern)| (shape(pattern, |s| s.starts_with('{')), *pattern))
                .collect()
        });
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    BY_SHAPE.get(&shape(path, numeric)).copied()
}

/// A path with each segment `is_id` accepts written as `{}`.
fn shape(path: &str, is_id: impl Fn(&str) -> bool) -> String {
    let mut shape = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            shape.push('/');
        }
        shape.push_str(if is_id(segment) { "{}" } else { segment });
    }
    shape
}

/// The admin address's routes (`LOTTERY_ADMIN_BIND`): the figures, and the
/// probes for whatever watches that port.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    use handlers::ops;
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics));
}

/// Every route of the API's port; `/metrics` only when no admin address
/// took it (`with_metrics`).
pub fn routes(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    use handlers::{
        auth, claims, events, groups, me, media, ops, participation, push, redraw, results, share,
    };
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|err, _| AppError::InvalidArgument(format!("bad path: {err}")).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        AppError::InvalidArgument(format!("bad query string: {err}")).into()
    }))
    .route("/healthz", web::get().to(ops::healthz))
    .route("/readyz", web::get().to(ops::readyz))
    .route(
        "/metrics",
        if with_metrics {
            web::get().to(ops::metrics)
        } else {
            // Moved to the admin address: not found here, whatever the
            // method (not the 405 a known path would get).
            web::route().to(|| async {
                Err::<HttpResponse, _>(AppError::NotFound(NO_SUCH_ENDPOINT.into()))
            })
        },
    )
    .route("/media/{name}", web::get().to(media::file))
    .service(
        web::scope("/api/v1")
            .route("/openapi.json", web::get().to(openapi::openapi_json))
            .route("/docs", web::get().to(openapi::docs_page))
            .route("/auth/login", web::post().to(auth::login))
            .route("/auth/logout", web::post().to(auth::logout))
            .route("/me", web::get().to(me::get))
            .route("/me", web::patch().to(me::update))
            .route("/me/events", web::get().to(me::events))
            .route("/events", web::post().to(events::create))
            .route("/media", web::post().to(media::upload))
            .route("/media/{id}", web::get().to(media::get))
            .route("/wechat/push", web::get().to(push::verify))
            .route("/wechat/push", web::post().to(push::receive))
            // One scope per event: the router matches `{id}` once instead of
            // trying each event route's pattern in turn.
            .service(
                web::scope("/events/{id}")
                    .route("", web::get().to(events::get))
                    .route("/cancel", web::post().to(events::cancel))
                    .route("/draw", web::post().to(events::draw))
                    .route("/winners", web::get().to(results::winners))
                    .route("/fairness", web::get().to(results::fairness))
                    .route("/participants", web::get().to(participation::list))
                    .route("/participants/me", web::put().to(participation::join))
                    .route("/participants/me", web::delete().to(participation::leave))
                    .route("/claim", web::get().to(claims::own))
                    .route("/claim", web::put().to(claims::give_details))
                    .route("/claim/received", web::post().to(claims::received))
                    .route("/claims", web::get().to(claims::list))
                    .route("/claims/export", web::get().to(claims::export))
                    .route("/claims/{user_id}/ship", web::post().to(claims::ship))
                    .route("/redraw", web::post().to(redraw::redraw))
                    .route("/groups", web::post().to(groups::bind))
                    .route("/share-code", web::get().to(share::share_code)),
            ),
    )
    .default_service(web::to(no_route));
}

/// A request no route took: its path with another method is a 405 that
/// lists the path's methods, any other path a 404. Each route is its own
/// resource guarded by its method, so actix sends both here, and only
/// these misses pay for the lookup.
async fn no_route(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let Some(pattern) = route_of(req.path()) else {
        return Err(AppError::NotFound(NO_SUCH_ENDPOINT.into()));
    };
    let allow: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, p)| *p == pattern)
        .map(|(method, _)| *method)
        .collect();
    Err(AppError::MethodNotAllowed {
        allow: allow.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn route_labels_collapse_ids_and_unknown_paths() {
        assert_eq!(
            route_label("/api/v1/events/42/participants/me"),
            "/api/v1/events/{id}/participants/me"
        );
        assert_eq!(route_label("/api/v1/events/abc"), "other");
        assert_eq!(route_label("/healthz"), "/healthz");
        assert_eq!(route_label("/x/1/2"), "other");
        assert_eq!(
            route_label("/api/v1/events/42/claims/7/ship"),
            "/api/v1/events/{id}/claims/{user_id}/ship"
        );
        assert_eq!(route_label("/api/v1/events/42/claims/x/ship"), "other");
        assert_eq!(route_label("/api/v1/media"), "/api/v1/media");
        assert_eq!(route_label("/api/v1/media/AbC-_x"), "/api/v1/media/{id}");
        assert_eq!(route_label("/media/AbC.thumb.jpg"), "/media/{name}");
        assert_eq!(route_label("/media/a/b"), "other");
    }
}
