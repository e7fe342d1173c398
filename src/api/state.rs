//! What every request handler shares: settings, the database, sessions, the
//! WeChat client, the event actors and the caches. `startup` assembles it;
//! handlers only read it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use super::signing_keys::Signing;
use crate::actors::notifier::NoticeBell;
use crate::actors::Events;
use crate::cache::changes::ResultChanges;
use crate::cache::finished::FinishedEvents;
use crate::cache::groups::KnownGroups;
use crate::cache::results::DrawResults;
use crate::cache::risk_ranks::RiskRanks;
use crate::cache::sessions::SessionStore;
use crate::clock::Clock;
use crate::cluster::Placement;
use crate::config::Config;
use crate::limits::RateLimits;
use crate::media::urls::MediaUrls;
use crate::media::Media;
use crate::pii::Keyring;
use crate::store::Db;
use crate::wechat::token::AccessTokens;
use crate::wechat::WechatClient;

/// Set when a graceful shutdown begins: API requests get 503 with
/// Retry-After (so clients retry elsewhere) and every answer closes its
/// connection.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub sessions: SessionStore,
    pub wechat: Option<WechatClient>,
    /// The access token of WeChat's server API, when WeChat is configured.
    pub tokens: Option<Arc<AccessTokens>>,
    pub events: Events,
    pub results: Arc<DrawResults>,
    pub finished: Arc<FinishedEvents>,
    /// Tells every instance (this one too) that an event's results changed.
    pub result_changes: ResultChanges,
    pub metrics: PrometheusHandle,
    pub limits: RateLimits,
    /// Users' WeChat risk ranks, kept a while.
    pub risk_ranks: RiskRanks,
    /// (event, group) pairs known to belong together.
    pub known_groups: KnownGroups,
    pub draining: Draining,
    /// Request signing, when keys are configured.
    pub signing: Option<Arc<Signing>>,
    /// Where each event is served (this instance, or its owner in a cluster).
    pub placement: Placement,
    /// Cluster mode: what writes are forwarded to their owner with.
    pub forward_client: Option<reqwest::Client>,
    /// Seals and opens personal data (the only way to it: `pii`).
    pub pii: Arc<Keyring>,
    /// What claims are judged by (`clock`: tests move it).
    pub clock: Clock,
    /// Which notices a re-draw queues, and the bell it rings after.
    pub notices: NoticeBell,
    /// Uploaded images: settings, the store and the decoding pool.
    pub media: Arc<Media>,
    /// Where images are shown.
    pub media_urls: MediaUrls,
    /// What `/readyz` and `/metrics` last heard from the dependencies.
    pub readiness: super::readiness::Readiness,
}
