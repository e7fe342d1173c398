//! The serialized answers of one event's page, by what sets one viewer's
//! answer apart from another's (`Seen`). Live and finished pages share it:
//! a view then costs a lookup and a copy of a pointer, not a clone of the
//! event, its JSON and its envelope. A live page's answers hold for one
//! version of the page (its count); a finished page never changes.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::coding::Coding;

/// A built answer, its entity tag when it has one, and its compressed
/// copies, each made by the first request that asks for that coding and
/// then kept as long as the answer is (a hot page is compressed once per
/// version, not once per view).
#[derive(Clone)]
pub struct Answer {
    pub body: Bytes,
    /// None for answers that are not revalidated (a live page changes
    /// with every join).
    pub etag: Option<Arc<EntityTag>>,
    encoded: Arc<Encoded>,
}

/// An answer's entity tag as the headers carry it, made once with the
/// answer: the strong form (`"…"`) for its bytes and the weak one
/// (`W/"…"`) for its compressed copies.
#[derive(Debug, PartialEq, Eq)]
pub struct EntityTag {
    pub strong: HeaderValue,
    pub weak: HeaderValue,
}

impl EntityTag {
    /// `"…"`, quoted.
    pub fn as_str(&self) -> &str {
        self.strong.to_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct Encoded {
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Answer {
    pub fn plain(body: Bytes) -> Self {
        Self {
            body,
            etag: None,
            encoded: Arc::default(),
        }
    }

    /// With its entity tag: the start of SHA-256 of its bytes, computed
    /// once with the build (a million participants' fairness record is
    /// megabytes; a tag per request would hash it each time). Answers that
    /// differ by viewer differ in bytes, so in tags.
    pub fn tagged(body: Bytes) -> Self {
        let digest = Sha256::digest(&body);
        let hex = hex::encode(&digest[..16]);
        let header = |text: String| HeaderValue::from_str(&text).expect("hex is a header value");
        Self {
            etag: Some(Arc::new(EntityTag {
                strong: header(format!("\"{hex}\"")),
                weak: header(format!("W/\"{hex}\"")),
            })),
            ..Self::plain(body)
        }
    }

    /// The body in `coding`, compressed by the first caller.
    pub fn encoded(&self, coding: Coding) -> Bytes {
        self.copy(coding)
            .get_or_init(|| coding.encode(&self.body))
            .clone()
    }

    /// Whether the copy in `coding` is made already.
    pub fn has_encoded(&self, coding: Coding) -> bool {
        self.copy(coding).get().is_some()
    }

    fn copy(&self, coding: Coding) -> &OnceLock<Bytes> {
        match coding {
            Coding::Gzip => &self.encoded.gzip,
            Coding::Brotli => &self.encoded.brotli,
        }
    }
}

/// What sets one viewer's answer apart from another's: `me`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Seen {
    Anonymous,
    /// Logged in, not a participant.
    Outsider,
    Participant,
    /// A winner of the prize with this id (finished events only).
    Winner(i64),
}

/// At most one answer per kind of viewer seen (for a finished event: the
/// prizes plus three), all of one version.
#[derive(Default)]
pub struct Answers<V> {
    held: RwLock<(Option<V>, HashMap<Seen, Answer>)>,
}

impl<V: Copy + PartialEq> Answers<V> {
    /// The answer for `seen` at `version`, built by `build` when none of
    /// that version is held. Answers of an older version are dropped.
    pub fn get_or_build(&self, version: V, seen: Seen, build: impl FnOnce() -> Answer) -> Answer {
        {
            let held = self.held.read();
            if held.0 == Some(version) {
                if let Some(body) = held.1.get(&seen) {
                    return body.clone();
                }
            }
        }
        let body = build();
        let mut held = self.held.write();
        if held.0 != Some(version) {
            *held = (Some(version), HashMap::new());
        }
        held.1.insert(seen, body.clone());
        body
    }

    /// Drops every answer (what they were built from changed).
    pub fn clear(&mut self) {
        *self.held.get_mut() = (None, HashMap::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_built_once_per_viewer_kind_and_version() {
        let answers = Answers::<u32>::default();
        let mut builds = 0;
        let mut get = |version, seen| {
            answers
                .get_or_build(version, seen, || {
                    builds += 1;
                    Answer::plain(Bytes::from(format!("{version} {seen:?}")))
                })
                .body
        };
        assert_eq!(get(1, Seen::Anonymous), "1 Anonymous");
        assert_eq!(get(1, Seen::Anonymous), "1 Anonymous");
        assert_eq!(get(1, Seen::Winner(7)), "1 Winner(7)");
        assert_eq!(get(2, Seen::Anonymous), "2 Anonymous");
        assert_eq!(
            get(2, Seen::Winner(7)),
            "2 Winner(7)",
            "older versions are dropped"
        );
        assert_eq!(builds, 4);
    }

    #[test]
    fn a_tag_follows_the_bytes_and_a_copy_is_made_once() {
        let a = Answer::tagged(Bytes::from_static(b"{\"me\":null}"));
        let b = Answer::tagged(Bytes::from_static(b"{\"me\":{}}"));
        assert_ne!(a.etag, b.etag, "viewers' answers never share a tag");
        assert_eq!(a.etag, Answer::tagged(a.body.clone()).etag);
        assert!(Answer::plain(a.body.clone()).etag.is_none());
        assert!(!a.has_encoded(Coding::Gzip));
        let copy = a.clone();
        let first = a.encoded(Coding::Gzip);
        assert!(copy.has_encoded(Coding::Gzip), "clones share the copies");
        assert_eq!(copy.encoded(Coding::Gzip).as_ptr(), first.as_ptr());
        assert!(!copy.has_encoded(Coding::Brotli));
    }
}
