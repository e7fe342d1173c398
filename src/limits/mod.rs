//! Rate limits (GCRA, the generic cell rate algorithm): per user, per
//! client IP and, separately, logins per client IP. With Redis configured
//! every instance counts against the same cells (`shared.rs`); without it
//! each process counts alone (`governor`). docs/OPERATIONS.md gives the
//! settings and defaults.

pub mod client_ip;
pub mod connections;
mod shared;
pub mod spec;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::cache::redis_pool::RedisTarget;
use crate::error::{AppError, AppResult};
use shared::SharedCells;
pub use shared::UNSYNCED_MAX;
pub use spec::LimitSpec;

/// Which limit refused a request (the metric's `kind` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    User,
    Ip,
    Login,
}

impl LimitKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Ip => "ip",
            Self::Login => "login",
        }
    }
}

/// The limits an operator set; None is no limit of that kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    pub user: Option<LimitSpec>,
    pub ip: Option<LimitSpec>,
    pub login: Option<LimitSpec>,
    /// The bits of an IPv6 address that name one client (`client_ip::bucket`).
    pub ipv6_prefix: u8,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            user: None,
            ip: None,
            login: None,
            ipv6_prefix: client_ip::DEFAULT_IPV6_PREFIX,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    User(i64),
    Ip(IpAddr),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(id) => write!(f, "{id}"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

enum Cells {
    Local(DefaultKeyedRateLimiter<Key>),
    Shared(Arc<SharedCells>),
}

struct Limiter {
    kind: LimitKind,
    spec: LimitSpec,
    cells: Cells,
}

impl Limiter {
    fn new(kind: LimitKind, spec: LimitSpec, shared: Option<&Arc<SharedCells>>) -> Self {
        let cells = match shared {
            Some(shared) => Cells::Shared(shared.clone()),
            None => {
                let burst = NonZeroU32::new(spec.burst).expect("LimitSpec::parse refuses 0");
                let quota = Quota::with_period(spec.interval())
                    .expect("a count of at most 1000000 per second leaves a period")
                    .allow_burst(burst);
                Cells::Local(DefaultKeyedRateLimiter::keyed(quota))
            }
        };
        Self { kind, spec, cells }
    }

    /// Ok, or how long until the key may send again.
    async fn check(&self, key: Key) -> Result<(), Duration> {
        match &self.cells {
            Cells::Local(cells) => cells
                .check_key(&key)
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
            Cells::Shared(shared) => shared.check(self.kind, &key, &self.spec).await,
        }
    }
}

/// Every limit of this process.
#[derive(Clone)]
pub struct RateLimits {
    user: Option<Arc<Limiter>>,
    ip: Option<Arc<Limiter>>,
    login: Option<Arc<Limiter>>,
    ipv6_prefix: u8,
}

impl RateLimits {
    /// `redis`: (URL, key prefix) to share the limits with every instance.
    pub fn new(
        settings: &LimitSettings,
        redis: Option<(&RedisTarget, &str)>,
    ) -> Result<Self, String> {
        let shared = match redis {
            Some((url, prefix)) => Some(Arc::new(SharedCells::new(url, prefix)?)),
            None => None,
        };
        let make = |kind, spec: Option<LimitSpec>| {
            spec.map(|spec| Arc::new(Limiter::new(kind, spec, shared.as_ref())))
        };
        Ok(Self {
            user: make(LimitKind::User, settings.user),
            ip: make(LimitKind::Ip, settings.ip),
            login: make(LimitKind::Login, settings.login),
            ipv6_prefix: settings.ipv6_prefix,
        })
    }

    pub async fn check_user(&self, user_id: i64) -> AppResult<()> {
        refuse_if_over(self.user.as_deref(), Key::User(user_id)).await
    }

    pub async fn check_ip(&self, ip: IpAddr) -> AppResult<()> {
        refuse_if_over(
            self.ip.as_deref(),
            Key::Ip(client_ip::bucket(ip, self.ipv6_prefix)),
        )
        .await
    }

    pub async fn check_login(&self, ip: IpAddr) -> AppResult<()> {
        refuse_if_over(
            self.login.as_deref(),
            Key::Ip(client_ip::bucket(ip, self.ipv6_prefix)),
        )
        .await
    }

    /// The Redis pool's size and state, when limits are shared.
    pub fn pool_state(&self) -> Option<(u32, bb8::State)> {
        [&self.user, &self.ip, &self.login]
            .into_iter()
            .flatten()
            .find_map(|limiter| match &limiter.cells {
                Cells::Shared(shared) => Some(shared.pool_state()),
                Cells::Local(_) => None,
            })
    }

    /// Forgets in-process cells that are full again (a key that has been
    /// quiet for its burst's worth of time): memory stays proportional to
    /// the recently active keys.
    pub fn forget_quiet_keys(&self) {
        for limiter in [&self.user, &self.ip, &self.login].into_iter().flatten() {
            match &limiter.cells {
                Cells::Local(cells) => {
                    cells.retain_recent();
                    cells.shrink_to_fit();
                }
                Cells::Shared(shared) => shared.forget_quiet_keys(),
            }
        }
    }
}

async fn refuse_if_over(limiter: Option<&Limiter>, key: Key) -> AppResult<()> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check(key).await.map_err(|wait| {
        metrics::counter!("lottery_rate_limited_total", "kind" => limiter.kind.label())
            .increment(1);
        AppError::RateLimited {
            message: match limiter.kind {
                LimitKind::User => "too many requests from this user; slow down",
                LimitKind::Ip => "too many requests from this address; slow down",
                LimitKind::Login => "too many logins from this address; slow down",
            }
            .into(),
            // Whole seconds, rounded up: a client that waits this long is let in.
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_passes_then_the_key_waits_and_other_keys_do_not() {
        let limits = RateLimits::new(
            &LimitSettings {
                user: Some(LimitSpec::per_second(10, 3)),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        for _ in 0..3 {
            limits.check_user(1).await.unwrap();
        }
        match limits.check_user(1).await {
            Err(AppError::RateLimited {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected 429, got {other:?}"),
        }
        limits.check_user(2).await.unwrap();
        // IP and login limits are off here.
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10 {
            limits.check_ip(ip).await.unwrap();
            limits.check_login(ip).await.unwrap();
        }
    }
}
