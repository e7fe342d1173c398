//! The server's routes are the ones the contract (docs/API.md) lists and
//! the ones the OpenAPI document describes: every documented endpoint is
//! answered by a handler, never by "no such endpoint" or "method not
//! allowed", and the server's route list (`lottery::api::ROUTES`, which
//! names every route `routes` registers) has none either document lacks.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{fresh_database, Backend, TestApp};

const CONTRACT: &str = include_str!("../../docs/API.md");

/// Documented, not built yet: the contract's v1.2 additions, each with
/// the issue that builds it. A route leaves this list when it is built
/// (the tests below fail until it does).
const NOT_YET: &[(&str, &str)] = &[];

/// Served, and named by the contract otherwise than `METHOD /path`:
/// approved images' files ("served by the server itself", at the path
/// their `url` gives; docs/MEDIA.md), and WeChat's message push.
const BESIDES: &[(&str, &str)] = &[
    ("GET", "/media/{name}"),
    // `GET|POST /api/v1/wechat/push`, written as one.
    ("GET", "/api/v1/wechat/push"),
    ("POST", "/api/v1/wechat/push"),
];

/// Every `METHOD /path` the contract names in a code span, without its
/// query string.
fn documented() -> BTreeSet<(String, String)> {
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    CONTRACT
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (method, rest) = span.split_once(' ')?;
            if !methods.contains(&method) || !rest.starts_with('/') {
                return None;
            }
            let path = rest.split([' ', '?']).next()?;
            Some((method.to_string(), path.to_string()))
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

#[test]
fn the_route_list_is_the_contracts() {
    let documented = documented();
    assert!(
        documented.len() > 10,
        "the contract's routes were not found"
    );
    let built = pairs(lottery::api::ROUTES);
    let not_yet = pairs(NOT_YET);
    let expected: BTreeSet<_> = documented
        .difference(&not_yet)
        .cloned()
        .chain(pairs(BESIDES))
        .collect();
    assert_eq!(
        built, expected,
        "routes built (left) and documented (right) differ"
    );
    assert!(
        not_yet.is_subset(&documented),
        "NOT_YET lists an undocumented route"
    );
}

/// Each listed route reaches a handler; each route not built yet falls
/// through (so NOT_YET is emptied as the round-3 issues land).
#[actix_web::test]
async fn every_listed_route_is_served() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let fallthrough = |body: &serde_json::Value| {
        body["message"].as_str() == Some(lottery::api::NO_SUCH_ENDPOINT) || body["code"] == 40500
    };
    for (i, (method, pattern)) in lottery::api::ROUTES.iter().chain(NOT_YET).enumerate() {
        // A token of its own: one of the routes is the logout.
        let (token, _) = app.login(&format!("contract{i}")).await;
        let path = pattern.replace("{id}", "1").replace("{user_id}", "2");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        let reply = app.call(method.clone(), &path, Some(&token), body).await;
        let listed = lottery::api::ROUTES.contains(&(method.as_str(), pattern));
        assert_eq!(
            !fallthrough(&reply.body),
            listed,
            "{method} {path}: {} {:?}",
            reply.status,
            reply.body
        );
    }
}

