//! Settings from the contract's environment variables. An optional file
//! (`LOTTERY_CONFIG`, `KEY=value` lines, with `[dev]` and `[prod]`
//! sections for a profile's defaults) may add settings; the environment
//! always wins.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::notice::{FieldMap, DEFAULT_FIELDS};
use crate::limits::client_ip::parse_trusted;
use crate::limits::{LimitSettings, LimitSpec};
use ipnet::IpNet;

mod keys;
mod layers;
mod secret;

pub use layers::layer;
pub use secret::{redact_url, Secret};

/// Cluster mode (docs/CLUSTER.md): several instances over one database,
/// event ownership in etcd.
#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// etcd's client URLs (`http://host:2379`).
    pub endpoints: Vec<String>,
    /// Every key this deployment keeps in etcd starts with it.
    pub prefix: String,
    /// This instance's name among the others; unique while it lives.
    pub instance_id: String,
    /// Where the others reach this instance; None: `http://` + the bound
    /// address, when that is a loopback or named address.
    pub advertise_url: Option<String>,
    /// The membership lease: an instance silent this long loses its events.
    pub lease_ttl: Duration,
}

/// How log lines are written: for people (`text`) or for a log pipeline
/// (`json`, one object per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Prod,
}

/// How result notices are sent (docs/NOTIFICATIONS.md).
#[derive(Clone, Debug)]
pub struct NoticeSettings {
    pub template_id: String,
    /// The mini-program page a notice opens; `{id}` becomes the event id.
    pub page: String,
    pub fields: FieldMap,
    /// `formal`, `trial` or `developer`: which version of the mini-program
    /// the notice opens.
    pub miniprogram_state: String,
    /// Messages per second, all instances together when Redis is
    /// configured (each instance alone otherwise).
    pub rate: u32,
    /// How long a claimed notice is held before another sender may take it.
    pub claim: Duration,
    /// Sends tried before a notice that keeps failing transiently is
    /// recorded as failed.
    pub max_attempts: u32,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: String,
    pub profile: Profile,
    /// URLs may carry a password: Debug prints them redacted.
    pub database_url: Secret,
    pub redis_url: Option<Secret>,
    pub wechat_appid: Option<String>,
    pub wechat_secret: Option<Secret>,
    pub wechat_api_base: String,
    pub wechat_result_template_id: Option<String>,
    /// The result notices, when a template is configured (with the app).
    pub notices: Option<NoticeSettings>,
    /// One call to the WeChat API; with the one retry a login still
    /// answers within 10 s.
    pub wechat_timeout: Duration,
    pub session_ttl: Duration,
    /// How long an instance trusts a cached session while it is not
    /// receiving logouts over Redis pub/sub; bounds how late another
    /// instance's logout is seen. Zero turns the cache off.
    pub session_cache_ttl: Duration,
    /// Prefix of every Redis key, so deployments (and tests) never collide.
    pub redis_prefix: String,
    /// Requests one event holds (queued or awaiting commit) before 503.
    pub event_mailbox_capacity: usize,
    /// How long an open event's actor lives without traffic.
    pub actor_idle_timeout: Duration,
    /// Event actors started on request before new ones get 503.
    pub max_live_events: usize,
    /// Bytes of published draw results (winners, fairness) kept in memory.
    pub result_cache_bytes: u64,
    /// Bytes of drawn and cancelled events (with participants and winners)
    /// kept in memory for their pages.
    pub finished_cache_bytes: u64,
    /// Database connections in the pool.
    pub db_pool_size: u32,
    /// How long a statement waits for another writer's lock before it
    /// fails (SQLite busy timeout, InnoDB lock wait).
    pub db_lock_timeout: Duration,
    /// Dedicated threads for the event actors; 0 (the default) runs them
    /// on the HTTP workers' threads.
    pub actor_threads: usize,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Rate limits per user, per client address and for logins.
    pub limits: LimitSettings,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    pub log_format: LogFormat,
    /// Keys of request signing, any of which verifies (several while one
    /// is rotated out); empty: signing off.
    pub signing_keys: Vec<Secret>,
    /// Origins a browser may call from (`*`: any); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Set: cluster mode (`LOTTERY_ETCD_ENDPOINTS`).
    pub cluster: Option<ClusterSettings>,
}

