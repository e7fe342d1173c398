//! Uploaded images and share codes as bytes: checking and re-encoding an
//! upload (`process`, on a bounded pool off the HTTP workers), keeping
//! objects in the media store (`objects`: a directory or any S3-compatible
//! bucket), and the URLs they are shown at (`urls`). Which image is whose
//! and what WeChat said of it is the database's (`store::media`).

pub mod admission;
pub mod decoder_child;
pub mod decoder_wire;
pub mod decoders;
pub mod files;
pub mod objects;
pub mod process;
pub mod share_codes;
pub mod urls;

use crate::config::MediaSettings;
use crate::domain::media::Upload;
use crate::error::AppResult;
use crate::wechat::push::PushKey;
use objects::Objects;
use process::Processed;

/// The media side of the server: settings, the store and the decoders.
pub struct Media {
    pub settings: MediaSettings,
    pub objects: Objects,
    /// The decoding pool (`LOTTERY_MEDIA_WORKERS` processes).
    decoders: decoders::Decoders,
    /// Uploads held at once, in all and per user.
    pub admission: admission::Admission,
    /// Approved images served from memory.
    pub files: files::ApprovedFiles,
    /// Events' share codes.
    pub share_codes: share_codes::ShareCodes,
    /// Opens safe-mode pushes (`LOTTERY_WECHAT_PUSH_AES_KEY`).
    pub push_key: Option<PushKey>,
}

/// Bytes of approved images kept in memory for serving.
const FILE_CACHE_BYTES: u64 = 64 << 20;

impl Media {
    pub fn new(settings: MediaSettings) -> Result<Self, String> {
        let objects = Objects::open(&settings.store)?;
        let decoders = decoders::Decoders::new(settings.decoder.clone(), settings.workers)?;
        let push_key = settings
            .push_aes_key
            .as_ref()
            .map(|key| PushKey::parse(key.expose()))
            .transpose()
            .map_err(|e| format!("LOTTERY_WECHAT_PUSH_AES_KEY: {e}"))?;
        Ok(Self {
            admission: admission::Admission::new(settings.workers),
            settings,
            objects,
            decoders,
            files: files::ApprovedFiles::new(FILE_CACHE_BYTES),
            share_codes: share_codes::ShareCodes::default(),
            push_key,
        })
    }

    /// Decodes, checks and re-encodes an upload in a decoding process: an
    /// HTTP worker only awaits it, so joins on the same workers are not
    /// held up by pixels, and the process's least priority leaves them the
    /// CPU (`decoder_child`).
    pub async fn process(&self, format: Upload, bytes: Vec<u8>) -> AppResult<Processed> {
        let started = std::time::Instant::now();
        let done = self
            .decoders
            .process(format, self.settings.limits, &bytes)
            .await;
        metrics::histogram!("lottery_media_decode_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        done
    }
}
