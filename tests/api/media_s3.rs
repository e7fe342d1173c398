//! The media store on S3 (docs/MEDIA.md, "Setting up the store"): the
//! same uploads, files and share codes against a real S3-protocol server
//! that CI starts itself (s3s-fs, the S3 server of the s3s project, over a
//! directory; it verifies every request's SigV4 signature, so a wrong key
//! is refused as AWS would). `LOTTERY_TEST_S3_URL` is its address with the
//! credentials: `http://<access key>:<secret key>@127.0.0.1:<port>`. Each
//! test makes a bucket of its own.

use image::ImageFormat;
use serde_json::json;

use crate::helpers::{fresh_database, in_secs, Backend, TestApp};
use crate::media::{count_images, picture, upload};

/// (endpoint, access key, secret key) of the test server.
fn s3_server() -> (String, String, String) {
    let url = std::env::var("LOTTERY_TEST_S3_URL").expect("LOTTERY_TEST_S3_URL");
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (credentials, host) = rest.split_once('@').expect("credentials in the URL");
    let (access, secret) = credentials.split_once(':').expect("access:secret");
    (
        format!("http://{host}"),
        access.to_string(),
        secret.to_string(),
    )
}

/// Makes a fresh bucket (a signed CreateBucket, by curl's SigV4).
fn fresh_bucket() -> String {
    let (endpoint, access, secret) = s3_server();
    let bucket = format!("lottery-test-{:016x}", rand::random::<u64>());
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &format!("{access}:{secret}"),
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            "-X",
            "PUT",
            &format!("{endpoint}/{bucket}"),
        ])
        .output()
        .expect("curl runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "CreateBucket {bucket}"
    );
    bucket
}

fn s3_settings(bucket: &str, secret: Option<&str>) -> Vec<(String, String)> {
    let (endpoint, access, real_secret) = s3_server();
    vec![
        ("LOTTERY_MEDIA_STORE".into(), format!("s3://{bucket}")),
        ("LOTTERY_S3_ENDPOINT".into(), endpoint),
        ("LOTTERY_S3_REGION".into(), "us-east-1".into()),
        ("LOTTERY_S3_ACCESS_KEY".into(), access),
        (
            "LOTTERY_S3_SECRET_KEY".into(),
            secret.map_or(real_secret, str::to_string),
        ),
    ]
}

/// Reads an object straight from the bucket, as a CDN in front of it would.
async fn object(bucket: &str, key: &str) -> Option<Vec<u8>> {
    use object_store::ObjectStore;
    let (endpoint, access, secret) = s3_server();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_access_key_id(access)
        .with_secret_access_key(secret)
        .build()
        .unwrap();
    match store.get(&object_store::path::Path::from(key)).await {
        Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("{e}"),
    }
}