/// `GET /api/v1/openapi.json` describes exactly the app's routes, each
/// API operation with its envelope and errors; `/api/v1/docs` renders it.
#[actix_web::test]
async fn the_openapi_document_describes_every_route_and_only_those() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let reply = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    let doc = &reply.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut described = BTreeSet::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            described.insert((method.to_uppercase(), path.clone()));
            let id = operation["operationId"].as_str().unwrap().to_string();
            assert!(operation_ids.insert(id.clone()), "operationId {id} twice");
            if !path.starts_with("/api/v1/")
                || path.starts_with("/api/v1/openapi")
                || path.ends_with("/docs")
            {
                continue;
            }
            let responses = operation["responses"].as_object().unwrap();
            let success = responses
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success answer"));
            // Files and WeChat's push answer are not enveloped (their
            // errors are).
            let unenveloped = [
                ("/claims/export", "text/csv; charset=utf-8"),
                ("/share-code", "image/png"),
                ("/wechat/push", "text/plain"),
            ];
            if let Some((_, content)) = unenveloped.iter().find(|(end, _)| path.ends_with(end)) {
                assert!(
                    success.1["content"][content].is_object(),
                    "{method} {path}: {}",
                    success.1
                );
                continue;
            }
            let schema = success.1["content"]["application/json"]["schema"].to_string();
            assert!(
                schema.contains("code") || schema.contains("Envelope"),
                "{method} {path}: the success answer is not enveloped: {schema}"
            );
            for status in ["400", "429", "500", "503"] {
                let error = &responses[status]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    error, "#/components/schemas/ErrorEnvelope",
                    "{method} {path}: {status}"
                );
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if secured {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
        }
    }
    let built = pairs(lottery::api::ROUTES);
    assert_eq!(
        built, described,
        "routes built (left) and described in openapi.json (right) differ"
    );
    let error_codes = doc["components"]["schemas"]["ErrorEnvelope"].to_string();
    for code in [
        "40000", "40100", "40300", "40400", "40900", "40901", "40902", "40903", "42900", "50300",
    ] {
        assert!(
            error_codes.contains(code),
            "ErrorEnvelope does not list {code}"
        );
    }

    let page = app
        .client
        .get(format!("{}/api/v1/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    // Swagger UI, its script and style in the page: nothing from another
    // host (the contract), the document fetched from this server.
    assert!(html.contains("SwaggerUIBundle") && html.contains(r#"url: "/api/v1/openapi.json""#));
    for outside in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!html.contains(outside), "the docs page loads {outside}…");
    }
}

/// What client generators rely on (issue 27, item 7): an ASCII title,
/// envelopes that name their answer's schema, every operation's errors
/// enveloped whatever the status, an optional join body that is absent
/// rather than null, enums and times typed, bounds that the server keeps.
#[actix_web::test]
async fn the_openapi_document_types_what_generated_clients_use() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let doc = app.get("/api/v1/openapi.json", None).await.body;
    assert!(doc["info"]["title"].as_str().unwrap().is_ascii());
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Envelope_EventView"]["properties"]["data"]["$ref"],
        "#/components/schemas/EventView"
    );
    assert_eq!(
        schemas["Page_EventView"]["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/EventView"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/")
            || path.starts_with("/api/v1/openapi")
            || path.ends_with("/docs")
        {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            assert_eq!(
                operation["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorEnvelope",
                "{method} {path}: no enveloped default answer"
            );
        }
    }
    let join = &doc["paths"]["/api/v1/events/{id}/participants/me"]["put"];
    assert_eq!(join["requestBody"]["required"], false);
    assert_eq!(
        join["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/JoinRequest"
    );
    assert_eq!(join["parameters"][0]["schema"]["minimum"], 1);
    assert_eq!(
        schemas["EventStatus"]["enum"],
        json!(["open", "drawing", "drawn", "cancelled"])
    );
    assert_eq!(
        schemas["DrawMode"]["enum"],
        json!(["at_time", "when_full", "manual"])
    );
    assert_eq!(
        schemas["CancelReason"]["enum"],
        json!(["creator", "too_few_participants"])
    );
    assert_eq!(
        schemas["ClaimStatus"]["enum"],
        json!(["unclaimed", "claimed", "shipped", "received", "expired"])
    );
    let event = &schemas["EventView"];
    assert_eq!(event["properties"]["draw_at"]["format"], "date-time");
    assert_eq!(event["properties"]["drawn_at"]["format"], "date-time");
    let required: Vec<&str> = event["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for always in [
        "drawn_at",
        "cancelled_at",
        "cover",
        "me",
        "max_participants",
    ] {
        assert!(
            required.contains(&always),
            "EventView.{always} is always present"
        );
    }
    let login = &schemas["LoginRequest"];
    assert_eq!(login["required"], json!(["code"]));
    assert_eq!(
        login["properties"]["code"]["type"], "string",
        "code is not nullable"
    );
    let limit = &doc["paths"]["/api/v1/me/events"]["get"]["parameters"][1];
    assert_eq!(
        (
            &limit["name"],
            &limit["schema"]["minimum"],
            &limit["schema"]["maximum"]
        ),
        (&json!("limit"), &json!(1), &json!(100))
    );
}

/// JSON Schema's `integer` takes `1.0` as well as `1` (the document says
/// integer): the server reads both, and still refuses `1.5`.
#[actix_web::test]
async fn whole_numbers_written_with_a_fraction_are_integers() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let (token, _) = app.login("whole").await;
    let draw_at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = |quantity: serde_json::Value| json!({"title": "t", "draw_at": draw_at, "claim_days": 3.0, "prizes": [{"name": "p", "quantity": quantity}]});
    let made = app
        .post("/api/v1/events", Some(&token), body(json!(2.0)))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["data"]["prizes"][0]["quantity"], 2);
    assert_eq!(made.body["data"]["claim_days"], 3);
    let refused = app
        .post("/api/v1/events", Some(&token), body(json!(1.5)))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["code"], 40000);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("whole number"),
        "{}",
        refused.body
    );
}
