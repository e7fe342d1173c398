//! The server's routes are the ones the contract (docs/API.md) lists: every
//! documented endpoint is answered by a handler, never by "no such
//! endpoint", and the server's route list (`lottery::api::ROUTES`, which
//! names every route `routes` registers) has none the document lacks.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{fresh_database, Backend, TestApp};

const CONTRACT: &str = include_str!("../../docs/API.md");

/// Documented, not built yet: issue 11 (the OpenAPI document and its page).
const NOT_YET: &[(&str, &str)] = &[("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")];

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
    let expected: BTreeSet<_> = documented.difference(&not_yet).cloned().collect();
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
/// through (so NOT_YET is emptied as issue 11 lands).
#[actix_web::test]
async fn every_listed_route_is_served() {
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &[]).await;
    let fallthrough =
        |body: &serde_json::Value| body["message"].as_str() == Some(lottery::api::NO_SUCH_ENDPOINT);
    for (i, (method, pattern)) in lottery::api::ROUTES.iter().chain(NOT_YET).enumerate() {
        // A token of its own: one of the routes is the logout.
        let (token, _) = app.login(&format!("contract{i}")).await;
        let path = pattern.replace("{id}", "1");
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
