//! The share code (docs/API.md, "Share code"; docs/MEDIA.md): WeChat's
//! mini-program code of the share page, made once per event however many
//! ask at once, kept in the media store; WeChat's refusals as clear
//! errors; without WeChat, a standard QR code that says the same.

use std::time::Duration;

use crate::helpers::{event_body, fresh_database, Backend, TestApp};
use crate::wechat_mock::{login, WechatMock, SHARE_PAGE};

async fn png_of(app: &TestApp, id: i64) -> (u16, String, Vec<u8>) {
    let res = app
        .client
        .get(format!("{}/api/v1/events/{id}/share-code", app.base))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    (status, content_type, res.bytes().await.unwrap().to_vec())
}

/// A thousand viewers of a new event ask for its code at once: one call
/// to WeChat, every answer the same PNG; a restart finds it in the store.
#[actix_web::test]
async fn a_hot_new_event_costs_one_wechat_call() {
    let mock = WechatMock::start(Duration::ZERO).await;
    let url = fresh_database(Backend::Sqlite);
    let store = std::env::temp_dir().join(format!("lottery-tests/share-{}", rand::random::<u64>()));
    let setting = format!("fs://{}", store.display());
    let app = mock.app(&url, &[("LOTTERY_MEDIA_STORE", &setting)]).await;
    let (token, _) = login(&app, "sharer").await;
    let id = app.create_event(&token, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let answers = futures::future::join_all((0..1000).map(|_| png_of(&app, id))).await;
    let first = &answers[0];
    assert_eq!((first.0, first.1.as_str()), (200, "image/png"));
    assert!(
        first.2.starts_with(b"\x89PNG"),
        "WeChat's JPEG is answered as PNG"
    );
    assert!(
        answers.iter().all(|a| a == first),
        "every answer the same code"
    );
    let calls = mock.code_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["scene"], format!("id={id}"));
    assert_eq!(calls[0]["page"], SHARE_PAGE);
    assert_eq!(calls[0]["check_path"], true);
    assert_eq!(calls[0]["env_version"], "release");
    // Another instance (or this one restarted) on the same store.
    app.stop().await;
    let again = mock.app(&url, &[("LOTTERY_MEDIA_STORE", &setting)]).await;
    assert_eq!(png_of(&again, id).await, *first);
    assert_eq!(mock.code_calls().len(), 1, "the stored code was used");
    // No such event: 404 in the envelope, and no call.
    let r = again.get("/events/999999/share-code", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, 40400), "{:?}", r.body);
    assert_eq!(mock.code_calls().len(), 1);
}

/// WeChat's refusals, as its documentation lists them: an unpublished
/// page (41030) is a 502 that names the setting, the rate limit (45009) a
/// 503 to retry; nothing is kept, so the next request asks again.
#[actix_web::test]
async fn wechats_refusals_are_clear_errors_and_nothing_is_kept() {
    let mock = WechatMock::start(Duration::ZERO).await;
    let app = mock.app(&fresh_database(Backend::Sqlite), &[]).await;
    let (token, _) = login(&app, "sharer").await;
    let id = app.create_event(&token, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    mock.code_errors(&[41030, 45009]);
    let r = app.get(&format!("/events/{id}/share-code"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, 50200), "{:?}", r.body);
    assert!(
        r.message().contains("LOTTERY_WECHAT_SHARE_PAGE"),
        "{}",
        r.message()
    );
    let r = app.get(&format!("/events/{id}/share-code"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    let (status, _, png) = png_of(&app, id).await;
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"));
    assert_eq!(mock.code_calls().len(), 3);
    // A page the published version lacks is what WeChat refuses.
    let other = mock
        .app(
            &fresh_database(Backend::Sqlite),
            &[("LOTTERY_WECHAT_SHARE_PAGE", "pages/unpublished/index")],
        )
        .await;
    let (token, _) = login(&other, "sharer").await;
    let id = other.create_event(&token, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let r = other.get(&format!("/events/{id}/share-code"), None).await;
    assert_eq!((r.status.as_u16(), r.code()), (502, 50200), "{:?}", r.body);
}

/// WeChat refuses the making of a hot new event's code: the requests that
/// were waiting for it share the refusal (one call, not one each in turn,
/// which a refusing WeChat would answer by refusing more); the next request
/// asks again.
#[actix_web::test]
async fn a_refusal_is_shared_by_the_requests_that_waited_for_it() {
    let mock = WechatMock::start(Duration::ZERO).await;
    let app = mock.app(&fresh_database(Backend::Sqlite), &[]).await;
    let (token, _) = login(&app, "sharer").await;
    let id = app.create_event(&token, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    mock.code_errors(&[45009]);
    let answers = futures::future::join_all((0..200).map(|_| png_of(&app, id))).await;
    assert!(answers.iter().all(|a| a.0 == 503), "every waiter refused");
    assert_eq!(mock.code_calls().len(), 1, "one call for all of them");
    let (status, _, png) = png_of(&app, id).await;
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"));
    assert_eq!(mock.code_calls().len(), 2, "the next request asked again");
}

/// Without WeChat: a QR code that, read back, names the share page and
/// the event's scene.
#[actix_web::test]
async fn without_wechat_a_qr_code_names_the_page_and_the_scene() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (token, _) = app.login("sharer").await;
    let id = app.create_event(&token, event_body(3600)).await["id"]
        .as_i64()
        .unwrap();
    let (status, content_type, png) = png_of(&app, id).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, text) = grids[0].decode().unwrap();
    assert_eq!(text, format!("pages/event/index?scene=id={id}"));
}
