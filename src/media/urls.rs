//! Where an image is shown. An approved image is public: its URL is the
//! CDN base (`LOTTERY_MEDIA_PUBLIC_BASE`) or this server's `/media/…`,
//! followed by its object key, and never changes (it is cached forever).
//! A pending image is private: its uploader and WeChat's content check get
//! a signed URL that expires, which this server alone answers.

use chrono::{DateTime, Utc};

use crate::config::MediaSettings;
use crate::pii::Keyring;

/// How long a signed URL works: WeChat downloads within minutes of the
/// request (docs/MEDIA.md), and the uploader's client asks anew each view.
pub const SIGNED_FOR_SECS: i64 = 3600;

/// What the digest of a signed URL is taken over, besides its key and
/// expiry: a digest for anything else never verifies here.
const CONTEXT: &[u8] = b"lottery media url v1";

#[derive(Clone, Debug)]
pub struct MediaUrls {
    public_base: Option<String>,
    server: String,
}

impl MediaUrls {
    pub fn new(settings: &MediaSettings) -> Self {
        Self {
            public_base: settings.public_base.clone(),
            server: settings.public_url.clone().unwrap_or_default(),
        }
    }

    /// The public URL of an approved image's object.
    pub fn shown(&self, key: &str) -> String {
        match &self.public_base {
            Some(base) => format!("{base}/{key}"),
            None => format!("{}/{key}", self.server),
        }
    }

    /// A URL of this server that serves the object at `key` whatever its
    /// state, until `SIGNED_FOR_SECS` from `now`.
    pub fn signed(&self, keys: &Keyring, key: &str, now: DateTime<Utc>) -> String {
        let expires = now.timestamp() + SIGNED_FOR_SECS;
        let sig = keys.digest(CONTEXT, signed_text(key, expires).as_bytes());
        format!("{}/{key}?expires={expires}&sig={sig}", self.server)
    }

    /// Whether this server signed `key` until `expires`, and it has not passed.
    pub fn verify(keys: &Keyring, key: &str, expires: i64, sig: &str, now: DateTime<Utc>) -> bool {
        expires >= now.timestamp()
            && keys.verify_digest(CONTEXT, signed_text(key, expires).as_bytes(), sig)
    }

    /// Whether URLs are absolute (`LOTTERY_PUBLIC_URL` is set): what WeChat
    /// needs to download a pending image.
    pub fn reachable_from_outside(&self) -> bool {
        !self.server.is_empty()
    }
}

fn signed_text(key: &str, expires: i64) -> String {
    format!("{key}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_url_verifies_until_it_expires_and_for_its_key_only() {
        let keys = Keyring::parse(&Keyring::new_key_setting("k1")).unwrap();
        let urls = MediaUrls {
            public_base: None,
            server: "https://api.example.com".into(),
        };
        let now = Utc::now();
        let url = urls.signed(&keys, "media/abc.jpg", now);
        let query = url.split_once('?').unwrap().1;
        let expires: i64 = query.split('&').next().unwrap()["expires=".len()..]
            .parse()
            .unwrap();
        let sig = query.split_once("&sig=").unwrap().1;
        assert!(url.starts_with("https://api.example.com/media/abc.jpg?"));
        assert!(MediaUrls::verify(&keys, "media/abc.jpg", expires, sig, now));
        assert!(!MediaUrls::verify(
            &keys,
            "media/abd.jpg",
            expires,
            sig,
            now
        ));
        assert!(!MediaUrls::verify(
            &keys,
            "media/abc.jpg",
            expires + 1,
            sig,
            now
        ));
        let later = now + chrono::Duration::seconds(SIGNED_FOR_SECS + 1);
        assert!(!MediaUrls::verify(
            &keys,
            "media/abc.jpg",
            expires,
            sig,
            later
        ));
    }

    #[test]
    fn approved_images_use_the_cdn_when_there_is_one() {
        let cdn = MediaUrls {
            public_base: Some("https://cdn.example.com".into()),
            server: "https://api.example.com".into(),
        };
        assert_eq!(
            cdn.shown("media/a.jpg"),
            "https://cdn.example.com/media/a.jpg"
        );
        let own = MediaUrls {
            public_base: None,
            server: String::new(),
        };
        assert_eq!(own.shown("media/a.jpg"), "/media/a.jpg");
    }
}
