//! Whether the database and the cache answer, as `/readyz` and `/metrics`
//! say. Both are public and never limited (probes and scrapers must get
//! through), so the answer is kept for a second and shared: a flood of
//! either costs at most one database ping and one Redis ping a second, not
//! one each per request (issue 24, finding 8: a flood had raised `/me`'s
//! p99 from 3.6 to 20 ms). Requests that come while a ping is out wait for
//! it instead of sending their own.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::state::AppState;

/// How long an answer stands: under a probe's usual period (Kubernetes'
/// shortest is 1 s), so what a probe sees is at most that old.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// How long the pings may take: a dependency that hangs counts as down
/// rather than stalling the probe or the scrape.
const PING_WITHIN: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, Dependencies)>>,
}

/// Whether each dependency answered.
#[derive(Clone, Copy, Debug)]
pub struct Dependencies {
    pub database: bool,
    pub cache: bool,
}

impl Readiness {
    pub async fn dependencies(&self, state: &AppState) -> Dependencies {
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = *last {
            if at.elapsed() < FRESH_FOR {
                return answer;
            }
        }
        metrics::counter!("lottery_readiness_checks_total").increment(1);
        let answer = tokio::time::timeout(PING_WITHIN, async {
            let (database, cache) = futures::join!(state.db.ping(), state.sessions.ping());
            Dependencies {
                database: database.is_ok(),
                cache: cache.is_ok(),
            }
        })
        .await
        .unwrap_or(Dependencies {
            database: false,
            cache: false,
        });
        *last = Some((Instant::now(), answer));
        answer
    }
}