impl Config {
    /// Reads the process environment (and the optional config file).
    pub fn from_env() -> Result<Self, String> {
        Self::from_map(&layers::from_process()?)
    }

    /// Settings from `LOTTERY_*` keys. An unknown key and a value out of
    /// its range are errors that name the key.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, String> {
        keys::refuse_unknown(vars)?;
        let get = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let number = |k: &str, default: u64, range: std::ops::RangeInclusive<u64>| {
            let value = get(k).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| format!("{k} must be a whole number, got {v:?}"))
            })?;
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(format!(
                    "{k} must be between {} and {}, got {value}",
                    range.start(),
                    range.end()
                ))
            }
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let profile = match get("LOTTERY_PROFILE").as_deref() {
            None | Some("dev") => Profile::Dev,
            Some("prod") => Profile::Prod,
            Some(other) => {
                return Err(format!(
                    "LOTTERY_PROFILE must be dev or prod, got {other:?}"
                ))
            }
        };
        let config = Self {
            bind: get("LOTTERY_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            profile,
            database_url: Secret::new(
                get("LOTTERY_DATABASE_URL").unwrap_or_else(|| "sqlite://lottery.db".into()),
            ),
            redis_url: get("LOTTERY_REDIS_URL").map(Secret::new),
            wechat_appid: get("LOTTERY_WECHAT_APPID"),
            wechat_secret: get("LOTTERY_WECHAT_SECRET").map(Secret::new),
            wechat_api_base: get("LOTTERY_WECHAT_API_BASE")
                .unwrap_or_else(|| "https://api.weixin.qq.com".into()),
            wechat_result_template_id: get("LOTTERY_WECHAT_RESULT_TEMPLATE_ID"),
            notices: None,
            wechat_timeout: Duration::from_millis(number(
                "LOTTERY_WECHAT_TIMEOUT_MS",
                4000,
                100..=4500,
            )?),
            session_ttl: Duration::from_secs(number(
                "LOTTERY_SESSION_TTL_SECS",
                7 * 24 * 3600,
                1..=366 * 24 * 3600,
            )?),
            session_cache_ttl: Duration::from_millis(number(
                "LOTTERY_SESSION_CACHE_MS",
                2000,
                0..=5000,
            )?),
            redis_prefix: get("LOTTERY_REDIS_PREFIX").unwrap_or_else(|| "lottery:".into()),
            event_mailbox_capacity: number("LOTTERY_EVENT_MAILBOX", 20_000, 1..=10_000_000)?
                as usize,
            actor_idle_timeout: Duration::from_secs(number(
                "LOTTERY_ACTOR_IDLE_SECS",
                120,
                1..=86_400,
            )?),
            max_live_events: number("LOTTERY_MAX_LIVE_EVENTS", 100_000, 1..=100_000_000)? as usize,
            result_cache_bytes: number("LOTTERY_RESULT_CACHE_MB", 64, 0..=1 << 20)? << 20,
            finished_cache_bytes: number("LOTTERY_FINISHED_CACHE_MB", 64, 0..=1 << 20)? << 20,
            db_pool_size: number("LOTTERY_DB_POOL_SIZE", 16, 1..=1000)? as u32,
            db_lock_timeout: Duration::from_millis(number(
                "LOTTERY_DB_LOCK_TIMEOUT_MS",
                5000,
                100..=60_000,
            )?),
            actor_threads: number("LOTTERY_ACTOR_THREADS", 0, 0..=1024)? as usize,
            http_workers: number("LOTTERY_HTTP_WORKERS", cores, 1..=1024)? as usize,
            limits: LimitSettings::default(),
            trusted_proxies: Vec::new(),
            signing_keys: list(&get("LOTTERY_SIGNING_KEYS"))
                .into_iter()
                .map(Secret::new)
                .collect(),
            cors_origins: list(&get("LOTTERY_CORS_ORIGINS")),
            cluster: None,
            log_format: match get("LOTTERY_LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(format!(
                        "LOTTERY_LOG_FORMAT must be text or json, got {other:?}"
                    ))
                }
            },
        };
        if let Some(short) = config.signing_keys.iter().find(|k| k.expose().len() < 16) {
            return Err(format!(
                "LOTTERY_SIGNING_KEYS: each key needs at least 16 characters (one has {})",
                short.expose().len()
            ));
        }
        for origin in &config.cors_origins {
            let ok = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin.ends_with('/'));
            if !ok {
                return Err(format!(
                    "LOTTERY_CORS_ORIGINS: expected * or origins like https://admin.example.com, got {origin:?}"
                ));
            }
        }
        let mut config = config;
        config.limits = limit_settings(profile, &get)?;
        config.trusted_proxies = parse_trusted(&get("LOTTERY_TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|e| format!("LOTTERY_TRUSTED_PROXIES: {e}"))?;
        config.notices = notice_settings(&config, &get, &number)?;
        config.cluster = cluster_settings(&config, &get, &number)?;
        if config.profile == Profile::Prod
            && (config.wechat_appid.is_none() || config.wechat_secret.is_none())
        {
            return Err(
                "the prod profile needs LOTTERY_WECHAT_APPID and LOTTERY_WECHAT_SECRET".into(),
            );
        }
        Ok(config)
    }

    /// Redis's URL and this deployment's key prefix, when Redis is
    /// configured: what every Redis-backed store is built from.
    pub fn redis(&self) -> Option<(&str, &str)> {
        self.redis_url
            .as_ref()
            .map(|url| (url.expose(), self.redis_prefix.as_str()))
    }

    /// Whether content passes WeChat's check before it is published.
    pub fn content_check_enabled(&self) -> bool {
        self.wechat_appid.is_some() && self.wechat_secret.is_some()
    }

    /// Dev login is open only in the dev profile with no WeChat app configured.
    pub fn dev_login_enabled(&self) -> bool {
        self.profile == Profile::Dev && self.wechat_appid.is_none()
    }
}

