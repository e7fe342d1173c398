//! Sessions in the process: the embedded default, with no Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::tokens::TokenHash;
use super::{unauthorized, Stored, SWEEP_EVERY};
use crate::error::AppResult;

pub struct InProcessSessions {
    pub(super) ttl: Duration,
    sessions: RwLock<HashMap<TokenHash, (Stored, Instant)>>,
    inserts: AtomicU64,
}

impl InProcessSessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            sessions: RwLock::new(HashMap::new()),
            inserts: AtomicU64::new(0),
        }
    }

    pub(super) fn insert(&self, token_hash: TokenHash, stored: Stored) {
        let now = Instant::now();
        let mut sessions = self.sessions.write();
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            sessions.retain(|_, (_, until)| *until > now);
        }
        sessions.insert(token_hash, (stored, now + self.ttl));
    }

    pub(super) fn resolve(&self, token_hash: &TokenHash) -> AppResult<i64> {
        match self.sessions.read().get(token_hash) {
            Some((stored, until)) if *until > Instant::now() => Ok(stored.user_id),
            _ => Err(unauthorized()),
        }
    }

    /// The session's WeChat session_key (None: a session without one).
    pub(super) fn session_key(&self, token_hash: &TokenHash) -> AppResult<Option<String>> {
        match self.sessions.read().get(token_hash) {
            Some((stored, until)) if *until > Instant::now() => Ok(stored.session_key.clone()),
            _ => Err(unauthorized()),
        }
    }

    pub(super) fn revoke(&self, token_hash: &TokenHash) {
        self.sessions.write().remove(token_hash);
    }
}
