//! The settings this version knows, and the refusal of any other.

use std::collections::HashMap;

/// Every setting this version reads (README.md describes each).
const KNOWN: &[&str] = &[
    "LOTTERY_CONFIG",
    "LOTTERY_BIND",
    "LOTTERY_PROFILE",
    "LOTTERY_DATABASE_URL",
    "LOTTERY_REDIS_URL",
    "LOTTERY_REDIS_PREFIX",
    "LOTTERY_WECHAT_APPID",
    "LOTTERY_WECHAT_SECRET",
    "LOTTERY_WECHAT_API_BASE",
    "LOTTERY_WECHAT_RESULT_TEMPLATE_ID",
    "LOTTERY_WECHAT_RESULT_PAGE",
    "LOTTERY_WECHAT_RESULT_FIELDS",
    "LOTTERY_WECHAT_MINIPROGRAM_STATE",
    "LOTTERY_NOTIFY_RATE",
    "LOTTERY_NOTIFY_CLAIM_SECS",
    "LOTTERY_NOTIFY_MAX_ATTEMPTS",
    "LOTTERY_WECHAT_TIMEOUT_MS",
    "LOTTERY_SESSION_TTL_SECS",
    "LOTTERY_SESSION_CACHE_MS",
    "LOTTERY_EVENT_MAILBOX",
    "LOTTERY_ACTOR_IDLE_SECS",
    "LOTTERY_MAX_LIVE_EVENTS",
    "LOTTERY_RESULT_CACHE_MB",
    "LOTTERY_FINISHED_CACHE_MB",
    "LOTTERY_DB_POOL_SIZE",
    "LOTTERY_DB_LOCK_TIMEOUT_MS",
    "LOTTERY_ACTOR_THREADS",
    "LOTTERY_HTTP_WORKERS",
    "LOTTERY_LIMIT_USER",
    "LOTTERY_LIMIT_IP",
    "LOTTERY_LIMIT_LOGIN",
    "LOTTERY_TRUSTED_PROXIES",
    "LOTTERY_LOG_FORMAT",
    "LOTTERY_SIGNING_KEYS",
    "LOTTERY_PII_KEYS",
    "LOTTERY_CORS_ORIGINS",
    "LOTTERY_ETCD_ENDPOINTS",
    "LOTTERY_ETCD_PREFIX",
    "LOTTERY_ETCD_LEASE_TTL_SECS",
    "LOTTERY_INSTANCE_ID",
    "LOTTERY_ADVERTISE_URL",
];

/// Contract settings (API v1.1) this version does not implement yet:
/// refusing them beats running without what the operator asked for.
const NOT_YET: &[(&str, &str)] = &[];

/// A `LOTTERY_*` key this version does not know (a misspelling, or a
/// setting of a later version) is an error that names it: a silently
/// ignored setting is a production surprise. `LOTTERY_TEST_*` belong to
/// the test suite.
pub(super) fn refuse_unknown(vars: &HashMap<String, String>) -> Result<(), String> {
    let mut unknown: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with("LOTTERY_") && !k.starts_with("LOTTERY_TEST_"))
        .filter(|k| !KNOWN.contains(k))
        .collect();
    unknown.sort_unstable();
    if let Some(first) = unknown.first() {
        return Err(match NOT_YET.iter().find(|(k, _)| k == first) {
            Some((_, why)) => format!("{first} is not supported by this version: {why}"),
            None => format!(
                "unknown setting {} (README.md lists every LOTTERY_* setting)",
                unknown.join(", ")
            ),
        });
    }
    Ok(())
}
