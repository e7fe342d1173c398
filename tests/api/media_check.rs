//! WeChat's content check of images (docs/MEDIA.md): an upload is pending
//! until WeChat's verdict arrives at the message push URL; pending images
//! reach their uploader and WeChat only (signed URLs); a verdict shows or
//! removes the image on every page that uses it, live or cached, here and
//! on another instance; pushes that are not WeChat's change nothing;
//! checks that fail or never answer are asked again.
//!
//! The mock emulates media_check_async and the push as WeChat documents
//! them (see `wechat_mock`: the request's fields, the answer's trace_id,
//! the push's signature, safe mode's AES envelope and the documented
//! verdict body in JSON and XML).

use std::time::Duration;

use image::ImageFormat;
use serde_json::{json, Value};

use crate::helpers::{
    free_port, fresh_database, in_secs, redis_settings, required_redis, setting_refs, Backend,
    TestApp,
};
use crate::media::{picture, upload};
use crate::wechat_mock::{login, push, push_at, verdict_body, PushMode, WechatMock};

pub const PUSH_TOKEN: &str = "push-token-3e7a";
/// A 43-character EncodingAESKey, as the console makes them.
pub const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

crate::both_backends!(an_image_is_shown_once_wechat_passes_it_and_removed_when_it_refuses);

/// An app that checks images with the mock, reachable at its public URL.
pub async fn checked_app(mock: &WechatMock, url: &str, extra: &[(&str, &str)]) -> TestApp {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let public = format!("http://127.0.0.1:{port}");
    let mut settings = vec![
        ("LOTTERY_BIND", bind.as_str()),
        ("LOTTERY_PUBLIC_URL", public.as_str()),
        ("LOTTERY_WECHAT_PUSH_TOKEN", PUSH_TOKEN),
        ("LOTTERY_WECHAT_PUSH_AES_KEY", AES_KEY),
    ];
    settings.extend_from_slice(extra);
    mock.app(url, &settings).await
}

async fn fetch(app: &TestApp, url: &str) -> (u16, String, Vec<u8>) {
    let url = if url.starts_with('/') {
        format!("{}{url}", app.base)
    } else {
        url.to_string()
    };
    let res = app.client.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, cache, res.bytes().await.unwrap().to_vec())
}

/// Polls the event's page until `shown` holds for it (a verdict's page
/// refresh follows the push's answer), or fails after 5 s.
async fn wait_page(app: &TestApp, id: i64, what: &str, shown: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let page = app.get(&format!("/events/{id}"), None).await.data().clone();
        if shown(&page) {
            return page;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not shown in 5 s");
}

pub fn trace_of(mock: &WechatMock, media_url_part: &str) -> String {
    mock.media_checks()
        .iter()
        .find(|c| c["media_url"].as_str().unwrap().contains(media_url_part))
        .map(|c| c["trace_id"].as_str().unwrap().to_string())
        .expect("the image was sent to WeChat's check")
}

/// The names of the objects under `prefix` of the store's directory that
/// belong to the image `id` (none if the prefix was never made).
fn objects_of(store: &std::path::Path, prefix: &str, id: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(store.join(prefix)) else {
        return Vec::new();
    };
    dir.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with(id))
        .collect()
}

