//! Login sessions. A token is 256 random bits shown to the client once; the
//! store keeps only its SHA-256, so a leaked store does not leak tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parking_lot::RwLock;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

type TokenHash = [u8; 32];

#[derive(Clone, Copy, Debug)]
struct Session {
    user_id: i64,
    expires_at: Instant,
}

#[derive(Clone)]
pub enum SessionStore {
    InProcess(Arc<InProcessSessions>),
}

pub struct InProcessSessions {
    ttl: Duration,
    sessions: RwLock<HashMap<TokenHash, Session>>,
    created: AtomicU64,
}

/// A freshly issued token and how long it lives.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn unauthorized() -> AppError {
    AppError::Unauthorized("the token is missing, unknown, expired or revoked".into())
}

impl SessionStore {
    pub fn in_process(ttl: Duration) -> Self {
        Self::InProcess(Arc::new(InProcessSessions {
            ttl,
            sessions: RwLock::new(HashMap::new()),
            created: AtomicU64::new(0),
        }))
    }

    pub async fn create(&self, user_id: i64) -> AppResult<Issued> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        match self {
            Self::InProcess(store) => {
                let now = Instant::now();
                let mut sessions = store.sessions.write();
                // Sweep expired sessions now and then so the map stays bounded.
                if store.created.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
                    sessions.retain(|_, s| s.expires_at > now);
                }
                sessions.insert(
                    hash(&token),
                    Session {
                        user_id,
                        expires_at: now + store.ttl,
                    },
                );
                Ok(Issued {
                    token,
                    expires_in: store.ttl.as_secs(),
                })
            }
        }
    }

    /// The user a token belongs to; 40100 for anything else.
    pub async fn resolve(&self, token: &str) -> AppResult<i64> {
        match self {
            Self::InProcess(store) => match store.sessions.read().get(&hash(token)) {
                Some(s) if s.expires_at > Instant::now() => Ok(s.user_id),
                _ => Err(unauthorized()),
            },
        }
    }

    pub async fn revoke(&self, token: &str) -> AppResult<()> {
        match self {
            Self::InProcess(store) => {
                store.sessions.write().remove(&hash(token));
                Ok(())
            }
        }
    }

    /// Whether the store answers, for readiness.
    pub async fn ping(&self) -> AppResult<()> {
        match self {
            Self::InProcess(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_resolve_until_revoked_or_expired() {
        let store = SessionStore::in_process(Duration::from_secs(60));
        let issued = store.create(7).await.unwrap();
        assert!(issued.token.len() >= 43);
        assert_eq!(store.resolve(&issued.token).await.unwrap(), 7);
        store.revoke(&issued.token).await.unwrap();
        assert_eq!(
            store.resolve(&issued.token).await.unwrap_err().code(),
            40100
        );

        let short = SessionStore::in_process(Duration::from_millis(1));
        let t = short.create(1).await.unwrap().token;
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(short.resolve(&t).await.unwrap_err().code(), 40100);
    }
}
