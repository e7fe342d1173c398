//! The `Image` of the contract: an uploaded image as its uploader sees it
//! (any state, a signed URL while pending) and as event pages show it
//! (approved only, at its public URL).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::media::{object_key, MediaStatus, Variant};
use crate::error::AppResult;
use crate::media::urls::MediaUrls;
use crate::pii::Keyring;
use crate::store::media::MediaRow;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ImageView {
    /// Opaque: name it as an event's `cover` or a prize's `image`.
    pub id: String,
    pub url: String,
    /// The same image at most 320 pixels on its longer side.
    pub thumb_url: String,
    pub width: i32,
    pub height: i32,
    /// Bytes of the stored image (after re-encoding).
    pub bytes: i32,
    /// `pending` (WeChat's check has not answered; only you see it),
    /// `approved` or `rejected`.
    #[schema(value_type = crate::domain::media::MediaStatus, example = "approved")]
    pub status: &'static str,
}

impl ImageView {
    /// As event pages show it: approved images only, at their public URLs.
    pub fn shown(row: &MediaRow, urls: &MediaUrls) -> Option<Self> {
        if row.status != MediaStatus::Approved {
            return None;
        }
        let format = row.stored().ok()?;
        Some(Self::with_urls(
            row,
            urls.shown(&object_key(&row.id, format, Variant::Full)),
            urls.shown(&object_key(&row.id, format, Variant::Thumb)),
        ))
    }

    /// As its uploader sees it: a pending image at signed URLs that expire;
    /// a rejected one without URLs (its bytes are gone).
    pub fn own(
        row: &MediaRow,
        urls: &MediaUrls,
        keys: &Keyring,
        now: DateTime<Utc>,
    ) -> AppResult<Self> {
        let format = row.stored()?;
        let (full, thumb) = (
            object_key(&row.id, format, Variant::Full),
            object_key(&row.id, format, Variant::Thumb),
        );
        Ok(match row.status {
            MediaStatus::Approved => Self::with_urls(row, urls.shown(&full), urls.shown(&thumb)),
            MediaStatus::Pending => Self::with_urls(
                row,
                urls.signed(keys, &full, now),
                urls.signed(keys, &thumb, now),
            ),
            MediaStatus::Rejected => Self::with_urls(row, String::new(), String::new()),
        })
    }

    fn with_urls(row: &MediaRow, url: String, thumb_url: String) -> Self {
        Self {
            id: row.id.clone(),
            url,
            thumb_url,
            width: row.width,
            height: row.height,
            bytes: row.bytes,
            status: row.status.name(),
        }
    }
}