async fn an_image_is_shown_once_wechat_passes_it_and_removed_when_it_refuses(backend: Backend) {
    let mock = WechatMock::start(Duration::ZERO).await;
    let store = std::env::temp_dir().join(format!("lottery-tests/check-{}", rand::random::<u64>()));
    let setting = format!("fs://{}", store.display());
    let app = checked_app(
        &mock,
        &fresh_database(backend),
        &[("LOTTERY_MEDIA_STORE", &setting)],
    )
    .await;
    let (token, _) = login(&app, "creator").await;
    let (other, _) = login(&app, "stranger").await;

    // Pending: the uploader sees it at signed URLs; nobody else at all.
    let cover = upload(&app, &token, "c.jpg", &picture(64, 48, ImageFormat::Jpeg)).await;
    assert_eq!(cover.status, 201, "{:?}", cover.body);
    let cover = cover.data().clone();
    let cover_id = cover["id"].as_str().unwrap().to_string();
    assert_eq!(cover["status"], "pending");
    let signed = cover["url"].as_str().unwrap().to_string();
    assert!(
        signed.starts_with(&app.base) && signed.contains("sig="),
        "{signed}"
    );
    let r = app.get(&format!("/media/{cover_id}"), Some(&other)).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, 40400));
    let r = app.get(&format!("/media/{cover_id}"), Some(&token)).await;
    assert_eq!(r.data()["status"], "pending");
    // Its files are under pending/, which nothing makes public; nothing
    // of it is under media/, which a CDN may read.
    assert_eq!(objects_of(&store, "pending", &cover_id).len(), 2);
    assert!(objects_of(&store, "media", &cover_id).is_empty());

    // WeChat was asked as documented, and can download the image.
    let check = mock.media_checks()[0].clone();
    assert_eq!(
        (check["media_type"].as_i64(), check["version"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(check["scene"], 3);
    assert_eq!(check["openid"], "o_creator");
    let media_url = check["media_url"].as_str().unwrap().to_string();
    let (status, cache, bytes) = fetch(&app, &media_url).await;
    assert_eq!((status, cache.as_str()), (200, "private, no-store"));
    assert!(image::load_from_memory(&bytes).is_ok());
    // Without the signature, with another image's, or altered: 404.
    let bare = media_url.split('?').next().unwrap().to_string();
    assert_eq!(fetch(&app, &bare).await.0, 404);
    let altered = media_url.replace("expires=", "expires=1");
    assert_eq!(fetch(&app, &altered).await.0, 404);

    // An event may name it; its pages show nothing there until it passes.
    let prize = upload(&app, &token, "p.png", &picture(32, 32, ImageFormat::Png)).await;
    let prize_id = prize.data()["id"].as_str().unwrap().to_string();
    let event = app
        .create_event(
            &token,
            json!({"title": "Pictures pending", "draw_at": in_secs(3600), "cover": cover_id,
                   "prizes": [{"name": "Mug", "quantity": 1, "image": prize_id}]}),
        )
        .await;
    let id = event["id"].as_i64().unwrap();
    assert!(event["cover"].is_null() && event["prizes"][0]["image"].is_null());
    // Viewed: the event's actor publishes its live page, with no image.
    let live = app.get(&format!("/events/{id}"), None).await;
    assert!(live.data()["cover"].is_null());
    // A drawn event's page, cached once viewed, with a pending image too.
    let drawn = app
        .create_event(
            &token,
            json!({"title": "Drawn with a cover", "draw_at": in_secs(3600), "draw_mode": "manual",
                   "cover": cover_id, "prizes": [{"name": "Pen", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let r = app
        .post(&format!("/events/{drawn}/draw"), Some(&token), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(app.get(&format!("/events/{drawn}"), None).await.data()["cover"].is_null());

    // Someone else's push (no or a wrong signature): nothing changes.
    let trace = trace_of(&mock, &cover_id);
    let pass = verdict_body(&trace, "pass", 0, false);
    let (status, _) = push(&app, "not-the-token", PushMode::SafeJson(AES_KEY), &pass).await;
    assert_eq!(status, 401);
    // A plain push to a server in safe mode (its signature does not cover
    // the body), and a genuine one ten minutes old (a replay): refused.
    let (status, _) = push(&app, PUSH_TOKEN, PushMode::PlainJson, &pass).await;
    assert_eq!(status, 401, "plain while safe mode is configured");
    let stale = chrono::Utc::now().timestamp() - 600;
    let (status, _) = push_at(&app, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &pass, stale).await;
    assert_eq!(status, 401, "a stale timestamp");
    // A verdict for a check no image has (yet): not `success`, so WeChat
    // sends it again.
    let unknown = verdict_body("60f96f1d-3845297a-ffffffff", "pass", 0, false);
    let (status, _) = push(&app, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &unknown).await;
    assert_eq!(status, 503);
    let res = app
        .client
        .post(format!("{}/api/v1/wechat/push", app.base))
        .body(pass.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.get(&format!("/media/{cover_id}"), Some(&token))
            .await
            .data()["status"],
        "pending"
    );
    // The console's URL check: echostr back as plain text.
    let now = chrono::Utc::now().timestamp().to_string();
    let sig = lottery::wechat::push::signature(PUSH_TOKEN, &[&now, "1514711492"]);
    let res = app
        .client
        .get(format!(
            "{}/api/v1/wechat/push?signature={sig}&timestamp={now}&nonce=1514711492&echostr=4375120948345356249",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), "4375120948345356249");

    // WeChat passes the cover (plain JSON): every page shows it, the live
    // one and the drawn one's cached page, and its file is public.
    let (status, body) = push(&app, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &pass).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    let page = wait_page(&app, id, "the passed cover", |p| {
        p["cover"]["id"] == cover_id.as_str()
    })
    .await;
    wait_page(&app, drawn, "the drawn event's cover", |p| {
        p["cover"]["id"] == cover_id.as_str()
    })
    .await;
    // Its files moved to media/ before it was shown anywhere.
    assert_eq!(objects_of(&store, "media", &cover_id).len(), 2);
    for _ in 0..100 {
        if objects_of(&store, "pending", &cover_id).is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(objects_of(&store, "pending", &cover_id).is_empty());
    let (status, cache, _) = fetch(&app, page["cover"]["url"].as_str().unwrap()).await;
    assert_eq!(
        (status, cache.as_str()),
        (200, "public, max-age=31536000, immutable")
    );
    assert_eq!(
        app.get(&format!("/media/{cover_id}"), Some(&other))
            .await
            .data()["status"],
        "approved"
    );
    // The same push again (WeChat repeats what it thinks was lost): no change.
    let (status, body) = push(
        &app,
        PUSH_TOKEN,
        PushMode::SafeJson(AES_KEY),
        &verdict_body(&trace, "risky", 0, true),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_eq!(
        app.get(&format!("/media/{cover_id}"), None).await.data()["status"],
        "approved"
    );

    // WeChat refuses the prize's picture (safe mode): it is gone from
    // its uploader's view, from the store and from the page.
    let trace = trace_of(&mock, &prize_id);
    let risky = verdict_body(&trace, "risky", 0, false);
    let (status, body) = push(&app, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &risky).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    let r = app.get(&format!("/media/{prize_id}"), Some(&token)).await;
    assert_eq!(r.data()["status"], "rejected");
    assert_eq!(fetch(&app, &format!("/media/{prize_id}.png")).await.0, 404);
    let page = wait_page(&app, id, "the cover still", |p| {
        p["cover"]["id"] == cover_id.as_str()
    })
    .await;
    assert!(page["prizes"][0]["image"].is_null());
    let left = || {
        let mut left = objects_of(&store, "pending", &prize_id);
        left.extend(objects_of(&store, "media", &prize_id));
        left
    };
    for _ in 0..100 {
        if left().is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(left(), Vec::<String>::new(), "a refused image's files");
    // A rejected image cannot be named by a new event.
    let r = app
        .post(
            "/events",
            Some(&token),
            json!({"title": "Again", "draw_at": in_secs(3600), "cover": prize_id,
                   "prizes": [{"name": "Mug", "quantity": 1}]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
}

/// A check WeChat did not take (an errcode) is asked again a few minutes
/// later, one that never got a verdict an hour later; a verdict WeChat
/// could not reach (-1008) leaves the image pending.
#[actix_web::test]
async fn a_check_that_failed_or_never_answered_is_asked_again() {
    let mock = WechatMock::start(Duration::ZERO).await;
    // Plain mode (no EncodingAESKey): the console's 明文模式.
    let app = checked_app(
        &mock,
        &fresh_database(Backend::Sqlite),
        &[("LOTTERY_WECHAT_PUSH_AES_KEY", "")],
    )
    .await;
    let (token, _) = login(&app, "creator").await;
    mock.media_errors(&[-1]);
    let r = upload(&app, &token, "c.jpg", &picture(40, 40, ImageFormat::Jpeg)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert!(mock.media_checks().is_empty(), "WeChat did not take it");
    lottery::api::media_keeper::round(&app.state).await;
    assert!(mock.media_checks().is_empty(), "not again at once");
    app.clock.advance(chrono::Duration::minutes(6));
    lottery::api::media_keeper::round(&app.state).await;
    assert_eq!(mock.media_checks().len(), 1, "asked again after a failure");
    // -1008: WeChat could not download it; still pending.
    let first = trace_of(&mock, &id);
    let unreachable = verdict_body(&first, "pass", -1008, false);
    assert_eq!(
        push(&app, PUSH_TOKEN, PushMode::PlainJson, &unreachable)
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&format!("/media/{id}"), Some(&token)).await.data()["status"],
        "pending"
    );
    lottery::api::media_keeper::round(&app.state).await;
    assert_eq!(
        mock.media_checks().len(),
        1,
        "a taken check is given an hour"
    );
    app.clock.advance(chrono::Duration::minutes(61));
    lottery::api::media_keeper::round(&app.state).await;
    assert_eq!(
        mock.media_checks().len(),
        2,
        "no verdict in an hour: asked again"
    );
    let second = mock.media_checks()[1]["trace_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    // The newest check's verdict counts.
    // (As XML, the console's other 数据格式.)
    let pass = verdict_body(&second, "pass", 0, true);
    assert_eq!(
        push(&app, PUSH_TOKEN, PushMode::PlainXml, &pass).await.0,
        200
    );
    assert_eq!(
        app.get(&format!("/media/{id}"), None).await.data()["status"],
        "approved"
    );
}

/// Two instances sharing Redis and the store: a verdict pushed to one
/// reaches the live page the other serves.
#[actix_web::test]
#[cfg_attr(not(lottery_test_redis), ignore = "needs LOTTERY_TEST_REDIS_URL")]
async fn a_verdict_pushed_to_one_instance_reaches_the_others_pages() {
    let mock = WechatMock::start(Duration::ZERO).await;
    let database = fresh_database(Backend::Sqlite);
    let store =
        std::env::temp_dir().join(format!("lottery-tests/shared-{}", rand::random::<u64>()));
    let setting = format!("fs://{}", store.display());
    let redis = redis_settings(&required_redis());
    let mut shared = setting_refs(&redis);
    shared.push(("LOTTERY_MEDIA_STORE", &setting));
    let one = checked_app(&mock, &database, &shared).await;
    let two = checked_app(&mock, &database, &shared).await;
    let (token, _) = login(&one, "creator").await;
    let r = upload(&one, &token, "c.jpg", &picture(40, 30, ImageFormat::Jpeg)).await;
    let cover = r.data()["id"].as_str().unwrap().to_string();
    let id = one
        .create_event(
            &token,
            json!({"title": "Shared", "draw_at": in_secs(3600), "cover": cover,
                   "prizes": [{"name": "Mug", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // Live on the second instance (its actor publishes the page there).
    assert!(two.get(&format!("/events/{id}"), None).await.data()["cover"].is_null());
    let trace = trace_of(&mock, &cover);
    let pass = verdict_body(&trace, "pass", 0, false);
    assert_eq!(
        push(&one, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &pass)
            .await
            .0,
        200
    );
    wait_page(&two, id, "the other instance's page", |p| {
        p["cover"]["id"] == cover.as_str()
    })
    .await;
}
