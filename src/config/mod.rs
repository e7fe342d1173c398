//! Settings from the contract's environment variables. An optional file
//! (`LOTTERY_CONFIG`, `KEY=value` lines, with `[dev]` and `[prod]`
//! sections for a profile's defaults) may add settings; the environment
//! always wins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::limits::client_ip::parse_trusted;
use crate::limits::LimitSettings;
use crate::pii::{key_file, Keyring};
use crate::secret::Secret;
use crate::store::Db;
use crate::tls::ClientTls;
use ipnet::IpNet;

mod client_tls;
mod cluster;
mod keys;
mod layers;
mod limits;
mod media;
mod notices;
mod parse;
mod peers;
mod risk;

use cluster::cluster_settings;
use limits::limit_settings;
use media::media_settings;
use notices::notice_settings;
use parse::Vars;
use risk::risk_settings;

pub use cluster::ClusterSettings;
pub use layers::layer;
pub use media::{MediaSettings, ShareSettings, StoreSetting, DEFAULT_SHARE_PAGE};
pub use notices::{NoticeSettings, Template, DEFAULT_RESULT_PAGE};
pub use parse::{LogFormat, Profile};
pub use peers::Peers;
pub use risk::{OnError, RiskSettings};

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: String,
    pub profile: Profile,
    /// URLs may carry a password: Debug prints them redacted.
    pub database_url: Secret,
    /// TLS to MySQL beyond the URL's own `require_ssl` (`LOTTERY_DATABASE_CA`,
    /// `_CLIENT_CERT`, `_CLIENT_KEY`): set, every connection uses TLS.
    pub database_tls: Option<ClientTls>,
    pub redis_url: Option<Secret>,
    /// The CA and client certificate of a `rediss://` Redis
    /// (`LOTTERY_REDIS_CA`, `_CLIENT_CERT`, `_CLIENT_KEY`).
    pub redis_tls: Option<ClientTls>,
    pub wechat_appid: Option<String>,
    pub wechat_secret: Option<Secret>,
    pub wechat_api_base: String,
    /// The notices, when a template is configured (with the app).
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
    /// Events one user may have open (not yet drawn or cancelled) at once.
    pub max_open_events_per_user: u32,
    /// Connections one client address (an IPv6 client's /64) may hold
    /// open at once; trusted proxies are not counted. 0: no cap (dev's
    /// default: every local client shares 127.0.0.1).
    pub max_connections_per_address: usize,
    /// Set: `/metrics` is served on this address only, not on the API's.
    pub admin_bind: Option<String>,
    /// How long request bodies may take to arrive.
    pub body: BodyDeadlines,
    /// Set: the API's port serves HTTPS with this certificate chain and key
    /// (`LOTTERY_TLS_CERT`, `LOTTERY_TLS_KEY`, PEM files).
    pub tls: Option<TlsFiles>,
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
    /// `POST /load-test/sessions` is served (load tests only; refused in
    /// the prod profile).
    pub load_test_sessions: bool,
    /// Rate limits per user, per client address and for logins.
    pub limits: LimitSettings,
    /// WeChat's fraud check of joins to `risk_check` events.
    pub risk: RiskSettings,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    pub log_format: LogFormat,
    /// Keys of request signing, any of which verifies (several while one
    /// is rotated out); empty: signing off.
    pub signing_keys: Vec<Secret>,
    /// The keys personal data is sealed under (`pii::Keyring`'s form);
    /// unset: the dev key file (`pii_keyring`), or no start in prod.
    pub pii_keys: Option<Secret>,
    /// Origins a browser may call from (`*`: any); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// Set: cluster mode (`LOTTERY_ETCD_ENDPOINTS`).
    pub cluster: Option<ClusterSettings>,
    /// Uploaded images, the share code and WeChat's message push.
    pub media: MediaSettings,
    /// Set: events created from now on are drawn with drand's public
    /// randomness (`LOTTERY_BEACON_URL`, `LOTTERY_BEACON_CHAIN_HASH`).
    pub beacon: Option<BeaconSettings>,
}

/// The drand beacon draws use: a relay's base URL and the chain's hash,
/// which authenticates whatever the relay says the chain is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconSettings {
    pub url: String,
    /// 64 hex digits, lower case.
    pub chain_hash: String,
}

