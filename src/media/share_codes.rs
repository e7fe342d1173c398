//! Events' share codes: made once per event (by WeChat, or as a standard
//! QR code without it), kept in the media store under
//! `share/<id>-<options>.png`, and in memory. Concurrent requests for a
//! code not made yet wait for the one making it, so a hot new event costs
//! one WeChat call here; when that call fails, the waiters share the
//! failure instead of each asking WeChat again in turn.

use std::io::Cursor;
use std::time::Instant;

use actix_web::web::Bytes;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, Luma};
use quick_cache::sync::Cache;

use super::objects::Objects;
use crate::config::ShareSettings;
use crate::error::{AppError, AppResult};
use crate::wechat::share_code::getwxacodeunlimit;
use crate::wechat::token::AccessTokens;

/// Codes kept in memory (about 20 KB each).
const KEPT: usize = 2_000;

pub struct ShareCodes {
    codes: Cache<i64, Bytes>,
    /// When making an event's code last failed: the requests that were
    /// waiting for that making share its failure.
    failed: Cache<i64, Instant>,
}

impl Default for ShareCodes {
    fn default() -> Self {
        Self {
            codes: Cache::new(KEPT),
            failed: Cache::new(KEPT),
        }
    }
}

/// The scene an event's code carries: `id=<event id>` (at most 23
/// characters, all in WeChat's allowed set); the mini-program reads it
/// from `options.scene` (URL-decoded) on the share page.
pub fn scene(event_id: i64) -> String {
    format!("id={event_id}")
}

/// Where a share code's PNG is kept in the store. The name carries a
/// digest of what the code was made with (WeChat or a QR code; the page,
/// `env_version`, `check_path`), so a code made before a setting changed,
/// or before WeChat was configured, is not served after.
pub fn object_key(event_id: i64, settings: &ShareSettings, by_wechat: bool) -> String {
    use sha2::{Digest, Sha256};
    let made_with = format!(
        "{}|{}|{}|{}",
        if by_wechat { "wechat" } else { "qr" },
        settings.page,
        settings.env_version,
        settings.check_path
    );
    let digest = Sha256::digest(made_with.as_bytes());
    format!("share/{event_id}-{}.png", hex::encode(&digest[..4]))
}

impl ShareCodes {
    /// Whether the event's code is in memory (so the event exists).
    pub fn has(&self, event_id: i64) -> bool {
        self.codes.get(&event_id).is_some()
    }

    /// The event's code as a PNG, made if it is nowhere yet. The caller
    /// has checked that the event exists.
    pub async fn get(
        &self,
        event_id: i64,
        objects: &Objects,
        tokens: Option<&AccessTokens>,
        settings: &ShareSettings,
    ) -> AppResult<Bytes> {
        if let Some(code) = self.codes.get(&event_id) {
            metrics::counter!("lottery_share_codes_total", "source" => "memory").increment(1);
            return Ok(code);
        }
        let asked_at = Instant::now();
        self.codes
            .get_or_insert_async(&event_id, async {
                // A request that was waiting while the making failed gets
                // the failure: the waiters of a hot event do not each ask
                // WeChat again in turn. A request after it asks again.
                if self.failed.get(&event_id).is_some_and(|at| at >= asked_at) {
                    return Err(failed());
                }
                let made = self.make(event_id, objects, tokens, settings).await;
                if made.is_err() {
                    self.failed.insert(event_id, Instant::now());
                }
                made
            })
            .await
    }

    /// The code from the store, or made (by WeChat or as a QR code) and stored.
    async fn make(
        &self,
        event_id: i64,
        objects: &Objects,
        tokens: Option<&AccessTokens>,
        settings: &ShareSettings,
    ) -> AppResult<Bytes> {
        let key = object_key(event_id, settings, tokens.is_some());
        if let Some(code) = objects.get(&key).await? {
            metrics::counter!("lottery_share_codes_total", "source" => "store").increment(1);
            return Ok(code);
        }
        let (code, source) = match tokens {
            Some(tokens) => {
                let image = getwxacodeunlimit(tokens, &scene(event_id), settings).await?;
                (as_png(image).await?, "wechat")
            }
            None => (qr_code(&settings.page, &scene(event_id))?, "qr"),
        };
        objects.put(&key, code.clone()).await?;
        metrics::counter!("lottery_share_codes_total", "source" => source).increment(1);
        Ok(Bytes::from(code))
    }
}

fn failed() -> AppError {
    AppError::Unavailable(
        "the share code could not be made just now; try again in a few seconds".into(),
    )
}

/// WeChat's code as PNG (it answers JPEG unless asked for transparency);
/// re-encoded off the HTTP workers.
async fn as_png(image: Vec<u8>) -> AppResult<Vec<u8>> {
    if image.starts_with(b"\x89PNG") {
        return Ok(image);
    }
    tokio::task::spawn_blocking(move || {
        let decoded = image::load_from_memory(&image).map_err(|_| {
            AppError::Upstream("WeChat sent a share code that is not an image".into())
        })?;
        encode_png(&decoded)
    })
    .await
    .map_err(|e| AppError::internal(format!("share code conversion stopped: {e}")))?
}

/// A standard QR code of `<page>?scene=<scene>`, for a server without
/// WeChat (development, tests): scanned, it names what the real code would.
pub fn qr_code(page: &str, scene: &str) -> AppResult<Vec<u8>> {
    let code = qrcode::QrCode::new(format!("{page}?scene={scene}").as_bytes())
        .map_err(|e| AppError::internal(format!("cannot make a QR code: {e}")))?;
    let image = code.render::<Luma<u8>>().min_dimensions(430, 430).build();
    encode_png(&DynamicImage::ImageLuma8(image))
}

fn encode_png(image: &DynamicImage) -> AppResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_with_encoder(PngEncoder::new(&mut out))
        .map_err(|e| AppError::internal(format!("cannot encode a share code: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_fit_wechats_limit() {
        // WeChat: at most 32 visible characters of digits, letters and
        // !#$&'()*+,/:;=?@-._~
        let longest = scene(i64::MAX);
        assert!(longest.len() <= 32, "{longest}");
        assert!(longest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c)));
    }

    #[test]
    fn the_fallback_is_a_png_qr_code() {
        let png = qr_code("pages/event/index", "id=42").unwrap();
        let image = image::load_from_memory(&png).unwrap();
        assert!(image.width() >= 430 && image.width() == image.height());
    }
}