/// Cluster mode's settings, when `LOTTERY_ETCD_ENDPOINTS` is set. The
/// cluster shares sessions, so it needs Redis; and a build without the
/// `cluster` feature refuses rather than run as a lone instance that
/// believes it is one of several.
fn cluster_settings(
    config: &Config,
    get: &(dyn Fn(&str) -> Option<String> + '_),
    number: &NumberSetting<'_>,
) -> Result<Option<ClusterSettings>, String> {
    let endpoints = list(&get("LOTTERY_ETCD_ENDPOINTS"));
    if endpoints.is_empty() {
        for key in [
            "LOTTERY_ETCD_PREFIX",
            "LOTTERY_ETCD_LEASE_TTL_SECS",
            "LOTTERY_INSTANCE_ID",
            "LOTTERY_ADVERTISE_URL",
        ] {
            if get(key).is_some() {
                return Err(format!(
                    "{key} is a cluster setting, but LOTTERY_ETCD_ENDPOINTS is not set"
                ));
            }
        }
        return Ok(None);
    }
    if !cfg!(feature = "cluster") {
        return Err(
            "LOTTERY_ETCD_ENDPOINTS is set, but this build has no cluster mode: \
             build with `cargo build --release --features cluster` (needs protoc)"
                .into(),
        );
    }
    if config.redis_url.is_none() {
        return Err(
            "cluster mode needs LOTTERY_REDIS_URL: every instance must see every session".into(),
        );
    }
    for endpoint in &endpoints {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(format!(
                "LOTTERY_ETCD_ENDPOINTS: expected URLs like http://127.0.0.1:2379, got {endpoint:?}"
            ));
        }
    }
    let advertise_url =
        get("LOTTERY_ADVERTISE_URL").map(|url| url.trim_end_matches('/').to_string());
    if let Some(url) = &advertise_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "LOTTERY_ADVERTISE_URL: expected a URL like http://10.0.0.5:8080, got {url:?}"
            ));
        }
    } else if config.bind.starts_with("0.0.0.0") || config.bind.starts_with("[::]") {
        return Err(format!(
            "LOTTERY_ADVERTISE_URL is needed: the other instances cannot reach {} by that address",
            config.bind
        ));
    }
    let instance_id = get("LOTTERY_INSTANCE_ID").unwrap_or_else(default_instance_id);
    if instance_id.contains('/') || instance_id.len() > 100 {
        return Err(format!(
            "LOTTERY_INSTANCE_ID: at most 100 characters and no '/', got {instance_id:?}"
        ));
    }
    let mut prefix = get("LOTTERY_ETCD_PREFIX").unwrap_or_else(|| "/lottery/".into());
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(Some(ClusterSettings {
        endpoints,
        prefix,
        instance_id,
        advertise_url,
        lease_ttl: Duration::from_secs(number("LOTTERY_ETCD_LEASE_TTL_SECS", 5, 2..=60)?),
    }))
}

