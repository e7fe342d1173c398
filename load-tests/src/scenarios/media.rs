//! `media`: what images cost the hot path, and how fast they are served,
//! in one run against one server: `/healthz` (the baseline), hot-join
//! alone, hot-join again while `--uploaders` users upload phone-sized
//! photos without pause (or `--upload-rate` a second in all) (each decoded, re-encoded and stored by the
//! server), then an approved image's file and an event's share code, each
//! driven like `/healthz`. Prints every phase and the ratios to `/healthz`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, Rgb, RgbImage};
use serde_json::Value;

use super::setup::{event_body, in_secs, run_tag};
use super::{healthz, hot_join, Args};
use crate::api::Api;
use crate::drive::drive;
use crate::output::{self, say};
use crate::stats::Report;
use crate::wire::Conn;

/// A photo like a phone's: 3000 × 2000 pixels of gradient and grain,
/// about 1.5 MB of JPEG.
fn photo() -> Vec<u8> {
    let image = RgbImage::from_fn(3000, 2000, |x, y| {
        let grain = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)).wrapping_mul(2_654_435_761)
            >> 27) as u8;
        Rgb([(x / 12) as u8 ^ grain, (y / 8) as u8, grain.wrapping_mul(3)])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image)
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
        .expect("a JPEG");
    out
}

fn multipart(bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "lottery-load-7d3f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &(String, Vec<u8>),
) -> Result<Value, String> {
    // A busy decoding pool answers 503 with Retry-After, as a client is
    // told to expect: waited out and tried again, as the mini-program
    // would (a slow debug build on a loaded machine met it in CI).
    let mut tries = 0;
    let res = loop {
        let res = client
            .post(format!("{base}/api/v1/media"))
            .bearer_auth(token)
            .header("content-type", &body.0)
            .body(body.1.clone())
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        tries += 1;
        if res.status() != 503 || tries == 30 {
            break res;
        }
        let wait = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1);
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    };
    let status = res.status().as_u16();
    let answer: Value = res.json().await.map_err(|e| e.to_string())?;
    if status != 201 {
        return Err(format!("upload: HTTP {status} {}", answer["message"]));
    }
    Ok(answer["data"].clone())
}

/// `GET path` driven like `/healthz`.
async fn serve_rate(args: &Args, name: &'static str, path: String) -> Report {
    let report = drive(
        name,
        args.target,
        args.load(args.seconds, None),
        async move |_, conn: &mut Conn| {
            conn.get(name, &path, None).await?;
            Ok(())
        },
    )
    .await;
    output::phase(&report);
    report
}

pub async fn run(args: &Args) -> Result<(), String> {
    let api = Api::new(&args.base, args.concurrency);
    let tag = run_tag();
    let base = healthz::run(args).await;
    let alone = hot_join::run(args).await?;

    // Uploaders, each on its own connection, until the second hot-join ends.
    let body = Arc::new(multipart(&photo()));
    let client = reqwest::Client::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (uploaded, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for i in 0..args.uploaders {
        let (token, _) = api.login(&format!("uploader_{tag}_{i}")).await?;
        let (client, body, stop) = (client.clone(), body.clone(), stop.clone());
        let (uploaded, failed, base_url) = (uploaded.clone(), failed.clone(), args.base.clone());
        // Paced: each uploader starts one upload per `every` (all of them
        // together `--upload-rate` a second); 0: without pause.
        let every = (args.upload_rate > 0.0)
            .then(|| std::time::Duration::from_secs_f64(args.uploaders as f64 / args.upload_rate));
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                match upload(&client, &base_url, &token, &body).await {
                    Ok(_) => uploaded.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("  {e}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                if let Some(every) = every {
                    tokio::time::sleep(every.saturating_sub(began.elapsed())).await;
                }
            }
        }));
    }
    let started = Instant::now();
    let during = hot_join::run(args).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let during = during?;
    let upload_rate = uploaded.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    say!(
        "uploads: {} photos of {} KB stored during the second hot-join ({upload_rate:.1}/s), {} failed",
        uploaded.load(Ordering::Relaxed),
        body.1.len() / 1024,
        failed.load(Ordering::Relaxed)
    );
    output::result("uploads", uploaded.load(Ordering::Relaxed));
    output::result("uploads_per_second", upload_rate);
    if failed.load(Ordering::Relaxed) > 0 {
        return Err("some uploads failed".into());
    }

    // Serving: an approved image's file, and an event's share code.
    let (token, _) = api.login(&format!("media_owner_{tag}")).await?;
    let image = upload(&client, &args.base, &token, &body).await?;
    let path_of = |field: &str| {
        let url = image[field].as_str().unwrap_or_default();
        url.find("/media/")
            .map(|at| url[at..].to_string())
            .ok_or(format!("{field} {url:?} is not served here"))
    };
    // The thumbnail is what lists and posters show (its rate is requests);
    // the full image's is bandwidth, given in MB/s too.
    let thumbs = serve_rate(args, "image-thumb", path_of("thumb_url")?).await;
    let files = serve_rate(args, "image-full", path_of("url")?).await;
    let full_bytes = image["bytes"].as_f64().unwrap_or(0.0);
    say!(
        "image-full: {:.0} MB/s ({} KB each)",
        files.rate() * full_bytes / 1e6,
        full_bytes as u64 / 1024
    );
    let event = api
        .create_event(&token, event_body(in_secs(3600), "manual", 10))
        .await?;
    let codes = serve_rate(
        args,
        "share-code",
        format!("/api/v1/events/{event}/share-code"),
    )
    .await;

    let ratio = |r: &Report| r.rate() / base.rate().max(1e-9);
    for (key, text, phase) in [
        ("ratio_join_alone", "hot-join alone", &alone),
        (
            "ratio_join_during_uploads",
            "hot-join during uploads",
            &during,
        ),
        ("ratio_image_thumb", "image thumbnail", &thumbs),
        ("ratio_image_full", "image full", &files),
        ("ratio_share_code", "share code", &codes),
    ] {
        say!("ratio {text} / healthz = {:.3}", ratio(phase));
        output::result(key, ratio(phase));
    }
    Ok(())
}
