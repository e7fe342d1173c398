//! One upload, from bytes to what is stored: the header read first (its
//! size checked before a pixel is decoded), the pixels decoded under
//! `image`'s allocation limits, scaled to `STORED_SIDE` at most, turned
//! upright by the EXIF orientation, and encoded anew, so nothing of the file but its pixels survives: no
//! EXIF (a phone's GPS position), no XMP, no ICC profile, no text chunks.

use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::domain::media::{stored_size, thumb_size, ImageLimits, Stored, Upload};
use crate::error::{AppError, AppResult};

/// JPEG quality of what is stored: visually lossless for photos at a
/// fraction of a phone camera's file size.
const JPEG_QUALITY: u8 = 85;

/// An upload made ready to store.
pub struct Processed {
    pub format: Stored,
    pub width: u32,
    pub height: u32,
    pub full: Vec<u8>,
    pub thumb: Vec<u8>,
}

/// Checks and re-encodes `bytes`, which sniffed as `format`. CPU-bound:
/// run it off the HTTP workers (`Media::process`).
pub fn process(format: Upload, bytes: &[u8], limits: &ImageLimits) -> AppResult<Processed> {
    let mut reader = ImageReader::with_format(
        Cursor::new(bytes),
        match format {
            Upload::Jpeg => ImageFormat::Jpeg,
            Upload::Png => ImageFormat::Png,
            Upload::WebP => ImageFormat::WebP,
        },
    );
    // The size itself is judged by `limits.check` below, from the header,
    // with a message that names it; the decoder's own allocation limit
    // stays as a second wall (the pixels at 16 bits per channel with
    // alpha, and one conversion).
    let mut decoding = image::Limits::default();
    decoding.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_mul(2));
    reader.limits(decoding);
    // Only the header is read here.
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    let (stored_width, stored_height) = stored_size(width, height);
    if (stored_width, stored_height) != (width, height) {
        // Triangle (bilinear) is the cheapest filter that does not alias
        // a downscale of at most a few times; a thumbnail uses `thumbnail`.
        image = image.resize_exact(stored_width, stored_height, FilterType::Triangle);
    }
    image.apply_orientation(orientation);
    let stored = format.stored();
    let full = encode(&image, stored)?;
    let (thumb_width, thumb_height) = thumb_size(image.width(), image.height());
    let thumb = encode(&image.thumbnail(thumb_width, thumb_height), stored)?;
    Ok(Processed {
        format: stored,
        width: image.width(),
        height: image.height(),
        full,
        thumb,
    })
}

fn encode(image: &DynamicImage, format: Stored) -> AppResult<Vec<u8>> {
    let mut out = Vec::new();
    let written = match format {
        // JPEG has no alpha: flattened to RGB (a JPEG upload has none).
        // Sides fit u16: `ImageLimits` caps them at 20,000.
        Stored::Jpeg => {
            let rgb = image.to_rgb8();
            let (width, height) = (rgb.width() as u16, rgb.height() as u16);
            jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
                .encode(rgb.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| AppError::internal(format!("cannot encode an image: {e}")))?;
            return Ok(out);
        }
        Stored::Png => {
            let pixels = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            pixels.write_with_encoder(PngEncoder::new(&mut out))
        }
    };
    written.map_err(|e| AppError::internal(format!("cannot encode an image: {e}")))?;
    Ok(out)
}

/// A file that sniffed as an image but does not decode (truncated, corrupt,
/// or beyond the decoder's limits).
fn unreadable(err: image::ImageError) -> AppError {
    match err {
        image::ImageError::Limits(_) => {
            AppError::InvalidArgument("the image has too many pixels to be decoded here".into())
        }
        _ => AppError::InvalidArgument(
            "the image cannot be read: it is damaged or incomplete".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 10 << 20,
        max_side: 8192,
        max_pixels: 40_000_000,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_pixel(width, height, Rgb([200, 30, 30]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_with_encoder(PngEncoder::new(&mut out))
            .unwrap();
        out
    }

    #[test]
    fn a_png_is_stored_as_png_with_a_thumbnail() {
        let done = process(Upload::Png, &png(1000, 500), &LIMITS).unwrap();
        assert_eq!(
            (done.format, done.width, done.height),
            (Stored::Png, 1000, 500)
        );
        let thumb = image::load_from_memory(&done.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn a_large_image_is_stored_at_the_stored_side() {
        let done = process(Upload::Png, &png(3000, 1500), &LIMITS).unwrap();
        assert_eq!((done.width, done.height), (2560, 1280));
        let full = image::load_from_memory(&done.full).unwrap();
        assert_eq!((full.width(), full.height()), (2560, 1280));
    }

    #[test]
    fn a_truncated_file_is_a_clear_error() {
        let mut bytes = png(100, 100);
        bytes.truncate(bytes.len() / 2);
        let err = process(Upload::Png, &bytes, &LIMITS).err().unwrap();
        assert_eq!(err.code(), 40000, "{err}");
    }
}
