use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    dev_login_me_and_logout,
    login_errors,
    profile_updates,
    openids_differing_in_case_are_two_users,
    bodies_are_objects_and_the_bearer_scheme_is_read_as_rfc_9110_says
);

/// Issue 24's finding 9: a JSON array where the contract says object (it
/// logged in), several Authorization headers, and the scheme's case.
async fn bodies_are_objects_and_the_bearer_scheme_is_read_as_rfc_9110_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for body in [
        json!(["dev:arrays"]),
        json!("dev:arrays"),
        json!(42),
        json!(null),
    ] {
        let r = app.post("/auth/login", None, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, 40000),
            "{body} → {:?}",
            r.body
        );
        assert!(r.message().contains("JSON object"), "{}", r.message());
    }
    let (token, user_id) = app.login("schemes").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let res = app
            .client
            .get(format!("{}/api/v1/me", app.base))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["data"]["id"], user_id);
    }
    // Two headers (here both valid): refused, never one picked.
    let res = app
        .client
        .get(format!("{}/api/v1/me", app.base))
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], 40100);
    for bad in ["Basic abc", "Bearer", "Bearer   ", "Token abc"] {
        let res = app
            .client
            .get(format!("{}/api/v1/me", app.base))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{bad}");
    }
}

/// WeChat openids are case-sensitive: on MySQL a case-insensitive column
/// once merged these two into one account.
async fn openids_differing_in_case_are_two_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (upper, upper_id) = app.login("Alice").await;
    let (lower, lower_id) = app.login("alice").await;
    assert_ne!(upper_id, lower_id, "dev:Alice and dev:alice are two users");
    assert_eq!(app.login("Alice").await.1, upper_id);
    assert_eq!(app.login("alice").await.1, lower_id);
    assert_eq!(app.get("/me", Some(&upper)).await.data()["id"], upper_id);
    assert_eq!(app.get("/me", Some(&lower)).await.data()["id"], lower_id);
}

async fn dev_login_me_and_logout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, id) = app.login("alice").await;
    let (again, same_id) = app.login("alice").await;
    assert_eq!(id, same_id, "one openid, one user");
    assert_ne!(token, again, "each login gets its own token");
    // An answer holding a session token is kept by no cache.
    let login = app
        .post("/auth/login", None, json!({"code": "dev:alice"}))
        .await;
    assert_eq!(login.headers["cache-control"], "no-store");

    let me = app.get("/me", Some(&token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["code"], 0);
    assert_eq!(me.data()["id"], id);
    assert!(me.data()["nickname"].is_null());

    let out = app.post("/auth/logout", Some(&token), json!({})).await;
    assert_eq!(out.status, 200);
    let after = app.get("/me", Some(&token)).await;
    assert_eq!((after.status.as_u16(), after.code()), (401, 40100));
    // The other session is untouched.
    assert_eq!(app.get("/me", Some(&again)).await.status, 200);
}

async fn login_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (body, code) in [
        (json!({}), 40000),
        (json!({"code": ""}), 40000),
        (json!({"code": "dev:"}), 40000),
        (json!({"code": "dev:bad name"}), 40000),
        (json!({"code": format!("dev:{}", "x".repeat(65))}), 40000),
        (json!({"code": "0a1b2c"}), 40101),
    ] {
        let r = app.post("/auth/login", None, body.clone()).await;
        assert_eq!(r.code(), code, "{body} → {:?}", r.body);
        assert_eq!(r.status.as_u16() as i64, code / 100);
        assert!(r.data().is_null());
    }
    let malformed = app
        .client
        .post(format!("{}/api/v1/auth/login", app.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    for token in [None, Some("nope")] {
        let r = app.get("/me", token).await;
        assert_eq!((r.status.as_u16(), r.code()), (401, 40100));
    }
    let bad_scheme = app
        .client
        .get(format!("{}/api/v1/me", app.base))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_scheme.status(), 401);
}

async fn profile_updates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = app.login("carol").await;
    let r = app
        .call(
            Method::PATCH,
            "/me",
            Some(&token),
            Some(json!({"nickname": " 小红 ", "avatar_url": "https://img.example.com/a.png"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["nickname"], "小红");
    assert_eq!(r.data()["avatar_url"], "https://img.example.com/a.png");

    for bad in [
        json!({"nickname": ""}),
        json!({"nickname": "x".repeat(33)}),
        // 33 as sent, 32 once trimmed: the document's maxLength is on the
        // value as sent (schemathesis's case from CI, 2026-12-07).
        json!({"nickname": format!("\t´Ó{}", "*".repeat(30))}),
        json!({"avatar_url": "http://img.example.com/a.png"}),
        json!({"unknown": 1}),
    ] {
        let r = app
            .call(Method::PATCH, "/me", Some(&token), Some(bad.clone()))
            .await;
        assert_eq!(r.code(), 40000, "{bad}");
    }
    // Nothing bad was stored.
    assert_eq!(
        app.get("/me", Some(&token)).await.data()["nickname"],
        "小红"
    );
}
