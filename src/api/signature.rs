//! Request signing (docs/SIGNING.md): HMAC-SHA256, under one of the app's
//! keys, over the method, the path with its query as sent, the timestamp,
//! the nonce and the body's SHA-256, one per line. Pure: the middleware in
//! `signing.rs` feeds it the request and keeps the nonces.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const TIMESTAMP: &str = "x-lottery-timestamp";
pub const NONCE: &str = "x-lottery-nonce";
pub const SIGNATURE: &str = "x-lottery-signature";

/// How far a request's timestamp may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// What a signed request says about itself.
pub struct Signed<'a> {
    pub method: &'a str,
    /// The request target as sent: path and, when present, `?` and query.
    pub path_and_query: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub body: &'a [u8],
}

/// Why a signed request is refused (each one a 401 40100 message).
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    BadTimestamp,
    BadNonce,
    Stale,
    Mismatch,
}

impl Refusal {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Missing => "this server requires signed requests: X-Lottery-Timestamp, X-Lottery-Nonce and X-Lottery-Signature",
            Self::BadTimestamp => "X-Lottery-Timestamp must be the Unix time in whole seconds",
            Self::BadNonce => "X-Lottery-Nonce must be 8 to 64 letters, digits, - or _",
            Self::Stale => "the request's timestamp is more than 5 minutes from the server's clock",
            Self::Mismatch => "the request signature does not match",
        }
    }
}

/// The bytes that are signed.
pub fn canonical(request: &Signed<'_>) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        request.method,
        request.path_and_query,
        request.timestamp,
        request.nonce,
        hex::encode(Sha256::digest(request.body))
    )
}

/// The signature a client sends: lowercase hex of HMAC-SHA256(key, canonical).
pub fn sign(key: &[u8], request: &Signed<'_>) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(canonical(request).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks everything but the nonce's novelty: the format of the headers,
/// the signature under any of `keys` (compared in constant time), then
/// the timestamp against `now` (Unix seconds).
pub fn verify(
    keys: &[Vec<u8>],
    request: &Signed<'_>,
    signature: &str,
    now: i64,
) -> Result<(), Refusal> {
    let timestamp: i64 = request
        .timestamp
        .parse()
        .ok()
        .filter(|_| request.timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Refusal::BadTimestamp)?;
    let nonce_ok = (8..=64).contains(&request.nonce.len())
        && request
            .nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !nonce_ok {
        return Err(Refusal::BadNonce);
    }
    let Ok(sent) = hex::decode(signature) else {
        return Err(Refusal::Mismatch);
    };
    let canonical = canonical(request);
    let matches = keys.iter().any(|key| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(canonical.as_bytes());
        mac.verify_slice(&sent).is_ok()
    });
    if !matches {
        return Err(Refusal::Mismatch);
    }
    if (now - timestamp).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/SIGNING.md, byte for byte.
    const KEY: &str = "demo-signing-key-0123456789abcdef";
    const BODY: &str = r#"{"notify":true}"#;
    const SIGNED: Signed<'static> = Signed {
        method: "PUT",
        path_and_query: "/api/v1/events/42/participants/me",
        timestamp: "1795000000",
        nonce: "f3a9c2e1-77b4",
        body: BODY.as_bytes(),
    };

    #[test]
    fn the_documented_example_verifies_byte_for_byte() {
        let canonical = canonical(&SIGNED);
        let body_hash = hex::encode(Sha256::digest(BODY));
        assert_eq!(
            canonical,
            format!(
                "PUT\n/api/v1/events/42/participants/me\n1795000000\nf3a9c2e1-77b4\n{body_hash}"
            )
        );
        let signature = sign(KEY.as_bytes(), &SIGNED);
        let doc = include_str!("../../docs/SIGNING.md");
        assert!(
            doc.contains(&body_hash),
            "docs/SIGNING.md shows the body hash {body_hash}"
        );
        assert!(
            doc.contains(&signature),
            "docs/SIGNING.md shows the signature {signature}"
        );
        let hex_bytes = hex::encode(canonical.as_bytes());
        assert!(
            doc.replace('\n', "").contains(&hex_bytes),
            "docs/SIGNING.md shows the canonical string's bytes"
        );
        let keys = vec![b"old-key".to_vec(), KEY.as_bytes().to_vec()];
        assert_eq!(verify(&keys, &SIGNED, &signature, 1_795_000_100), Ok(()));
    }

    #[test]
    fn bad_stale_and_malformed_requests_are_refused() {
        let keys = vec![KEY.as_bytes().to_vec()];
        let good = sign(KEY.as_bytes(), &SIGNED);
        let now = 1_795_000_000;
        assert_eq!(
            verify(&keys, &SIGNED, &good, now + 301),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(&keys, &SIGNED, &good, now - 301),
            Err(Refusal::Stale)
        );
        assert_eq!(verify(&keys, &SIGNED, &good, now + 300), Ok(()));
        let other_body = Signed {
            body: b"{}",
            ..SIGNED
        };
        assert_eq!(
            verify(&keys, &other_body, &good, now),
            Err(Refusal::Mismatch)
        );
        let other_path = Signed {
            path_and_query: "/api/v1/events/43/participants/me",
            ..SIGNED
        };
        assert_eq!(
            verify(&keys, &other_path, &good, now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(verify(&keys, &SIGNED, "zz", now), Err(Refusal::Mismatch));
        let wrong_key = sign(b"another-key", &SIGNED);
        assert_eq!(
            verify(&keys, &SIGNED, &wrong_key, now),
            Err(Refusal::Mismatch)
        );
        let short_nonce = Signed {
            nonce: "abc",
            ..SIGNED
        };
        assert_eq!(
            verify(&keys, &short_nonce, &good, now),
            Err(Refusal::BadNonce)
        );
        let odd_time = Signed {
            timestamp: "-5",
            ..SIGNED
        };
        assert_eq!(
            verify(&keys, &odd_time, &good, now),
            Err(Refusal::BadTimestamp)
        );
    }
}
