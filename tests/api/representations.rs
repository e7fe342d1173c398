//! What clients and caches see of an answer besides its JSON: entity tags
//! and `Cache-Control` on drawn and cancelled pages (per viewer), and the
//! content codings (gzip, br) of answers over 1 KiB.

use std::io::Read;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{event_body, Backend, TestApp};

both_backends!(
    finished_pages_revalidate_per_viewer,
    answers_over_a_kib_are_compressed_when_asked
);

struct Seen {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// The `Vary` names, in any order.
    fn vary(&self) -> Vec<&str> {
        let mut names = self.all("vary");
        names.sort();
        names
    }

    fn etag(&self) -> String {
        self.header("etag").expect("an ETag").to_string()
    }

    /// The body decoded as its `Content-Encoding` says.
    fn plain(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.header("content-encoding") {
            None => out.extend_from_slice(&self.body),
            Some("gzip") => {
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Some("br") => {
                brotli::Decompressor::new(&self.body[..], 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Some(other) => panic!("unexpected coding {other}"),
        }
        out
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.plain()).unwrap()
    }
}

/// GET `path` (under /api/v1) with a token and request headers, as a raw
/// client would send it (the test client adds no `Accept-Encoding` and
/// decodes nothing).
async fn fetch(app: &TestApp, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Seen {
    let mut req = app.client.get(format!("{}/api/v1{path}", app.base));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    Seen {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

/// A live page has no tag (it changes with every join). A drawn page has
/// one per viewer: the anonymous page's is public, a viewer's private and
/// `Vary: Authorization`; a winner's, a loser's and an outsider's differ,
/// and none revalidates another's (a winner's tag sent by a loser gets the
/// loser's page). The first view after the draw (from the database) and
/// the next (from memory) carry the same tag. A cancelled page is tagged.
async fn finished_pages_revalidate_per_viewer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let (outsider, _) = app.login("outsider").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    body["prizes"] = json!([{"name": "Gold", "quantity": 1}]);
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    let users = app.joined_users(id, "r", 3).await;
    let page = format!("/events/{id}");

    let live = fetch(&app, &page, None, &[]).await;
    assert_eq!(live.status, 200);
    assert_eq!(
        live.header("etag"),
        None,
        "a live page changes with every join"
    );
    assert_eq!(live.header("cache-control"), None);

    let drawn = app
        .post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    assert_eq!(drawn.status, 200);
    let first = fetch(&app, &page, None, &[]).await;
    let again = fetch(&app, &page, None, &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["data"]["status"], "drawn");
    assert_eq!(first.etag(), again.etag(), "same bytes, same tag");
    assert_eq!(first.header("cache-control"), Some("public, no-cache"));
    assert_eq!(first.vary(), ["authorization"]);
    let held = fetch(&app, &page, None, &[("if-none-match", &first.etag())]).await;
    assert_eq!((held.status, held.body.len()), (304, 0));
    assert_eq!(held.etag(), first.etag());

    let winners = app.get(&format!("/events/{id}/winners"), None).await;
    let winner_id = winners.data()["items"][0]["user"]["id"].as_i64().unwrap();
    let winner = &users.iter().find(|(_, u)| *u == winner_id).unwrap().0;
    let loser = &users.iter().find(|(_, u)| *u != winner_id).unwrap().0;
    let as_winner = fetch(&app, &page, Some(winner), &[]).await;
    let as_loser = fetch(&app, &page, Some(loser), &[]).await;
    let as_outsider = fetch(&app, &page, Some(&outsider), &[]).await;
    assert!(as_winner.json()["data"]["me"]["prize"].is_object());
    assert_eq!(as_winner.header("cache-control"), Some("private, no-cache"));
    let tags = [
        first.etag(),
        as_winner.etag(),
        as_loser.etag(),
        as_outsider.etag(),
    ];
    for (i, a) in tags.iter().enumerate() {
        for b in &tags[i + 1..] {
            assert_ne!(a, b, "each kind of viewer has its own tag");
        }
    }
    let borrowed = fetch(
        &app,
        &page,
        Some(loser),
        &[("if-none-match", &as_winner.etag())],
    )
    .await;
    assert_eq!(
        borrowed.status, 200,
        "a winner's tag does not stand for a loser's page"
    );
    assert!(borrowed.json()["data"]["me"]["prize"].is_null());
    let own = fetch(
        &app,
        &page,
        Some(winner),
        &[("if-none-match", &as_winner.etag())],
    )
    .await;
    assert_eq!(own.status, 304);

    let id = app.create_event(&owner, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let cancelled = app
        .post(&format!("/events/{id}/cancel"), Some(&owner), json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    let page = format!("/events/{id}");
    let seen = fetch(&app, &page, None, &[]).await;
    assert_eq!(seen.json()["data"]["status"], "cancelled");
    let held = fetch(&app, &page, None, &[("if-none-match", &seen.etag())]).await;
    assert_eq!(held.status, 304);
}

/// An answer over 1 KiB goes out in the coding asked for (gzip, br; by
/// weight), says `Vary: Accept-Encoding` either way, and decodes to the
/// plain answer; kept answers (a live page, a drawn page) and built ones
/// (a list) alike. Small answers, and a client that asks for none or
/// refuses them, get the plain bytes.
async fn answers_over_a_kib_are_compressed_when_asked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _) = app.login("owner").await;
    let mut body = event_body(3600);
    body["draw_mode"] = json!("manual");
    body["description"] = json!("抽奖 lucky draw, share it with friends. ".repeat(24));
    let id = app.create_event(&owner, body).await["id"].as_i64().unwrap();
    app.joined_users(id, "c", 3).await;
    let page = format!("/events/{id}");

    let plain = fetch(&app, &page, None, &[]).await;
    assert!(plain.body.len() > 1024, "{} bytes", plain.body.len());
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.vary(), ["accept-encoding"]);
    for (asked, coding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("gzip;q=1, br;q=0.5", "gzip"),
    ] {
        let seen = fetch(&app, &page, None, &[("accept-encoding", asked)]).await;
        assert_eq!(seen.header("content-encoding"), Some(coding), "{asked}");
        assert_eq!(seen.vary(), ["accept-encoding"]);
        assert!(seen.body.len() < plain.body.len() / 2, "{asked}");
        assert_eq!(seen.plain(), plain.body, "{asked}");
    }
    for refused in ["identity", "br;q=0, gzip;q=0", "deflate"] {
        let seen = fetch(&app, &page, None, &[("accept-encoding", refused)]).await;
        assert_eq!(seen.header("content-encoding"), None, "{refused}");
        assert_eq!(seen.body, plain.body);
    }

    // Built as they leave: a list of events.
    let list = fetch(
        &app,
        "/me/events?role=created",
        Some(&owner),
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-encoding"), Some("gzip"));
    assert_eq!(list.json()["data"]["items"][0]["id"], id);

    // Small: as it is, and no Vary.
    let me = fetch(
        &app,
        "/me",
        Some(&owner),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!(me.status, 200);
    assert!(me.body.len() <= 1024);
    assert_eq!(me.header("content-encoding"), None);
    assert!(me.vary().is_empty());

    // Kept with its tag (a drawn page): the compressed copy's tag is weak
    // and revalidates, for this coding as for the plain bytes.
    app.post(&format!("/events/{id}/draw"), Some(&owner), json!({}))
        .await;
    let full = fetch(&app, &page, None, &[]).await;
    let coded = fetch(&app, &page, None, &[("accept-encoding", "br")]).await;
    assert_eq!(full.json()["data"]["status"], "drawn");
    assert_eq!(coded.header("content-encoding"), Some("br"));
    assert_eq!(coded.vary(), ["accept-encoding", "authorization"]);
    assert_eq!(coded.etag(), format!("W/{}", full.etag()));
    assert_eq!(coded.plain(), full.body);
    let held = fetch(
        &app,
        &page,
        None,
        &[("accept-encoding", "br"), ("if-none-match", &coded.etag())],
    )
    .await;
    assert_eq!((held.status, held.body.len()), (304, 0));
    assert_eq!(held.etag(), coded.etag());
    assert_eq!(held.vary(), ["accept-encoding", "authorization"]);
}
