//! Where each event is served. One instance (the default) serves every
//! event itself; in cluster mode (the `cluster` feature and
//! `LOTTERY_ETCD_ENDPOINTS`) an event is served by the instance that owns
//! it in etcd, and the others forward its writes there (docs/CLUSTER.md).

pub mod directory;
#[cfg(feature = "cluster")]
pub mod etcd;

#[cfg(feature = "cluster")]
use std::sync::Arc;

use crate::config::ClusterSettings;
use crate::error::AppResult;
use crate::store::ownership::Token;

/// Where a request for an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This instance serves it: with its fencing token in cluster mode.
    Here(Option<Token>),
    /// Another instance owns it: its advertised URL.
    There(String),
}

/// What the rest of the cluster asks of this instance's actors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// Bumped when this instance lost (or may have lost) its lease: every
    /// actor stops at once, before another instance can take its event.
    pub lost: u64,
    /// Bumped when another instance left: its due draws need a new owner.
    pub departures: u64,
}

#[derive(Clone, Default)]
pub enum Placement {
    /// One instance per database: every event is served here, unfenced.
    #[default]
    Single,
    #[cfg(feature = "cluster")]
    Cluster(Arc<etcd::Membership>),
}

impl Placement {
    /// Joins the cluster when one is configured. `bind` and `port` give
    /// the advertised URL when none is set: the address this instance
    /// listens on.
    pub async fn join(
        settings: Option<&ClusterSettings>,
        bind: &str,
        port: u16,
    ) -> Result<Self, String> {
        let Some(settings) = settings else {
            return Ok(Self::Single);
        };
        let host = bind.rsplit_once(':').map_or(bind, |(host, _)| host);
        let url = settings.advertise_url.clone().unwrap_or_else(|| {
            let scheme = if settings.tls { "https" } else { "http" };
            format!("{scheme}://{host}:{port}")
        });
        if !settings.peers.allows(&url) {
            return Err(format!(
                "this instance's URL {url:?} is outside LOTTERY_CLUSTER_PEERS: the others \
                 would never forward to it (set LOTTERY_ADVERTISE_URL or the peers)"
            ));
        }
        #[cfg(feature = "cluster")]
        return etcd::Membership::join(settings, url)
            .await
            .map(Self::Cluster);
        #[cfg(not(feature = "cluster"))]
        Err(format!(
            "cluster mode asked for ({url}) in a build without the cluster feature"
        ))
    }

    pub fn is_clustered(&self) -> bool {
        !matches!(self, Self::Single)
    }

    /// Where the event is served, claiming it for this instance when no
    /// one owns it.
    pub async fn route(&self, event_id: i64) -> AppResult<Route> {
        match self {
            Self::Single => {
                let _ = event_id;
                Ok(Route::Here(None))
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => membership.route(event_id).await,
        }
    }

    /// Whether this instance still owns the event under `token` (checked
    /// right before an actor starts with it).
    pub fn holds(&self, event_id: i64, token: Option<Token>) -> bool {
        match self {
            Self::Single => {
                let _ = event_id;
                token.is_none()
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => token.is_some_and(|t| membership.holds(event_id, t)),
        }
    }

    /// Drops this instance's claim on an event once the database has shown
    /// a newer owner exists (its lease lapsed unnoticed).
    pub fn forget(&self, event_id: i64, token: Option<Token>) {
        match (self, token) {
            #[cfg(feature = "cluster")]
            (Self::Cluster(membership), Some(token)) => membership.forget(event_id, token),
            _ => {
                let _ = event_id;
            }
        }
    }

    /// Gives up the events this instance owns but has not served for a
    /// while (`live` says whether an actor serves one now), so etcd holds
    /// keys for the events in play, not for every event ever touched.
    pub fn release_idle(&self, live: &dyn Fn(i64) -> bool) {
        match self {
            Self::Single => {
                let _ = live;
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => membership.release_idle(live),
        }
    }

    /// Whether a forwarded request's hop header carries the cluster's
    /// secret (see `api::forward`).
    pub fn is_hop(&self, value: &[u8]) -> bool {
        match self {
            Self::Single => {
                let _ = value;
                false
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => membership.is_hop(value),
        }
    }

    /// The secret a forwarded request carries (None on a single instance).
    pub fn hop_secret(&self) -> Option<&str> {
        match self {
            Self::Single => None,
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => Some(membership.hop_secret()),
        }
    }

    /// The cluster's signals to the actors (None on a single instance).
    pub fn signals(&self) -> Option<tokio::sync::watch::Receiver<Signals>> {
        match self {
            Self::Single => None,
            #[cfg(feature = "cluster")]
            Self::Cluster(membership) => Some(membership.signals()),
        }
    }

    /// Stops renewing the lease and following the directory without
    /// revoking anything, as a crash would: the lease runs out after its
    /// TTL (for tests that stage a crash in-process).
    pub fn halt(&self) {
        #[cfg(feature = "cluster")]
        if let Self::Cluster(membership) = self {
            membership.halt();
        }
    }

    /// Graceful shutdown's last step: revoke the lease, so the others take
    /// this instance's events over now rather than after the lease's TTL.
    pub async fn leave(&self) {
        #[cfg(feature = "cluster")]
        if let Self::Cluster(membership) = self {
            membership.leave().await;
        }
    }
}
