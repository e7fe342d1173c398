//! Content codings (RFC 9110 §8.4.1, §12.5.3): an answer over 1 KiB goes
//! out gzip- or brotli-compressed when the request's `Accept-Encoding`
//! asks for one; below that the framing saves more than the coding would.
//! The choice follows the client's q-values (actix's own parser); a client
//! that takes both with equal weight gets brotli, the smaller.

use std::io::Write;

use actix_web::http::header::{self, AcceptEncoding, Encoding, Header, HeaderValue};
use actix_web::web::Bytes;
use actix_web::HttpRequest;

/// Bodies of this many bytes or fewer go out as they are.
pub const MIN_BYTES: usize = 1024;

/// gzip's default level and brotli's quality 5: both compress a page of
/// JSON to about a fifth in tens of microseconds; the higher levels save a
/// few percent more for several times the work.
const GZIP_LEVEL: u32 = 6;
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW_BITS: u32 = 22;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    Brotli,
}

impl Coding {
    /// Its `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }

    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.token())
    }

    /// `body` in this coding.
    pub fn encode(self, body: &[u8]) -> Bytes {
        // Writing into a Vec cannot fail.
        let out = match self {
            Coding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 3),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                encoder.write_all(body).expect("writes into memory");
                encoder.finish().expect("writes into memory")
            }
            Coding::Brotli => {
                let mut encoder = brotli::CompressorWriter::new(
                    Vec::with_capacity(body.len() / 3),
                    4096,
                    BROTLI_QUALITY,
                    BROTLI_WINDOW_BITS,
                );
                encoder.write_all(body).expect("writes into memory");
                encoder.into_inner()
            }
        };
        Bytes::from(out)
    }
}

/// The coding a response of `len` bytes should go out in for `req`: None
/// when it is small, or the request does not ask for one we have (or
/// refuses them with `q=0`).
pub fn for_request(req: &HttpRequest, len: usize) -> Option<Coding> {
    if len <= MIN_BYTES || !req.headers().contains_key(header::ACCEPT_ENCODING) {
        return None;
    }
    let accepted = AcceptEncoding::parse(req).ok()?;
    let offered = [Encoding::gzip(), Encoding::brotli(), Encoding::identity()];
    match accepted.negotiate(offered.iter())? {
        e if e == Encoding::gzip() => Some(Coding::Gzip),
        e if e == Encoding::brotli() => Some(Coding::Brotli),
        _ => None,
    }
}

/// Whether a body of this media type is worth compressing: text and JSON
/// are; images and other media already are compressed.
pub fn compressible(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/javascript"
        || essence == "image/svg+xml"
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::io::Read;

    fn asking(value: &str) -> HttpRequest {
        TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, value))
            .to_http_request()
    }

    #[test]
    fn the_client_chooses_by_weight_then_by_order() {
        let big = MIN_BYTES + 1;
        for (asked, chosen) in [
            ("gzip", Some(Coding::Gzip)),
            ("br", Some(Coding::Brotli)),
            ("gzip, deflate, br", Some(Coding::Brotli)),
            ("br, gzip", Some(Coding::Brotli)),
            ("gzip;q=0.5, br", Some(Coding::Brotli)),
            ("br;q=0, gzip;q=0.1", Some(Coding::Gzip)),
            ("identity", None),
            ("deflate", None),
            ("gzip;q=0", None),
            ("", None),
        ] {
            assert_eq!(for_request(&asking(asked), big), chosen, "{asked:?}");
        }
        assert_eq!(for_request(&asking("gzip"), MIN_BYTES), None, "small");
        assert_eq!(
            for_request(&TestRequest::default().to_http_request(), big),
            None
        );
    }

    #[test]
    fn each_coding_decodes_to_the_body() {
        let body = br#"{"code":0,"message":"ok","data":{"title":"a lottery"}}"#.repeat(40);
        let gzip = Coding::Gzip.encode(&body);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        let br = Coding::Brotli.encode(&body);
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        assert!(gzip.len() < body.len() / 5 && br.len() < body.len() / 5);
    }

    #[test]
    fn only_text_and_json_are_compressed() {
        for (value, yes) in [
            ("application/json", true),
            ("application/problem+json; charset=utf-8", true),
            ("text/html; charset=utf-8", true),
            ("text/plain; version=0.0.4", true),
            ("image/png", false),
            ("image/jpeg", false),
            ("application/octet-stream", false),
        ] {
            assert_eq!(
                compressible(Some(&HeaderValue::from_static(value))),
                yes,
                "{value}"
            );
        }
        assert!(!compressible(None));
    }
}
