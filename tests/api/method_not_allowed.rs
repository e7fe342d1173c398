//! A known path asked with a method it does not have answers 405 (40500)
//! in the envelope, with `Allow` listing the path's methods as
//! `lottery::api::ROUTES` has them; an unknown path stays 404 (40400).

use reqwest::Method;

use crate::helpers::{Backend, TestApp};

#[actix_web::test]
async fn a_method_the_path_lacks_is_405_with_the_paths_methods() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/events/1", "GET"),
        (Method::PATCH, "/api/v1/events", "POST"),
        (Method::POST, "/healthz", "GET"),
        (Method::PUT, "/api/v1/me", "GET, PATCH"),
        (Method::GET, "/api/v1/auth/login", "POST"),
        (
            Method::POST,
            "/api/v1/events/42/participants/me",
            "PUT, DELETE",
        ),
        // No route answers HEAD or OPTIONS (CORS off), so Allow names
        // neither.
        (Method::OPTIONS, "/api/v1/events/1/winners", "GET"),
    ] {
        let r = app.call(method.clone(), path, None, None).await;
        let what = format!("{method} {path}: {:?}", r.body);
        assert_eq!((r.status.as_u16(), r.code()), (405, 40500), "{what}");
        assert_eq!(r.headers["allow"], allow, "{what}");
        assert_eq!(
            r.body.as_object().map(|o| o.len()),
            Some(3),
            "the envelope: {what}"
        );
        assert!(r.body["data"].is_null(), "{what}");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(allow), "{what}");
    }
}

#[actix_web::test]
async fn head_is_not_served_and_allow_says_so() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/healthz", "/api/v1/events/1"] {
        let r = app.call(Method::HEAD, path, None, None).await;
        assert_eq!(r.status, 405, "HEAD {path}");
        assert_eq!(r.headers["allow"], "GET", "HEAD {path}");
    }
}

#[actix_web::test]
async fn an_unknown_path_stays_404_without_allow() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (method, path) in [
        (Method::GET, "/api/v1/nowhere"),
        (Method::DELETE, "/api/v1/nowhere"),
        (Method::GET, "/api/v1/events/1/nothing"),
        (Method::POST, "/api/v1/events/"),
        // Only numeric segments stand for `{id}`.
        (Method::DELETE, "/api/v1/events/abc"),
    ] {
        let r = app.call(method.clone(), path, None, None).await;
        let what = format!("{method} {path}: {:?}", r.body);
        assert_eq!((r.status.as_u16(), r.code()), (404, 40400), "{what}");
        assert_eq!(r.body["message"], lottery::api::NO_SUCH_ENDPOINT, "{what}");
        assert!(r.body["data"].is_null(), "{what}");
        assert!(!r.headers.contains_key("allow"), "{what}");
    }
}