/// Uploads land in the bucket re-encoded, the server serves them from
/// there, the CDN URL names the object, and share codes are kept there.
#[actix_web::test]
#[cfg_attr(not(lottery_test_s3), ignore = "needs LOTTERY_TEST_S3_URL")]
async fn images_and_share_codes_live_in_the_bucket() {
    let bucket = fresh_bucket();
    let mut settings = s3_settings(&bucket, None);
    settings.push((
        "LOTTERY_MEDIA_PUBLIC_BASE".into(),
        "https://cdn.example.com".into(),
    ));
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &pairs).await;
    let (token, _) = app.login("s3user").await;
    let r = upload(&app, &token, "p.jpg", &picture(60, 40, ImageFormat::Jpeg)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let key = format!("media/{id}.jpg");
    assert_eq!(r.data()["url"], format!("https://cdn.example.com/{key}"));
    let stored = object(&bucket, &key)
        .await
        .expect("the image is in the bucket");
    assert!(image::load_from_memory(&stored).is_ok());
    assert!(object(&bucket, &format!("media/{id}.thumb.jpg"))
        .await
        .is_some());
    // The server serves it from the bucket too (a CDN may use it as origin).
    let res = app
        .client
        .get(format!("{}/{key}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), stored);
    // The share code is kept in the bucket.
    let event = app
        .create_event(
            &token,
            json!({"title": "On S3", "draw_at": in_secs(3600), "cover": id,
                   "prizes": [{"name": "Mug", "quantity": 1}]}),
        )
        .await;
    let event_id = event["id"].as_i64().unwrap();
    assert_eq!(
        event["cover"]["url"],
        format!("https://cdn.example.com/{key}")
    );
    let res = app
        .client
        .get(format!("{}/api/v1/events/{event_id}/share-code", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let code = res.bytes().await.unwrap().to_vec();
    // Named for what it was made with (a QR code, the default page), so
    // a code made before a setting changed is not served after.
    let settings = lottery::config::ShareSettings {
        page: "pages/event/index".into(),
        check_path: true,
        env_version: "release".into(),
    };
    let key = lottery::media::share_codes::object_key(event_id, &settings, false);
    assert!(key.starts_with(&format!("share/{event_id}-")), "{key}");
    assert_eq!(object(&bucket, &key).await, Some(code));
}

/// A store that refuses the server's signature (a wrong secret): the
/// upload is a 503 and nothing is recorded.
#[actix_web::test]
#[cfg_attr(not(lottery_test_s3), ignore = "needs LOTTERY_TEST_S3_URL")]
async fn a_store_that_refuses_the_keys_is_a_503_and_records_nothing() {
    let bucket = fresh_bucket();
    let settings = s3_settings(&bucket, Some("not-the-secret"));
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = TestApp::spawn_on(fresh_database(Backend::Sqlite), &pairs).await;
    let (token, user_id) = app.login("s3user").await;
    let r = upload(&app, &token, "p.png", &picture(20, 20, ImageFormat::Png)).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, 50300), "{:?}", r.body);
    assert!(r.message().contains("image store"), "{}", r.message());
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(count_images(&app, user_id).await, 0, "nothing recorded");
}

/// With WeChat's check, a pending image's objects are under `pending/`
/// (which nothing makes public) and WeChat's pass copies them to `media/`
/// inside the bucket (CopyObject) before the image is approved, then
/// deletes the pending copies.
#[actix_web::test]
#[cfg_attr(not(lottery_test_s3), ignore = "needs LOTTERY_TEST_S3_URL")]
async fn a_passed_image_moves_from_pending_to_media_in_the_bucket() {
    use crate::media_check::{checked_app, trace_of, AES_KEY, PUSH_TOKEN};
    use crate::wechat_mock::{login, push, verdict_body, PushMode, WechatMock};

    let bucket = fresh_bucket();
    let settings = s3_settings(&bucket, None);
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mock = WechatMock::start(std::time::Duration::ZERO).await;
    let app = checked_app(&mock, &fresh_database(Backend::Sqlite), &pairs).await;
    let (token, _) = login(&app, "s3checked").await;
    let r = upload(&app, &token, "p.jpg", &picture(60, 40, ImageFormat::Jpeg)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["status"], "pending");
    let id = r.data()["id"].as_str().unwrap().to_string();
    let pending = object(&bucket, &format!("pending/{id}.jpg")).await;
    assert!(pending.is_some(), "the pending image is under pending/");
    assert!(object(&bucket, &format!("media/{id}.jpg")).await.is_none());

    let pass = verdict_body(&trace_of(&mock, &id), "pass", 0, false);
    let (status, body) = push(&app, PUSH_TOKEN, PushMode::SafeJson(AES_KEY), &pass).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    assert_eq!(object(&bucket, &format!("media/{id}.jpg")).await, pending);
    assert!(object(&bucket, &format!("media/{id}.thumb.jpg"))
        .await
        .is_some());
    for _ in 0..100 {
        if object(&bucket, &format!("pending/{id}.jpg"))
            .await
            .is_none()
        {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(object(&bucket, &format!("pending/{id}.jpg"))
        .await
        .is_none());
    assert!(object(&bucket, &format!("pending/{id}.thumb.jpg"))
        .await
        .is_none());
    let r = app.get(&format!("/media/{id}"), None).await;
    assert_eq!(r.data()["status"], "approved");
}
