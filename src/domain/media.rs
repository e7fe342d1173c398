//! Uploaded images, as rules: which bytes are an image we take (judged by
//! their first bytes, never by a name or a declared type), how large one
//! may be before anything is decoded, the ids and object keys, and the
//! states WeChat's content check moves an image through.

use diesel::deserialize::FromSqlRow;
use diesel::expression::AsExpression;
use rand::RngCore;

use crate::error::AppError;

/// The formats an upload may be in. What is stored is re-encoded: JPEG
/// stays JPEG, PNG and WebP become PNG (lossless, and keeps transparency).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upload {
    Jpeg,
    Png,
    WebP,
}

impl Upload {
    /// The format the bytes start with, or 41500. The signatures are the
    /// formats' own: JPEG's SOI marker and the first segment's marker byte
    /// (ITU T.81), PNG's eight-byte signature (RFC 2083 §3.1), and WebP's
    /// RIFF container with the `WEBP` form type (RFC 9649 §2).
    pub fn sniff(head: &[u8]) -> Result<Self, AppError> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Ok(Self::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Ok(Self::Png)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Ok(Self::WebP)
        } else {
            Err(AppError::UnsupportedMedia(
                "the file is not a JPEG, PNG or WebP image (judged by its content)".into(),
            ))
        }
    }

    /// What it is stored as.
    pub fn stored(self) -> Stored {
        match self {
            Self::Jpeg => Stored::Jpeg,
            Self::Png | Self::WebP => Stored::Png,
        }
    }
}

/// The bytes sniffing needs: WebP's form type ends at byte 12.
pub const SNIFF_BYTES: usize = 12;

/// The format of what is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Jpeg,
    Png,
}

impl Stored {
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "jpeg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

/// Where WeChat's content check has an image. Stored as SMALLINT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, AsExpression, FromSqlRow, utoipa::ToSchema)]
#[diesel(sql_type = diesel::sql_types::SmallInt)]
#[schema(
    rename_all = "snake_case",
    description = "Where WeChat's content check has an image."
)]
pub enum MediaStatus {
    /// Asked, no verdict yet: shown to its uploader only.
    Pending,
    Approved,
    /// Shown to nobody; its bytes are deleted.
    Rejected,
}

impl MediaStatus {
    pub fn from_db(value: i16) -> Option<Self> {
        match value {
            0 => Some(Self::Pending),
            1 => Some(Self::Approved),
            2 => Some(Self::Rejected),
            _ => None,
        }
    }

    pub fn db_value(self) -> &'static i16 {
        match self {
            Self::Pending => &0,
            Self::Approved => &1,
            Self::Rejected => &2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// The limits of one image, checked from its header before any pixel is
/// decoded (a few KB of PNG can claim 50,000 × 50,000 pixels).
#[derive(Clone, Copy, Debug)]
pub struct ImageLimits {
    /// Bytes of the uploaded file.
    pub max_bytes: u64,
    /// Width or height.
    pub max_side: u32,
    /// Width × height.
    pub max_pixels: u64,
}

impl ImageLimits {
    /// 40000 when the header's size is beyond the limits (or empty).
    pub fn check(&self, width: u32, height: u32) -> Result<(), AppError> {
        if width == 0 || height == 0 {
            return Err(AppError::InvalidArgument("the image has no pixels".into()));
        }
        if width > self.max_side || height > self.max_side {
            return Err(AppError::InvalidArgument(format!(
                "the image is {width} × {height} pixels; each side may be at most {}",
                self.max_side
            )));
        }
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(AppError::InvalidArgument(format!(
                "the image is {width} × {height} pixels; at most {} pixels in all",
                self.max_pixels
            )));
        }
        Ok(())
    }
}

/// A thumbnail's longer side, in pixels: a list row or a poster tile on a
/// phone at 3× (about 107 points).
pub const THUMB_SIDE: u32 = 320;

/// The longest side an image is stored with: a poster or a full-screen
/// view on the largest phones. A 48-megapixel camera's photo is stored at
/// about a fifth of its pixels, which the client would throw away anyway.
pub const STORED_SIDE: u32 = 2560;

/// The size a `width` × `height` image is stored at.
pub fn stored_size(width: u32, height: u32) -> (u32, u32) {
    fitted(width, height, STORED_SIDE)
}

/// The size a `width` × `height` image is shown at as a thumbnail.
pub fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    fitted(width, height, THUMB_SIDE)
}

/// `width` × `height` with the longer side at most `side` (never
/// enlarged), the ratio kept.
fn fitted(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= side {
        return (width, height);
    }
    let scale = |n: u32| ((u64::from(n) * u64::from(side)) / u64::from(longer)).max(1);
    (scale(width) as u32, scale(height) as u32)
}

