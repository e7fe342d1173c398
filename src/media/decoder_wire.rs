//! What the server and its decoding processes say to each other over a
//! pipe: one frame per message, a little-endian `u32` length and then the
//! message. A request is an upload's bytes with its format and limits; an
//! answer is the re-encoded image and thumbnail, or why there is none.
//! Both sides build and read whole frames in memory, so the synchronous
//! child and the asynchronous server share this code.

use crate::domain::media::{ImageLimits, Stored, Upload};
use crate::error::AppError;

use super::process::Processed;

/// The first line a decoding process writes: the server checks it, so a
/// `LOTTERY_MEDIA_DECODER` that names another program is a clear error,
/// not a garbled answer.
pub const HELLO: &[u8] = b"lottery-decoder 1\n";

/// The largest frame either side reads. A decoder's answer is two encoded
/// images of at most `ImageLimits::max_pixels` pixels; a bound is kept so
/// that a confused or compromised child cannot make the server allocate
/// without end.
pub const MAX_FRAME: usize = 512 << 20;

pub struct Request {
    pub format: Upload,
    pub limits: ImageLimits,
    pub bytes: Vec<u8>,
}

/// Why a decoder made nothing: the upload's fault (40000, with a message
/// for the client) or the decoder's own (an encoding failure, logged).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Unreadable(String),
    Internal(String),
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unreadable(message) => AppError::InvalidArgument(message),
            Refusal::Internal(detail) => AppError::internal(detail),
        }
    }
}

impl From<AppError> for Refusal {
    fn from(err: AppError) -> Self {
        match err {
            AppError::InvalidArgument(message) => Refusal::Unreadable(message),
            other => Refusal::Internal(other.to_string()),
        }
    }
}

pub fn request_frame(format: Upload, limits: &ImageLimits, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 32);
    body.push(match format {
        Upload::Jpeg => 0,
        Upload::Png => 1,
        Upload::WebP => 2,
    });
    body.extend_from_slice(&limits.max_bytes.to_le_bytes());
    body.extend_from_slice(&limits.max_side.to_le_bytes());
    body.extend_from_slice(&limits.max_pixels.to_le_bytes());
    body.extend_from_slice(bytes);
    frame(body)
}

pub fn read_request(body: &[u8]) -> Result<Request, String> {
    let mut r = Reader(body);
    let format = match r.u8()? {
        0 => Upload::Jpeg,
        1 => Upload::Png,
        2 => Upload::WebP,
        other => return Err(format!("unknown format {other}")),
    };
    let limits = ImageLimits {
        max_bytes: r.u64()?,
        max_side: r.u32()?,
        max_pixels: r.u64()?,
    };
    Ok(Request {
        format,
        limits,
        bytes: r.0.to_vec(),
    })
}

pub fn answer_frame(answer: &Result<Processed, Refusal>) -> Vec<u8> {
    let mut body = Vec::new();
    match answer {
        Ok(done) => {
            body.push(0);
            body.push(match done.format {
                Stored::Jpeg => 0,
                Stored::Png => 1,
            });
            body.extend_from_slice(&done.width.to_le_bytes());
            body.extend_from_slice(&done.height.to_le_bytes());
            put_bytes(&mut body, &done.full);
            put_bytes(&mut body, &done.thumb);
        }
        Err(Refusal::Unreadable(message)) => {
            body.push(1);
            put_bytes(&mut body, message.as_bytes());
        }
        Err(Refusal::Internal(detail)) => {
            body.push(2);
            put_bytes(&mut body, detail.as_bytes());
        }
    }
    frame(body)
}

pub fn read_answer(body: &[u8]) -> Result<Result<Processed, Refusal>, String> {
    let mut r = Reader(body);
    match r.u8()? {
        0 => {
            let format = match r.u8()? {
                0 => Stored::Jpeg,
                1 => Stored::Png,
                other => return Err(format!("unknown stored format {other}")),
            };
            Ok(Ok(Processed {
                format,
                width: r.u32()?,
                height: r.u32()?,
                full: r.bytes()?.to_vec(),
                thumb: r.bytes()?.to_vec(),
            }))
        }
        1 => Ok(Err(Refusal::Unreadable(r.text()?))),
        2 => Ok(Err(Refusal::Internal(r.text()?))),
        other => Err(format!("unknown answer {other}")),
    }
}

/// The length a frame's first four bytes announce, if it is within bounds.
pub fn frame_len(head: [u8; 4]) -> Result<usize, String> {
    let len = u32::from_le_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(format!("a frame of {len} bytes is over the bound"));
    }
    Ok(len)
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a frame ended early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn text(&mut self) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 10 << 20,
        max_side: 8192,
        max_pixels: 40_000_000,
    };

    #[test]
    fn requests_and_answers_read_back_as_written() {
        let frame = request_frame(Upload::WebP, &LIMITS, b"RIFF....WEBP");
        let len = frame_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, frame.len() - 4);
        let request = read_request(&frame[4..]).unwrap();
        assert_eq!(request.format, Upload::WebP);
        assert_eq!(request.limits.max_pixels, LIMITS.max_pixels);
        assert_eq!(request.bytes, b"RIFF....WEBP");

        let done = Processed {
            format: Stored::Png,
            width: 640,
            height: 480,
            full: vec![1, 2, 3],
            thumb: vec![4],
        };
        let frame = answer_frame(&Ok(done));
        let back = read_answer(&frame[4..]).unwrap().unwrap();
        assert_eq!(
            (back.width, back.height, back.format),
            (640, 480, Stored::Png)
        );
        assert_eq!((back.full, back.thumb), (vec![1, 2, 3], vec![4]));

        let refused = Err(Refusal::Unreadable("the image cannot be read".into()));
        let frame = answer_frame(&refused);
        assert_eq!(read_answer(&frame[4..]).unwrap().err(), refused.err());
    }

    #[test]
    fn a_short_or_oversized_frame_is_an_error_not_a_panic() {
        let frame = answer_frame(&Ok(Processed {
            format: Stored::Jpeg,
            width: 1,
            height: 1,
            full: vec![0; 100],
            thumb: vec![],
        }));
        assert!(read_answer(&frame[4..50]).is_err());
        assert!(frame_len(u32::MAX.to_le_bytes()).is_err());
        assert!(read_request(&[9]).is_err());
    }
}
