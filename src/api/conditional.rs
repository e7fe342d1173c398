//! Conditional answers (RFC 9110 §13.1.2, §15.4.5): published results carry
//! their entity tag and `Cache-Control: public, no-cache`, which lets any
//! cache keep them but has it ask again each time (a re-draw or a renamed
//! winner still changes them). A request whose `If-None-Match` names the
//! tag gets 304 with no body. These answers are the same for every viewer
//! (no `me`), so a shared cache may keep them.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::api::envelope::ok_serialized;
use crate::cache::results::Answer;

const REVALIDATE: &str = "public, no-cache";

/// `answer` as 200, or 304 when the request already holds it.
pub fn revalidated(req: &HttpRequest, answer: Answer) -> HttpResponse {
    let Some(etag) = answer.etag.as_deref() else {
        return ok_serialized(answer.body);
    };
    let mut response = if holds(req, etag) {
        HttpResponse::NotModified().finish()
    } else {
        ok_serialized(answer.body)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    response
}

/// Whether `If-None-Match` (every line of it) names `etag` or is `*`; weak
/// comparison, as the field requires.
fn holds(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::web::Bytes;

    fn answer() -> Answer {
        Answer {
            body: Bytes::from_static(b"{}"),
            etag: Some("\"abc\"".into()),
        }
    }

    #[test]
    fn a_named_tag_is_304_and_any_other_is_the_answer() {
        for held in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, held))
                .to_http_request();
            let response = revalidated(&req, answer());
            assert_eq!(response.status(), 304, "{held}");
            assert_eq!(response.headers().get(header::ETAG).unwrap(), "\"abc\"");
        }
        for other in ["\"abd\"", "abc", ""] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, other))
                .to_http_request();
            assert_eq!(revalidated(&req, answer()).status(), 200, "{other}");
        }
        let plain = revalidated(&TestRequest::default().to_http_request(), answer());
        assert_eq!(plain.status(), 200);
        assert_eq!(
            plain.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, no-cache"
        );
    }
}
