//! Conditional answers (RFC 9110 §13.1.2, §15.4.5): published results and
//! drawn or cancelled events' pages carry their entity tag and
//! `Cache-Control: …, no-cache`, which lets a cache keep them but has it
//! ask again each time (a re-draw, a renamed winner or a rejected image
//! still changes them). A request whose `If-None-Match` names the tag gets
//! 304 with no body. Results are the same for every viewer; a page's `me`
//! is the viewer's own (`Audience`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use crate::api::compression;
use crate::api::envelope::ok_serialized;
use crate::cache::answers::Answer;

/// Who an answer is for, which decides who may keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The same for every viewer (published results): any cache.
    Everyone,
    /// An event's page, whose `me` is this viewer's (None: anonymous). A
    /// viewer's page is kept only by their own client (`private`); the
    /// anonymous page by any cache. `Vary: Authorization` either way, and
    /// the tags differ with the bytes, so a revalidation made with another
    /// viewer's tag gets this viewer's page.
    Viewer(Option<i64>),
}

impl Audience {
    fn cache_control(self) -> &'static str {
        match self {
            Audience::Everyone | Audience::Viewer(None) => "public, no-cache",
            Audience::Viewer(Some(_)) => "private, no-cache",
        }
    }
}

/// `answer` as 200 (compressed when asked), or 304 when the request
/// already holds it. An answer without a tag (a live page) is sent as it
/// is, with no caching headers.
pub async fn revalidated(req: &HttpRequest, answer: Answer, audience: Audience) -> HttpResponse {
    let Some(etag) = answer.etag.clone() else {
        return send(req, &answer).await;
    };
    let held = holds(req, etag.as_str());
    let (mut response, coded) = if held {
        let mut response = HttpResponse::NotModified().finish();
        // A 304 names what the 200 would vary by (RFC 9110 §15.4.5).
        if compression::varies(answer.body.len()) {
            response
                .headers_mut()
                .append(header::VARY, compression::vary_value());
        }
        // It names the tag a 200 would have carried for this request.
        let coded = crate::coding::for_request(req, answer.body.len()).is_some();
        (response, coded)
    } else {
        let (body, coding) = compression::body_for(req, &answer).await;
        (encoded(body, coding), coding.is_some())
    };
    let headers = response.headers_mut();
    // A compressed copy is another representation: its tag is weak, as
    // the plain one's is strong (nginx does the same); `holds` compares
    // weakly, so either revalidates.
    let tag = if coded { &etag.weak } else { &etag.strong };
    headers.insert(header::ETAG, tag.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(audience.cache_control()),
    );
    if matches!(audience, Audience::Viewer(_)) {
        headers.append(header::VARY, HeaderValue::from_static("authorization"));
    }
    response
}

/// A 200 with `answer`'s body, compressed when asked.
pub async fn send(req: &HttpRequest, answer: &Answer) -> HttpResponse {
    let (body, coding) = compression::body_for(req, answer).await;
    encoded(body, coding)
}

fn encoded(body: actix_web::web::Bytes, coding: Option<crate::coding::Coding>) -> HttpResponse {
    let mut response = ok_serialized(body);
    if let Some(coding) = coding {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, coding.header_value());
    }
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

    fn answer(len: usize) -> Answer {
        Answer::tagged(Bytes::from(format!("{{\"a\":\"{}\"}}", "x".repeat(len))))
    }

    fn request(headers: &[(header::HeaderName, &str)]) -> HttpRequest {
        let mut req = TestRequest::default();
        for (name, value) in headers {
            req = req.insert_header((name.clone(), *value));
        }
        req.to_http_request()
    }

    #[actix_web::test]
    async fn a_named_tag_is_304_and_any_other_is_the_answer() {
        let answer = answer(10);
        let tag = answer.etag.as_ref().unwrap().as_str().to_string();
        for held in [
            tag.to_string(),
            format!("W/{tag}"),
            format!("\"x\", {tag}"),
            "*".into(),
        ] {
            let req = request(&[(header::IF_NONE_MATCH, &held)]);
            let response = revalidated(&req, answer.clone(), Audience::Everyone).await;
            assert_eq!(response.status(), 304, "{held}");
            assert_eq!(response.headers().get(header::ETAG).unwrap(), tag.as_str());
        }
        for other in ["\"abd\"", tag.trim_matches('"'), ""] {
            let req = request(&[(header::IF_NONE_MATCH, other)]);
            let response = revalidated(&req, answer.clone(), Audience::Everyone).await;
            assert_eq!(response.status(), 200, "{other}");
        }
        let plain = revalidated(&request(&[]), answer.clone(), Audience::Everyone).await;
        assert_eq!(plain.status(), 200);
        assert_eq!(
            plain.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, no-cache"
        );
        assert!(
            plain.headers().get(header::VARY).is_none(),
            "small, same for all"
        );
    }

    #[actix_web::test]
    async fn a_viewers_page_is_private_and_a_compressed_copy_has_a_weak_tag() {
        let answer = answer(4000);
        let tag = answer.etag.as_ref().unwrap().as_str().to_string();
        let asks = [(header::ACCEPT_ENCODING, "gzip")];
        let response =
            revalidated(&request(&asks), answer.clone(), Audience::Viewer(Some(7))).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers.get(header::CONTENT_ENCODING).unwrap(), "gzip");
        assert_eq!(headers.get(header::ETAG).unwrap(), &format!("W/{tag}"));
        assert_eq!(
            headers.get(header::CACHE_CONTROL).unwrap(),
            "private, no-cache"
        );
        let vary: Vec<_> = headers.get_all(header::VARY).collect();
        assert_eq!(
            vary,
            ["authorization"],
            "accept-encoding is the middleware's"
        );
        // The 304 for the same request names the tag its 200 carried.
        let again = [
            (header::ACCEPT_ENCODING, "gzip"),
            (header::IF_NONE_MATCH, &format!("W/{tag}")),
        ];
        let response = revalidated(&request(&again), answer.clone(), Audience::Viewer(None)).await;
        assert_eq!(response.status(), 304);
        assert_eq!(
            response.headers().get(header::ETAG).unwrap(),
            &format!("W/{tag}")
        );
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, no-cache"
        );
        let vary: Vec<_> = response.headers().get_all(header::VARY).collect();
        assert_eq!(vary, ["accept-encoding", "authorization"]);
    }
}