fn beacon_settings(vars: &parse::Vars) -> Result<Option<BeaconSettings>, String> {
    match (
        vars.get("LOTTERY_BEACON_URL"),
        vars.get("LOTTERY_BEACON_CHAIN_HASH"),
    ) {
        (None, None) => Ok(None),
        (Some(url), Some(hash)) => {
            let parsed = url::Url::parse(&url)
                .map_err(|e| format!("LOTTERY_BEACON_URL {url:?} is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(format!(
                    "LOTTERY_BEACON_URL must be an http(s) URL of a drand relay, got {url:?}"
                ));
            }
            let hash = hash.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(
                    "LOTTERY_BEACON_CHAIN_HASH must be 64 hex digits (the drand \
                            chain's hash, e.g. quicknet's 52db9ba7…e971)"
                        .into(),
                );
            }
            Ok(Some(BeaconSettings {
                url: url.trim_end_matches('/').to_string(),
                chain_hash: hash,
            }))
        }
        _ => Err(
            "LOTTERY_BEACON_URL and LOTTERY_BEACON_CHAIN_HASH go together: set both or neither"
                .into(),
        ),
    }
}

/// How long a request body may take to arrive once its headers have
/// (issue 24, finding 1): a client that trickled a body a byte every few
/// seconds held its connection for minutes. 408 40800 past either bound.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadlines {
    /// A whole JSON body (16 KiB at most); an upload gets this plus its
    /// bytes at `upload_rate` (`LOTTERY_BODY_TIMEOUT_SECS`, 10).
    pub total: Duration,
    /// The longest silence between two pieces of a body
    /// (`LOTTERY_BODY_GAP_SECS`, 5).
    pub gap: Duration,
    /// Bytes per second an upload is allowed to arrive at, on top of
    /// `total` (`LOTTERY_UPLOAD_MIN_KBPS`, 64: a slow 3G link).
    pub upload_rate: u64,
}

impl BodyDeadlines {
    /// How long an upload of at most `max_bytes` may take to arrive.
    pub fn upload(&self, max_bytes: u64) -> Duration {
        self.total + Duration::from_secs(max_bytes / self.upload_rate.max(1))
    }
}

impl Default for BodyDeadlines {
    fn default() -> Self {
        Self {
            total: Duration::from_secs(10),
            gap: Duration::from_secs(5),
            upload_rate: 64 * 1024,
        }
    }
}

/// TLS settings for MySQL: only a `mysql://` database has them.
fn database_tls(vars: &Vars, url: &str) -> Result<Option<ClientTls>, String> {
    let tls = client_tls::read(vars, "LOTTERY_DATABASE")?;
    if tls.is_some() && !url.starts_with("mysql://") {
        return Err(
            "LOTTERY_DATABASE_CA and _CLIENT_CERT/_KEY are for a mysql:// LOTTERY_DATABASE_URL"
                .into(),
        );
    }
    Ok(tls)
}

/// TLS settings for Redis: every URL must then be `rediss://`.
fn redis_tls(vars: &Vars) -> Result<Option<ClientTls>, String> {
    let tls = client_tls::read(vars, "LOTTERY_REDIS")?;
    let url = vars.get("LOTTERY_REDIS_URL").unwrap_or_default();
    let all_tls = crate::cache::redis_pool::seeds(&url)
        .iter()
        .all(|seed| seed.starts_with("rediss://"));
    if tls.is_some() && (url.is_empty() || !all_tls) {
        return Err("LOTTERY_REDIS_CA and _CLIENT_CERT/_KEY need a rediss:// LOTTERY_REDIS_URL (every seed)".into());
    }
    Ok(tls)
}