/// The host's name and this process's id: unique among live instances.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "instance".into());
    format!("{host}-{}", std::process::id())
}

/// Default limits: a person tapping fast stays far below 20 a second.
/// Limits by address are off in dev (every local client, test and load
/// generator shares 127.0.0.1); in prod they are generous, as a mobile
/// carrier's NAT puts many users behind one address, and logins, which
/// come once per session, get a tighter one of their own that slows down
/// someone minting sessions.
const DEFAULT_USER_LIMIT: LimitSpec = LimitSpec::per_second(20, 40);
const DEFAULT_PROD_IP_LIMIT: LimitSpec = LimitSpec::per_second(200, 400);
const DEFAULT_LOGIN_LIMIT: LimitSpec = LimitSpec::per_second(5, 50);

fn limit_settings(
    profile: Profile,
    get: &(dyn Fn(&str) -> Option<String> + '_),
) -> Result<LimitSettings, String> {
    let read = |key: &str, default: Option<LimitSpec>| match get(key) {
        Some(text) => LimitSpec::parse(&text).map_err(|e| format!("{key}: {e}")),
        None => Ok(default),
    };
    Ok(LimitSettings {
        user: read("LOTTERY_LIMIT_USER", Some(DEFAULT_USER_LIMIT))?,
        ip: read(
            "LOTTERY_LIMIT_IP",
            (profile == Profile::Prod).then_some(DEFAULT_PROD_IP_LIMIT),
        )?,
        login: read(
            "LOTTERY_LIMIT_LOGIN",
            (profile == Profile::Prod).then_some(DEFAULT_LOGIN_LIMIT),
        )?,
    })
}

/// A comma-separated list (blanks dropped).
fn list(value: &Option<String>) -> Vec<String> {
    value
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads a whole-number setting: its key, default and allowed range.
type NumberSetting<'a> =
    dyn Fn(&str, u64, std::ops::RangeInclusive<u64>) -> Result<u64, String> + 'a;

/// The notice settings: all of them or none. Notices need the WeChat app
/// and a template; a notice setting without the template is a mistake,
/// said at start rather than found when no message arrives.
fn notice_settings(
    config: &Config,
    get: &(dyn Fn(&str) -> Option<String> + '_),
    number: &NumberSetting<'_>,
) -> Result<Option<NoticeSettings>, String> {
    let rate = number("LOTTERY_NOTIFY_RATE", 200, 1..=100_000)? as u32;
    let claim = Duration::from_secs(number("LOTTERY_NOTIFY_CLAIM_SECS", 60, 2..=3600)?);
    let max_attempts = number("LOTTERY_NOTIFY_MAX_ATTEMPTS", 12, 1..=100)? as u32;
    let Some(template_id) = config.wechat_result_template_id.clone() else {
        for key in [
            "LOTTERY_WECHAT_RESULT_PAGE",
            "LOTTERY_WECHAT_RESULT_FIELDS",
            "LOTTERY_WECHAT_MINIPROGRAM_STATE",
        ] {
            if get(key).is_some() {
                return Err(format!(
                    "{key} needs LOTTERY_WECHAT_RESULT_TEMPLATE_ID: without a template no notice is sent"
                ));
            }
        }
        return Ok(None);
    };
    if config.wechat_appid.is_none() || config.wechat_secret.is_none() {
        return Err(
            "LOTTERY_WECHAT_RESULT_TEMPLATE_ID needs LOTTERY_WECHAT_APPID and \
             LOTTERY_WECHAT_SECRET: notices are sent as the mini-program"
                .into(),
        );
    }
    let page = get("LOTTERY_WECHAT_RESULT_PAGE").unwrap_or_else(|| DEFAULT_RESULT_PAGE.into());
    if page.starts_with('/') || page.contains("://") || page.len() > 512 {
        return Err(format!(
            "LOTTERY_WECHAT_RESULT_PAGE is a mini-program page path like {DEFAULT_RESULT_PAGE}, got {page:?}"
        ));
    }
    let fields = FieldMap::parse(
        &get("LOTTERY_WECHAT_RESULT_FIELDS").unwrap_or_else(|| DEFAULT_FIELDS.into()),
    )
    .map_err(|e| format!("LOTTERY_WECHAT_RESULT_FIELDS: {e}"))?;
    let miniprogram_state =
        get("LOTTERY_WECHAT_MINIPROGRAM_STATE").unwrap_or_else(|| "formal".into());
    if !["formal", "trial", "developer"].contains(&miniprogram_state.as_str()) {
        return Err(format!(
            "LOTTERY_WECHAT_MINIPROGRAM_STATE must be formal, trial or developer, got {miniprogram_state:?}"
        ));
    }
    Ok(Some(NoticeSettings {
        template_id,
        page,
        fields,
        miniprogram_state,
        rate,
        claim,
        max_attempts,
    }))
}

/// The page a notice opens unless `LOTTERY_WECHAT_RESULT_PAGE` says otherwise.
pub const DEFAULT_RESULT_PAGE: &str = "pages/event/index?id={id}";

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::from_map(&map(&[])).unwrap();
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://lottery.db");
        assert!(c.redis_url.is_none());
        assert!(c.dev_login_enabled());
    }

    #[test]
    fn a_config_file_holds_profile_defaults_and_the_environment_wins() {
        let file = "
            # shared by both profiles
            LOTTERY_DB_POOL_SIZE=8
            LOTTERY_LOG_FORMAT=text
            [dev]
            LOTTERY_LIMIT_USER=off
            [prod]
            LOTTERY_LOG_FORMAT=json
            LOTTERY_DB_POOL_SIZE=32
            LOTTERY_WECHAT_APPID=wx1
            LOTTERY_WECHAT_SECRET=s
        ";
        let dev = Config::from_map(&layer(file, map(&[])).unwrap()).unwrap();
        assert_eq!(dev.db_pool_size, 8);
        assert_eq!(dev.limits.user, None, "the dev section applies");
        assert_eq!(dev.log_format, LogFormat::Text);
        let prod = layer(file, map(&[("LOTTERY_PROFILE", "prod")])).unwrap();
        let prod = Config::from_map(&prod).unwrap();
        assert_eq!((prod.db_pool_size, prod.log_format), (32, LogFormat::Json));
        assert!(prod.limits.user.is_some(), "the dev section does not");
        // The environment beats the file's section and its common lines.
        let env = map(&[
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_DB_POOL_SIZE", "4"),
            ("LOTTERY_LOG_FORMAT", "text"),
        ]);
        let mixed = Config::from_map(&layer(file, env).unwrap()).unwrap();
        assert_eq!((mixed.db_pool_size, mixed.log_format), (4, LogFormat::Text));
    }

    #[test]
    fn limits_default_per_profile_and_can_be_turned_off() {
        let dev = Config::from_map(&map(&[])).unwrap();
        assert_eq!(dev.limits.user, Some(LimitSpec::per_second(20, 40)));
        assert_eq!(dev.limits.ip, None);
        assert_eq!(dev.limits.login, None);
        let prod = Config::from_map(&map(&[
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s"),
            ("LOTTERY_LIMIT_USER", "off"),
            ("LOTTERY_TRUSTED_PROXIES", "10.0.0.0/8,::1"),
        ]))
        .unwrap();
        assert_eq!(prod.limits.user, None);
        assert!(prod.limits.ip.is_some() && prod.limits.login.is_some());
        assert_eq!(prod.trusted_proxies.len(), 2);
        let err = Config::from_map(&map(&[("LOTTERY_LIMIT_IP", "lots")])).unwrap_err();
        assert!(err.contains("LOTTERY_LIMIT_IP"), "{err}");
        let err = Config::from_map(&map(&[("LOTTERY_TRUSTED_PROXIES", "x")])).unwrap_err();
        assert!(err.contains("LOTTERY_TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn the_config_prints_its_urls_without_their_password() {
        let c =
            Config::from_map(&map(&[("LOTTERY_DATABASE_URL", "mysql://u:s3cret@h/d")])).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn misspelt_settings_and_out_of_range_values_are_refused_by_name() {
        let err = Config::from_map(&map(&[("LOTTERY_DB_POOL_SIZ", "8")])).unwrap_err();
        assert!(err.contains("LOTTERY_DB_POOL_SIZ"), "{err}");
        let err = Config::from_map(&map(&[("LOTTERY_SESSION_CACHE_MS", "9000")])).unwrap_err();
        assert!(
            err.contains("LOTTERY_SESSION_CACHE_MS") && err.contains("5000"),
            "{err}"
        );
        let err = Config::from_map(&map(&[("LOTTERY_WECHAT_TIMEOUT_MS", "50")])).unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_TIMEOUT_MS"), "{err}");
        let err = Config::from_map(&map(&[("LOTTERY_HTTP_WORKERS", "0")])).unwrap_err();
        assert!(err.contains("LOTTERY_HTTP_WORKERS"), "{err}");
        let err =
            Config::from_map(&map(&[("LOTTERY_ETCD_ENDPOINTS", "http://e:2379")])).unwrap_err();
        assert!(err.contains("cluster mode"), "{err}");
        // The test suite's own variables are not the server's.
        assert!(Config::from_map(&map(&[("LOTTERY_TEST_MYSQL_URL", "mysql://x")])).is_ok());
        // Not LOTTERY_: not ours to judge.
        assert!(Config::from_map(&map(&[("RUST_LOG", "debug")])).is_ok());
    }

    #[test]
    fn notices_need_the_app_and_a_template_and_check_their_fields() {
        let app = [
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s"),
        ];
        assert!(Config::from_map(&map(&app)).unwrap().notices.is_none());
        let err =
            Config::from_map(&map(&[("LOTTERY_WECHAT_RESULT_TEMPLATE_ID", "T")])).unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_APPID"), "{err}");
        let err = Config::from_map(&map(&[("LOTTERY_WECHAT_RESULT_FIELDS", "thing1=title")]))
            .unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_RESULT_TEMPLATE_ID"), "{err}");
        let mut with_template = app.to_vec();
        with_template.push(("LOTTERY_WECHAT_RESULT_TEMPLATE_ID", "T"));
        let c = Config::from_map(&map(&with_template)).unwrap();
        let notices = c.notices.unwrap();
        assert_eq!(notices.page, DEFAULT_RESULT_PAGE);
        assert_eq!(notices.rate, 200);
        let mut bad = with_template.clone();
        bad.push((
            "LOTTERY_WECHAT_RESULT_FIELDS",
            "thing1=title,thing2=drawn_at",
        ));
        let err = Config::from_map(&map(&bad)).unwrap_err();
        assert!(
            err.contains("LOTTERY_WECHAT_RESULT_FIELDS") && err.contains("thing2"),
            "{err}"
        );
        let mut bad = with_template.clone();
        bad.push(("LOTTERY_WECHAT_MINIPROGRAM_STATE", "beta"));
        assert!(Config::from_map(&map(&bad)).is_err());
    }

    #[test]
    fn prod_refuses_to_start_without_wechat_credentials() {
        let err = Config::from_map(&map(&[("LOTTERY_PROFILE", "prod")])).unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_APPID"));
        let c = Config::from_map(&map(&[
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s3cr3t"),
        ]))
        .unwrap();
        assert!(!c.dev_login_enabled());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}