/// A new image id: 16 random bytes in unpadded base64url (22 characters).
/// Unguessable, so an id alone never reaches a pending image's bytes.
pub fn new_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `id` has the form `new_id` makes (so nothing else reaches a
/// query or an object key).
pub fn is_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The two objects of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Full,
    Thumb,
}

/// The name an image's variant is served under: `<id>.<ext>` or
/// `<id>.thumb.<ext>` (the server's path is `/media/<name>`).
fn file_name(id: &str, format: Stored, variant: Variant) -> String {
    match variant {
        Variant::Full => format!("{id}.{}", format.extension()),
        Variant::Thumb => format!("{id}.thumb.{}", format.extension()),
    }
}

/// The object key of an approved image's variant: `media/<name>`. The key
/// is also the path the server serves it at (`/<key>`, approved or not)
/// and what follows `LOTTERY_MEDIA_PUBLIC_BASE`: a CDN or a bucket policy
/// may make `media/` public.
pub fn object_key(id: &str, format: Stored, variant: Variant) -> String {
    format!("media/{}", file_name(id, format, variant))
}

/// The object key of an image not approved (yet): `pending/<name>`, a
/// prefix nothing makes public, so a CDN in front of the bucket never
/// reads, nor caches, an image WeChat may still refuse. Approval copies
/// it to `object_key`.
pub fn pending_key(id: &str, format: Stored, variant: Variant) -> String {
    format!("pending/{}", file_name(id, format, variant))
}

/// Where the variant's bytes are kept, by whether the image is approved.
pub fn stored_key(id: &str, format: Stored, variant: Variant, approved: bool) -> String {
    if approved {
        object_key(id, format, variant)
    } else {
        pending_key(id, format, variant)
    }
}

/// The id, format and variant a served file name (`<id>.<ext>` or
/// `<id>.thumb.<ext>`) names, if it is one `object_key` makes.
pub fn parse_file_name(name: &str) -> Option<(&str, Stored, Variant)> {
    let (stem, extension) = name.rsplit_once('.')?;
    let format = match extension {
        "jpg" => Stored::Jpeg,
        "png" => Stored::Png,
        _ => return None,
    };
    let (id, variant) = match stem.strip_suffix(".thumb") {
        Some(id) => (id, Variant::Thumb),
        None => (stem, Variant::Full),
    };
    is_id(id).then_some((id, format, variant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_is_judged_by_the_bytes() {
        assert_eq!(
            Upload::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]).unwrap(),
            Upload::Jpeg
        );
        assert_eq!(
            Upload::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap(),
            Upload::Png
        );
        assert_eq!(
            Upload::sniff(b"RIFF\x10\0\0\0WEBPVP8 ").unwrap(),
            Upload::WebP
        );
        for not_ours in [
            &b"GIF89a\x01\0\x01\0"[..],
            b"#!/bin/sh\necho hi\n",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            b"RIFF\x10\0\0\0WAVEfmt ",
            b"\xFF\xD8",
            b"",
        ] {
            let err = Upload::sniff(not_ours).unwrap_err();
            assert!(matches!(err, AppError::UnsupportedMedia(_)), "{not_ours:?}");
        }
    }

    #[test]
    fn sizes_are_refused_from_the_header() {
        let limits = ImageLimits {
            max_bytes: 1 << 20,
            max_side: 8000,
            max_pixels: 30_000_000,
        };
        assert!(limits.check(8000, 3000).is_ok());
        assert!(limits.check(50_000, 50_000).is_err());
        assert!(limits.check(8001, 10).is_err());
        assert!(limits.check(6000, 6000).is_err(), "36 MP is over 30 MP");
        assert!(limits.check(0, 10).is_err());
    }

    #[test]
    fn thumbnails_keep_the_ratio_and_never_grow() {
        assert_eq!(thumb_size(4000, 3000), (320, 240));
        assert_eq!(thumb_size(3000, 4000), (240, 320));
        assert_eq!(thumb_size(200, 100), (200, 100));
        assert_eq!(thumb_size(8000, 1), (320, 1));
        assert_eq!(stored_size(8000, 6000), (2560, 1920));
        assert_eq!(stored_size(2560, 100), (2560, 100));
    }

    #[test]
    fn ids_and_keys_round_trip() {
        let id = new_id();
        assert!(is_id(&id), "{id}");
        assert_ne!(id, new_id());
        for (format, variant) in [(Stored::Jpeg, Variant::Full), (Stored::Png, Variant::Thumb)] {
            let key = object_key(&id, format, variant);
            let name = key.strip_prefix("media/").unwrap();
            assert_eq!(parse_file_name(name), Some((id.as_str(), format, variant)));
        }
        assert_eq!(parse_file_name("../etc/passwd.jpg"), None);
        assert_eq!(parse_file_name(&format!("{id}.gif")), None);
        assert!(!is_id("short"));
    }
}
