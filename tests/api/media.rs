//! Uploaded images (docs/API.md, "Images"; docs/MEDIA.md) without WeChat:
//! what is taken (judged by the bytes), what is refused before decoding,
//! what is stored (re-encoded, no metadata), the user's limits, and
//! events showing their images, served with caching headers.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{in_secs, Backend, Reply, TestApp};

crate::both_backends!(
    a_phone_photo_is_stored_upright_without_its_location,
    the_type_is_judged_by_the_bytes_and_sizes_before_decoding,
    each_user_has_an_hourly_count_and_a_byte_quota,
    events_show_their_images_and_the_files_are_cached_forever,
);

/// A multipart body with the given parts (name, file name, bytes).
pub fn multipart(parts: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "lottery-test-boundary-7d3f";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /api/v1/media` with one part `file`.
pub async fn upload(app: &TestApp, token: &str, file_name: &str, bytes: &[u8]) -> Reply {
    let (content_type, body) = multipart(&[("file", file_name, bytes)]);
    send(app, token, &content_type, reqwest::Body::from(body)).await
}

async fn send(app: &TestApp, token: &str, content_type: &str, body: reqwest::Body) -> Reply {
    let res = app
        .client
        .post(format!("{}/api/v1/media", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

/// A `width` × `height` image in `format`, one colour per quarter (so a
/// rotation can be seen).
pub fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            if x < width / 2 { 250 } else { 10 },
            if y < height / 2 { 250 } else { 10 },
            90,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// What a phone writes into a photo: an EXIF block (APP1) with the
/// orientation "rotate 90° clockwise to view" (6) and a GPS position,
/// whose processing-method text carries `MARKER` so the test can look
/// for it. Laid out by TIFF 6.0 (big-endian) and EXIF 2.32 §4.6.
const MARKER: &str = "GPS-MARKER-31.2304N-121.4737E";

fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff: Vec<u8> = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&kind.to_be_bytes());
        tiff.extend_from_slice(&count.to_be_bytes());
        tiff.extend_from_slice(&value);
    };
    // IFD0 at 8: two entries (2 + 24 + 4 = 30 bytes), the GPS IFD at 38.
    tiff.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut tiff, 0x0112, 3, 1, [0, 6, 0, 0]); // Orientation = 6
    entry(&mut tiff, 0x8825, 4, 1, 38u32.to_be_bytes()); // GPS IFD
    tiff.extend_from_slice(&0u32.to_be_bytes());
    // The GPS IFD at 38: three entries (2 + 36 + 4 = 42), data from 80.
    let method = format!("ASCII\0\0\0{MARKER}");
    tiff.extend_from_slice(&3u16.to_be_bytes());
    entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0"); // GPSLatitudeRef
    entry(&mut tiff, 0x0002, 5, 3, 80u32.to_be_bytes()); // GPSLatitude
    entry(
        &mut tiff,
        0x001B,
        7,
        method.len() as u32,
        104u32.to_be_bytes(),
    );
    tiff.extend_from_slice(&0u32.to_be_bytes());
    for (n, d) in [(31u32, 1u32), (13, 1), (2304, 100)] {
        tiff.extend_from_slice(&n.to_be_bytes());
        tiff.extend_from_slice(&d.to_be_bytes());
    }
    assert_eq!(tiff.len(), 104);
    tiff.extend_from_slice(method.as_bytes());
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

async fn fetch(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let url = if url.starts_with('/') {
        format!("{}{url}", app.base)
    } else {
        url.to_string()
    };
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// A JPEG with a GPS tag and an orientation: stored upright (the pixels
/// turned, 40 × 20 shown as 20 × 40), and neither the stored image nor
/// its thumbnail holds EXIF or the position, read back from the server
/// and from the store's directory.
async fn a_phone_photo_is_stored_upright_without_its_location(backend: Backend) {
    let store = std::env::temp_dir().join(format!("lottery-tests/exif-{}", rand::random::<u64>()));
    let setting = format!("fs://{}", store.display());
    let app = TestApp::spawn_with(backend, &[("LOTTERY_MEDIA_STORE", &setting)]).await;
    let (token, _) = app.login("photographer").await;
    let photo = with_exif(&picture(40, 20, ImageFormat::Jpeg));
    assert!(String::from_utf8_lossy(&photo).contains(MARKER));
    let r = upload(&app, &token, "IMG_0001.jpg", &photo).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let image = r.data();
    assert_eq!(
        (image["width"].as_i64(), image["height"].as_i64()),
        (Some(20), Some(40))
    );
    assert_eq!(image["status"], "approved", "no WeChat: approved at upload");
    for field in ["url", "thumb_url"] {
        let res = fetch(&app, image[field].as_str().unwrap(), &[]).await;
        assert_eq!(res.status(), 200, "{field}");
        assert_eq!(res.headers()["content-type"], "image/jpeg");
        let bytes = res.bytes().await.unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(MARKER), "{field}");
        assert!(
            !bytes.windows(6).any(|w| w == b"Exif\0\0"),
            "{field}: EXIF left"
        );
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert!(decoded.height() > decoded.width(), "{field}: upright");
    }
    let mut stored = 0;
    for entry in walk(&store) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(MARKER),
            "{}",
            entry.display()
        );
        assert!(!bytes.windows(6).any(|w| w == b"Exif\0\0"));
        stored += 1;
    }
    assert_eq!(stored, 2, "the image and its thumbnail");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// PNG's CRC-32 (ISO 3309, as RFC 2083 §3.4 gives it), for a chunk
/// written by hand.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A few hundred bytes of PNG whose header claims `side` × `side` pixels.
fn png_claiming(side: u32) -> Vec<u8> {
    let mut png = picture(8, 8, ImageFormat::Png);
    // IHDR's data starts after the signature (8), length (4) and type (4).
    png[16..20].copy_from_slice(&side.to_be_bytes());
    png[20..24].copy_from_slice(&side.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

async fn the_type_is_judged_by_the_bytes_and_sizes_before_decoding(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("LOTTERY_MEDIA_MAX_KB", "64")]).await;
    let (token, user_id) = app.login("uploader").await;
    // Judged by the bytes: a GIF or a script named .jpg, an SVG.
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    for (name, bytes) in [
        ("cat.jpg", &gif[..]),
        ("run.jpg", b"#!/bin/sh\nrm -rf /\n"),
        ("logo.png", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
    ] {
        let r = upload(&app, &token, name, bytes).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (415, 41500),
            "{name}: {:?}",
            r.body
        );
    }
    // A PNG and a WebP are taken (WebP stored as PNG).
    for (format, name) in [(ImageFormat::Png, "a.png"), (ImageFormat::WebP, "a.webp")] {
        let r = upload(&app, &token, name, &picture(64, 48, format)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{name}: {:?}", r.body);
        assert!(
            r.data()["url"].as_str().unwrap().ends_with(".png"),
            "{:?}",
            r.body
        );
    }
    // A header claiming 50,000 × 50,000 pixels is refused from the header.
    let r = upload(&app, &token, "bomb.png", &png_claiming(50_000)).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
    assert!(r.message().contains("50000 × 50000"), "{}", r.message());
    // Damaged: the header is fine, the pixels are cut off.
    let mut cut = picture(300, 300, ImageFormat::Png);
    cut.truncate(cut.len() / 2);
    let r = upload(&app, &token, "cut.png", &cut).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
    // Over 64 KiB: refused from the declared length, and (chunked, with
    // no length) at the first chunk beyond the limit.
    let noise: Vec<u8> = std::iter::once([0xFFu8, 0xD8, 0xFF, 0xE0])
        .flatten()
        .chain((0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8))
        .collect();
    let r = upload(&app, &token, "big.jpg", &noise).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, 41300), "{:?}", r.body);
    let (content_type, body) = multipart(&[("file", "big.jpg", &noise)]);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = send(&app, &token, &content_type, stream).await;
    assert_eq!((r.status.as_u16(), r.code()), (413, 41300), "{:?}", r.body);
    // Not one part named file.
    let png = picture(8, 8, ImageFormat::Png);
    for parts in [
        vec![("photo", "a.png", &png[..])],
        vec![("file", "a.png", &png[..]), ("file", "b.png", &png[..])],
        vec![],
    ] {
        let (content_type, body) = multipart(&parts);
        let r = send(&app, &token, &content_type, body.into()).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
    }
    let r = send(&app, &token, "application/json", b"{}".to_vec().into()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
    // Anonymous: 401.
    let res = app
        .client
        .post(format!("{}/api/v1/media", app.base))
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Of all that, two images were stored.
    let stored = count_images(&app, user_id).await;
    assert_eq!(stored, 2);
}

pub async fn count_images(app: &TestApp, user_id: i64) -> i64 {
    let db = lottery::store::Db::connect(&app.database_url, 1, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let n: lottery::error::AppResult<i64> = async {
        lottery::db_run!(&db, |conn| {
            use lottery::store::schema::media;
            Ok(media::table
                .filter(media::owner_id.eq(user_id))
                .count()
                .get_result(conn)
                .await?)
        })
    }
    .await;
    n.unwrap()
}

async fn each_user_has_an_hourly_count_and_a_byte_quota(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("LOTTERY_MEDIA_UPLOADS_PER_HOUR", "3"),
            ("LOTTERY_MEDIA_QUOTA_MB", "1"),
        ],
    )
    .await;
    let (token, _) = app.login("busy").await;
    let small = picture(32, 32, ImageFormat::Png);
    for _ in 0..3 {
        let r = upload(&app, &token, "s.png", &small).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = upload(&app, &token, "s.png", &small).await;
    assert_eq!((r.status.as_u16(), r.code()), (429, 42900), "{:?}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    // Another user is not held back; once their images take the quota,
    // the next upload is refused.
    let (other, _) = app.login("painter").await;
    let noise = RgbImage::from_fn(700, 700, |x, y| {
        let v = (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761);
        Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
    });
    let mut big = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(noise)
        .write_to(&mut big, ImageFormat::Png)
        .unwrap();
    let r = upload(&app, &other, "noise.png", big.get_ref()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(
        r.data()["bytes"].as_i64().unwrap() > 1 << 20,
        "{:?}",
        r.body
    );
    let r = upload(&app, &other, "s.png", &small).await;
    assert_eq!((r.status.as_u16(), r.code()), (429, 42900), "{:?}", r.body);
    assert!(r.message().contains("quota"), "{}", r.message());
}

async fn events_show_their_images_and_the_files_are_cached_forever(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = app.login("host").await;
    let (stranger, _) = app.login("stranger").await;
    let cover = upload(
        &app,
        &token,
        "cover.jpg",
        &picture(120, 80, ImageFormat::Jpeg),
    )
    .await;
    let prize = upload(
        &app,
        &token,
        "prize.png",
        &picture(50, 50, ImageFormat::Png),
    )
    .await;
    let theirs = upload(&app, &stranger, "x.png", &picture(50, 50, ImageFormat::Png)).await;
    let (cover_id, prize_id, theirs_id) = (
        cover.data()["id"].as_str().unwrap().to_string(),
        prize.data()["id"].as_str().unwrap().to_string(),
        theirs.data()["id"].as_str().unwrap().to_string(),
    );
    let body = |cover: &str, image: &str| {
        json!({"title": "With pictures", "draw_at": in_secs(3600), "cover": cover,
               "prizes": [{"name": "Mug", "quantity": 1, "image": image},
                          {"name": "Pen", "quantity": 2}]})
    };
    // Someone else's image, or an id nobody made, is named and refused.
    for (b, field) in [
        (body(&theirs_id, &prize_id), "cover"),
        (body(&cover_id, &theirs_id), "prizes[0].image"),
        (body(&cover_id, "AAAAAAAAAAAAAAAAAAAAAA"), "prizes[0].image"),
        (body("../../etc/passwd", &prize_id), "cover"),
    ] {
        let r = app.post("/events", Some(&token), b).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, 40000), "{:?}", r.body);
        assert!(r.message().contains(field), "{field}: {}", r.message());
    }
    let event = app.create_event(&token, body(&cover_id, &prize_id)).await;
    let id = event["id"].as_i64().unwrap();
    for view in [
        event.clone(),
        app.get(&format!("/events/{id}"), None).await.data().clone(),
        app.get(&format!("/events/{id}"), Some(&stranger))
            .await
            .data()
            .clone(),
    ] {
        assert_eq!(view["cover"]["id"], cover_id.as_str(), "{view}");
        assert_eq!(view["cover"]["width"], 120);
        assert_eq!(view["prizes"][0]["image"]["id"], prize_id.as_str());
        assert!(view["prizes"][1]["image"].is_null());
    }
    // The files: immutable, with an ETag a revalidation matches.
    let url = event["cover"]["url"].as_str().unwrap();
    let res = fetch(&app, url, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let again = fetch(&app, url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    // The image's own description, to anyone (it is approved).
    let r = app.get(&format!("/media/{cover_id}"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["url"], url);
    // Names the server never made: 404 in the envelope.
    for path in ["/media/nothing.jpg", "/media/AAAAAAAAAAAAAAAAAAAAAA.jpg"] {
        let res = fetch(&app, path, &[]).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    // A path with an escape is refused before routing (issue 24).
    let res = fetch(&app, "/media/..%2Fx.jpg", &[]).await;
    assert_eq!(res.status(), 400);
    let r = app.get("/media/AAAAAAAAAAAAAAAAAAAAAA", None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, 40400));
}

/// The decoding processes of the app whose decoder program is `program`:
/// (pid, the fields of /proc/pid/stat after the command name).
fn decoders_running(program: &std::path::Path) -> Vec<(u32, Vec<String>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        if argv0 != program.as_os_str().as_encoded_bytes() {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after "pid (comm) ": state, ppid, pgrp, session, ...
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        if rest.starts_with('Z') {
            continue; // killed, not yet reaped
        }
        found.push((pid, rest.split(' ').map(str::to_string).collect()));
    }
    found
}

/// Decoding runs in processes of their own (docs/MEDIA.md, "Decoded in
/// processes of their own"): children of the server, each in a session of
/// its own at niceness 19, without the server's environment (no database
/// URL, no keys), first for the OOM killer, its address space bounded; one
/// that dies is replaced at the next upload, and the uploads go on.
#[actix_web::test]
async fn images_are_decoded_in_a_process_of_their_own_at_the_least_priority() {
    // A name of this test's own for the server binary, so its decoders
    // are told apart from those of the tests running beside it.
    let dir = std::env::temp_dir().join(format!("lottery-tests/decoder-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("lottery-decoder-under-test");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lottery"), &program).unwrap();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("LOTTERY_MEDIA_DECODER", program.to_str().unwrap()),
            ("LOTTERY_MEDIA_WORKERS", "1"),
        ],
    )
    .await;
    assert!(decoders_running(&program).is_empty(), "started when needed");
    let (token, _) = app.login("decoded").await;
    let r = upload(&app, &token, "a.png", &picture(64, 48, ImageFormat::Png)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    let running = decoders_running(&program);
    assert_eq!(running.len(), 1, "one decoder for one worker: {running:?}");
    let (pid, stat) = &running[0];
    // stat(5): ppid is field 4, session 6, nice 19 (counted from pid as 1).
    assert_eq!(
        stat[1],
        std::process::id().to_string(),
        "a child of the server"
    );
    assert_eq!(
        stat[3],
        pid.to_string(),
        "the leader of a session of its own"
    );
    assert_eq!(stat[16], "19", "niceness");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(environ.is_empty(), "the decoder sees no settings");
    let oom = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(oom.trim(), "1000", "the OOM killer takes the decoder first");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let address_space = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .unwrap();
    assert!(address_space.contains("4294967296"), "{address_space}");

    // SAFETY: kill only sends a signal to the decoder this test found.
    assert_eq!(unsafe { libc::kill(*pid as i32, libc::SIGKILL) }, 0);
    // Dead, not merely dying: a zombie (the server reaps it when it next
    // looks), or gone.
    for _ in 0..250 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) if !stat[stat.rfind(')').unwrap() + 2..].starts_with('Z') => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            _ => break,
        }
    }
    let r = upload(&app, &token, "b.jpg", &picture(64, 48, ImageFormat::Jpeg)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let running = decoders_running(&program);
    assert_eq!(running.len(), 1, "{running:?}");
    assert_ne!(
        running[0].0, *pid,
        "a new decoder took the dead one's place"
    );
}

/// What the server holds at once is bounded before a body is read
/// (docs/MEDIA.md, "Limits first"): a user's fourth upload while three
/// are still arriving is 429, and the next one once they are done goes in.
#[actix_web::test]
async fn a_user_has_at_most_three_uploads_in_the_server_at_once() {
    use futures::channel::mpsc;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (token, _) = app.login("hurried").await;
    let photo = picture(64, 48, ImageFormat::Png);
    let (content_type, body) = multipart(&[("file", "a.png", &photo)]);
    // Three uploads whose bodies stop halfway, held open by their senders.
    let mut held = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
        tx.unbounded_send(Ok(body[..body.len() / 2].to_vec()))
            .unwrap();
        let stream = reqwest::Body::wrap_stream(rx);
        let (app_ref, token, content_type) = (&app, token.clone(), content_type.clone());
        pending.push(async move { send(app_ref, &token, &content_type, stream).await });
        held.push((tx, body[body.len() / 2..].to_vec()));
    }
    let slow = futures::future::join_all(pending);
    let fourth = async {
        // Let the three in first.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = upload(&app, &token, "d.png", &photo).await;
        for (tx, rest) in &mut held {
            tx.unbounded_send(Ok(std::mem::take(rest))).unwrap();
            tx.close_channel();
        }
        r
    };
    let (slow, fourth) = futures::join!(slow, fourth);
    assert_eq!(
        (fourth.status.as_u16(), fourth.code()),
        (429, 42900),
        "{:?}",
        fourth.body
    );
    assert!(fourth.message().contains("at once"), "{}", fourth.message());
    for r in slow {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = upload(&app, &token, "e.png", &photo).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}