/// The API port's certificate chain and private key, PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    /// Reads the process environment (and the optional config file).
    pub fn from_env() -> Result<Self, String> {
        Self::from_map(&layers::from_process()?)
    }

    /// The settings as the server reads them (the environment over the
    /// `LOTTERY_CONFIG` file), unchecked: for `lottery healthcheck`, which
    /// needs only where the server listens.
    pub fn raw_settings() -> Result<HashMap<String, String>, String> {
        layers::from_process()
    }

    /// Settings from `LOTTERY_*` keys. An unknown key and a value out of
    /// its range are errors that name the key.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, String> {
        keys::refuse_unknown(vars)?;
        let vars = Vars::new(vars);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
        let profile = vars.profile()?;
        let database_url = vars
            .get("LOTTERY_DATABASE_URL")
            .unwrap_or_else(|| "sqlite://lottery.db".into());
        // The embedded default keeps images beside the SQLite file, as it
        // does the personal-data key.
        let media_dir = match Db::sqlite_file(&database_url) {
            Some(path) => PathBuf::from(format!("{path}.media")),
            None => PathBuf::from("lottery.media"),
        };
        let media = media_settings(&vars, media_dir)?;
        let config = Self {
            bind: vars
                .get("LOTTERY_BIND")
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            profile,
            database_tls: database_tls(&vars, &database_url)?,
            database_url: Secret::new(database_url),
            redis_tls: redis_tls(&vars)?,
            redis_url: vars.get("LOTTERY_REDIS_URL").map(Secret::new),
            wechat_appid: vars.get("LOTTERY_WECHAT_APPID"),
            wechat_secret: vars.get("LOTTERY_WECHAT_SECRET").map(Secret::new),
            wechat_api_base: vars
                .get("LOTTERY_WECHAT_API_BASE")
                .unwrap_or_else(|| "https://api.weixin.qq.com".into()),
            notices: None,
            risk: risk_settings(&vars)?,
            beacon: beacon_settings(&vars)?,
            wechat_timeout: Duration::from_millis(vars.number(
                "LOTTERY_WECHAT_TIMEOUT_MS",
                4000,
                100..=4500,
            )?),
            session_ttl: Duration::from_secs(vars.number(
                "LOTTERY_SESSION_TTL_SECS",
                7 * 24 * 3600,
                1..=366 * 24 * 3600,
            )?),
            session_cache_ttl: Duration::from_millis(vars.number(
                "LOTTERY_SESSION_CACHE_MS",
                2000,
                0..=5000,
            )?),
            redis_prefix: vars
                .get("LOTTERY_REDIS_PREFIX")
                .unwrap_or_else(|| "lottery:".into()),
            event_mailbox_capacity: vars.number("LOTTERY_EVENT_MAILBOX", 20_000, 1..=10_000_000)?
                as usize,
            actor_idle_timeout: Duration::from_secs(vars.number(
                "LOTTERY_ACTOR_IDLE_SECS",
                120,
                1..=86_400,
            )?),
            max_live_events: vars.number("LOTTERY_MAX_LIVE_EVENTS", 100_000, 1..=100_000_000)?
                as usize,
            max_open_events_per_user: vars.number(
                "LOTTERY_MAX_OPEN_EVENTS_PER_USER",
                20,
                1..=1_000_000,
            )? as u32,
            max_connections_per_address: vars.number(
                "LOTTERY_MAX_CONNECTIONS_PER_ADDRESS",
                if profile == Profile::Prod { 256 } else { 0 },
                0..=1_000_000,
            )? as usize,
            admin_bind: vars.get("LOTTERY_ADMIN_BIND"),
            body: BodyDeadlines {
                total: Duration::from_secs(vars.number(
                    "LOTTERY_BODY_TIMEOUT_SECS",
                    10,
                    1..=600,
                )?),
                gap: Duration::from_secs(vars.number("LOTTERY_BODY_GAP_SECS", 5, 1..=600)?),
                upload_rate: vars.number("LOTTERY_UPLOAD_MIN_KBPS", 64, 1..=1_000_000)? * 1024,
            },
            tls: match (vars.get("LOTTERY_TLS_CERT"), vars.get("LOTTERY_TLS_KEY")) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.into(),
                    key: key.into(),
                }),
                (None, None) => None,
                _ => {
                    return Err(
                        "LOTTERY_TLS_CERT and LOTTERY_TLS_KEY go together: set both or neither"
                            .into(),
                    )
                }
            },
            result_cache_bytes: vars.number("LOTTERY_RESULT_CACHE_MB", 64, 0..=1 << 20)? << 20,
            finished_cache_bytes: vars.number("LOTTERY_FINISHED_CACHE_MB", 64, 0..=1 << 20)? << 20,
            db_pool_size: vars.number("LOTTERY_DB_POOL_SIZE", 16, 1..=1000)? as u32,
            db_lock_timeout: Duration::from_millis(vars.number(
                "LOTTERY_DB_LOCK_TIMEOUT_MS",
                5000,
                100..=60_000,
            )?),
            actor_threads: vars.number("LOTTERY_ACTOR_THREADS", 0, 0..=1024)? as usize,
            http_workers: vars.number("LOTTERY_HTTP_WORKERS", cores, 1..=1024)? as usize,
            load_test_sessions: match vars.get("LOTTERY_LOAD_TEST_SESSIONS").as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(format!(
                        "LOTTERY_LOAD_TEST_SESSIONS must be true or false, got {other:?}"
                    ))
                }
            },
            limits: LimitSettings::default(),
            trusted_proxies: Vec::new(),
            pii_keys: vars.get("LOTTERY_PII_KEYS").map(Secret::new),
            signing_keys: vars
                .list("LOTTERY_SIGNING_KEYS")
                .into_iter()
                .map(Secret::new)
                .collect(),
            cors_origins: vars.list("LOTTERY_CORS_ORIGINS"),
            cluster: None,
            log_format: vars.log_format()?,
            media,
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
        config.limits = limit_settings(&vars, profile)?;
        config.trusted_proxies =
            parse_trusted(&vars.get("LOTTERY_TRUSTED_PROXIES").unwrap_or_default())
                .map_err(|e| format!("LOTTERY_TRUSTED_PROXIES: {e}"))?;
        // The app id and secret: what the content check needs is what prod needs.
        let has_app = config.content_check_enabled();
        config.notices = notice_settings(&vars, has_app)?;
        config.cluster = cluster_settings(
            &vars,
            &config.bind,
            config.redis_url.is_some(),
            config.tls.is_some(),
        )?;
        // Sessions for anyone who asks: a load test's, never a deployment's.
        if config.profile == Profile::Prod && config.load_test_sessions {
            return Err(
                "LOTTERY_LOAD_TEST_SESSIONS hands out sessions without a login: \
                 the prod profile refuses it"
                    .into(),
            );
        }
        if config.profile == Profile::Prod && !has_app {
            return Err(
                "the prod profile needs LOTTERY_WECHAT_APPID and LOTTERY_WECHAT_SECRET".into(),
            );
        }
        match &config.pii_keys {
            Some(keys) => {
                Keyring::parse(keys.expose()).map_err(|e| format!("LOTTERY_PII_KEYS: {e}"))?;
            }
            // A key file on one machine would leave the other instances
            // unable to open what it sealed, and its loss loses the data.
            None if config.profile == Profile::Prod => {
                return Err(
                    "the prod profile needs LOTTERY_PII_KEYS, the keys personal data \
                            is sealed under (docs/OPERATIONS.md, \"Personal data\")"
                        .into(),
                )
            }
            None => {}
        }
        // WeChat's content check of an upload downloads the image from
        // this server: it needs an address WeChat can reach.
        if config.profile == Profile::Prod && config.media.public_url.is_none() {
            return Err(
                "the prod profile needs LOTTERY_PUBLIC_URL, the https address clients and \
                 WeChat reach this server at (docs/MEDIA.md)"
                    .into(),
            );
        }
        Ok(config)
    }

    /// Whether content passes WeChat's check before it is published.
    pub fn content_check_enabled(&self) -> bool {
        self.wechat_appid.is_some() && self.wechat_secret.is_some()
    }

    /// The keys personal data is sealed under: the setting, else (dev
    /// only: `from_map` refuses prod without it) the key file made on first
    /// start, beside the SQLite file, or `lottery.pii-keys` in the working
    /// directory for a dev server on MySQL.
    pub fn pii_keyring(&self) -> Result<Keyring, String> {
        let setting = match &self.pii_keys {
            Some(keys) => keys.expose().to_string(),
            None => {
                let file = match Db::sqlite_file(self.database_url.expose()) {
                    Some(path) => key_file::beside(Path::new(path)),
                    None => PathBuf::from("lottery.pii-keys"),
                };
                key_file::load_or_create(&file)?
            }
        };
        Keyring::parse(&setting)
    }

    /// Dev login is open only in the dev profile with no WeChat app configured.
    pub fn dev_login_enabled(&self) -> bool {
        self.profile == Profile::Dev && self.wechat_appid.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed test key (32 zero bytes), never one of a deployment.
    const TEST_KEYS: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    use crate::limits::LimitSpec;

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
            LOTTERY_PII_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
            LOTTERY_PUBLIC_URL=https://api.example.com
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
            ("LOTTERY_PII_KEYS", TEST_KEYS),
            ("LOTTERY_PUBLIC_URL", "https://api.example.com"),
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
        // The beacon needs both its relay and its chain hash, a real hash.
        let err =
            Config::from_map(&map(&[("LOTTERY_BEACON_URL", "https://api.drand.sh")])).unwrap_err();
        assert!(err.contains("LOTTERY_BEACON_CHAIN_HASH"), "{err}");
        let quicknet = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";
        let err = Config::from_map(&map(&[
            ("LOTTERY_BEACON_URL", "https://api.drand.sh"),
            ("LOTTERY_BEACON_CHAIN_HASH", &quicknet[1..]),
        ]))
        .unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
        let err = Config::from_map(&map(&[
            ("LOTTERY_BEACON_URL", "api.drand.sh"),
            ("LOTTERY_BEACON_CHAIN_HASH", quicknet),
        ]))
        .unwrap_err();
        assert!(err.contains("LOTTERY_BEACON_URL"), "{err}");
        let upper = quicknet.to_uppercase();
        let config = Config::from_map(&map(&[
            ("LOTTERY_BEACON_URL", "https://api.drand.sh/"),
            ("LOTTERY_BEACON_CHAIN_HASH", &upper),
        ]))
        .unwrap();
        assert_eq!(
            config.beacon,
            Some(BeaconSettings {
                url: "https://api.drand.sh".into(),
                chain_hash: quicknet.into()
            })
        );
        let err = Config::from_map(&map(&[("LOTTERY_TLS_CERT", "/x.pem")])).unwrap_err();
        assert!(err.contains("LOTTERY_TLS_KEY"), "{err}");
        // The test suite's own variables are not the server's.
        assert!(Config::from_map(&map(&[("LOTTERY_TEST_MYSQL_URL", "mysql://x")])).is_ok());
        // Not LOTTERY_: not ours to judge.
        assert!(Config::from_map(&map(&[("RUST_LOG", "debug")])).is_ok());
    }

    /// Issue 24, finding 4: the hop secret is the deployment's, not etcd's,
    /// and an instance's own URL must be one the others may forward to.
    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_mode_needs_its_secret_and_allowed_peers() {
        let base = [
            ("LOTTERY_ETCD_ENDPOINTS", "http://127.0.0.1:2379"),
            ("LOTTERY_REDIS_URL", "redis://127.0.0.1:6379"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            Config::from_map(&map(&all))
        };
        let err = with(&[]).unwrap_err();
        assert!(err.contains("LOTTERY_CLUSTER_SECRET"), "{err}");
        let err = with(&[("LOTTERY_CLUSTER_SECRET", "short")]).unwrap_err();
        assert!(err.contains("at least 32"), "{err}");
        let secret = ("LOTTERY_CLUSTER_SECRET", "0123456789abcdef0123456789abcdef");
        let cluster = with(&[secret]).unwrap().cluster.unwrap();
        assert_eq!(cluster.hop_secret.expose(), secret.1);
        assert!(cluster.peers.allows("http://10.0.0.5:8080"));
        let public = ("LOTTERY_ADVERTISE_URL", "http://203.0.113.1:8080");
        let err = with(&[secret, public]).unwrap_err();
        assert!(err.contains("LOTTERY_CLUSTER_PEERS"), "{err}");
        assert!(with(&[secret, public, ("LOTTERY_CLUSTER_PEERS", "203.0.113.0/24")]).is_ok());
        let err = with(&[secret, ("LOTTERY_CLUSTER_PEERS", "http://x")]).unwrap_err();
        assert!(err.contains("LOTTERY_CLUSTER_PEERS"), "{err}");
        // A cluster setting without the cluster is a mistake to name.
        let err = Config::from_map(&map(&[secret])).unwrap_err();
        assert!(err.contains("LOTTERY_ETCD_ENDPOINTS"), "{err}");
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
        assert!(notices.result.is_some() && notices.reminder.is_none());
    }

    #[test]
    fn claim_reminders_have_their_own_template_and_fields() {
        let app = [
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s"),
        ];
        let err = Config::from_map(&map(&[("LOTTERY_WECHAT_CLAIM_TEMPLATE_ID", "C")])).unwrap_err();
        assert!(
            err.contains("LOTTERY_WECHAT_CLAIM_TEMPLATE_ID")
                && err.contains("LOTTERY_WECHAT_APPID"),
            "{err}"
        );
        let mut fields_alone = app.to_vec();
        fields_alone.push(("LOTTERY_WECHAT_CLAIM_FIELDS", "thing1=title,time2=claim_by"));
        let err = Config::from_map(&map(&fields_alone)).unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_CLAIM_TEMPLATE_ID"), "{err}");
        // Reminders alone: the notifier runs, results stay off.
        let mut reminders = app.to_vec();
        reminders.push(("LOTTERY_WECHAT_CLAIM_TEMPLATE_ID", "C"));
        let notices = Config::from_map(&map(&reminders)).unwrap().notices.unwrap();
        assert!(notices.result.is_none());
        assert_eq!(notices.reminder.unwrap().id, "C");
        // A claim field map is checked for what a reminder needs.
        let mut bad = reminders.clone();
        bad.push(("LOTTERY_WECHAT_CLAIM_FIELDS", "thing1=title,phrase2=result"));
        let err = Config::from_map(&map(&bad)).unwrap_err();
        assert!(
            err.contains("LOTTERY_WECHAT_CLAIM_FIELDS") && err.contains("claim_by"),
            "{err}"
        );
        // And a result map cannot promise a claim window it does not know.
        let mut bad = app.to_vec();
        bad.push(("LOTTERY_WECHAT_RESULT_TEMPLATE_ID", "T"));
        bad.push((
            "LOTTERY_WECHAT_RESULT_FIELDS",
            "thing1=title,phrase2=result,time3=claim_by",
        ));
        let err = Config::from_map(&map(&bad)).unwrap_err();
        assert!(err.contains("claim_by"), "{err}");
    }

    #[test]
    fn prod_refuses_to_start_without_wechat_credentials() {
        let err = Config::from_map(&map(&[("LOTTERY_PROFILE", "prod")])).unwrap_err();
        assert!(err.contains("LOTTERY_WECHAT_APPID"));
        let c = Config::from_map(&map(&[
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s3cr3t"),
            ("LOTTERY_PII_KEYS", TEST_KEYS),
        ]))
        .unwrap_err();
        assert!(c.contains("LOTTERY_PUBLIC_URL"), "{c}");
        let c = Config::from_map(&map(&[
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s3cr3t"),
            ("LOTTERY_PII_KEYS", TEST_KEYS),
            ("LOTTERY_PUBLIC_URL", "https://api.example.com"),
        ]))
        .unwrap();
        assert!(!c.dev_login_enabled());
        assert!(!c.load_test_sessions);
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn bulk_load_test_sessions_are_never_on_in_prod() {
        let prod = [
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s"),
            ("LOTTERY_PII_KEYS", TEST_KEYS),
            ("LOTTERY_PUBLIC_URL", "https://api.example.com"),
            ("LOTTERY_LOAD_TEST_SESSIONS", "true"),
        ];
        let err = Config::from_map(&map(&prod)).unwrap_err();
        assert!(err.contains("LOTTERY_LOAD_TEST_SESSIONS"), "{err}");
        let dev = Config::from_map(&map(&[("LOTTERY_LOAD_TEST_SESSIONS", "true")])).unwrap();
        assert!(dev.load_test_sessions);
        assert!(!Config::from_map(&map(&[])).unwrap().load_test_sessions);
        let bad = Config::from_map(&map(&[("LOTTERY_LOAD_TEST_SESSIONS", "yes")])).unwrap_err();
        assert!(bad.contains("true or false"), "{bad}");
    }

    #[test]
    fn prod_refuses_to_start_without_pii_keys_and_bad_keys_anywhere() {
        let app = [
            ("LOTTERY_PROFILE", "prod"),
            ("LOTTERY_WECHAT_APPID", "wx1"),
            ("LOTTERY_WECHAT_SECRET", "s"),
        ];
        let err = Config::from_map(&map(&app)).unwrap_err();
        assert!(err.contains("LOTTERY_PII_KEYS"), "{err}");
        let bad = Config::from_map(&map(&[("LOTTERY_PII_KEYS", "k1:short")])).unwrap_err();
        assert!(bad.starts_with("LOTTERY_PII_KEYS: key 1 (k1)"), "{bad}");
        let c = Config::from_map(&map(&[("LOTTERY_PII_KEYS", TEST_KEYS)])).unwrap();
        assert!(
            !format!("{c:?}").contains(&TEST_KEYS[3..]),
            "the key is never printed"
        );
        assert_eq!(c.pii_keyring().unwrap().current_key_id(), "k1");
    }

    #[test]
    fn a_dev_server_keeps_its_key_beside_the_sqlite_file() {
        let dir = std::env::temp_dir().join(format!("lottery-pii-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/lottery.db", dir.display());
        let c = Config::from_map(&map(&[("LOTTERY_DATABASE_URL", url.as_str())])).unwrap();
        let sealed = c.pii_keyring().unwrap().seal(b"c", b"x");
        assert!(dir.join("lottery.db.pii-keys").exists());
        let reopened = c.pii_keyring().unwrap();
        assert_eq!(
            reopened.open(b"c", &sealed).unwrap(),
            b"x",
            "the same key after a restart"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
