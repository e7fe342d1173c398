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
    "LOTTERY_DATABASE_CA",
    "LOTTERY_DATABASE_CLIENT_CERT",
    "LOTTERY_DATABASE_CLIENT_KEY",
    "LOTTERY_REDIS_CA",
    "LOTTERY_REDIS_CLIENT_CERT",
    "LOTTERY_REDIS_CLIENT_KEY",
    "LOTTERY_ETCD_CA",
    "LOTTERY_ETCD_CLIENT_CERT",
    "LOTTERY_ETCD_CLIENT_KEY",
    "LOTTERY_WECHAT_APPID",
    "LOTTERY_WECHAT_SECRET",
    "LOTTERY_WECHAT_API_BASE",
    "LOTTERY_WECHAT_RESULT_TEMPLATE_ID",
    "LOTTERY_WECHAT_RESULT_PAGE",
    "LOTTERY_WECHAT_RESULT_FIELDS",
    "LOTTERY_WECHAT_CLAIM_TEMPLATE_ID",
    "LOTTERY_WECHAT_CLAIM_FIELDS",
    "LOTTERY_RISK_MAX_RANK",
    "LOTTERY_RISK_KEEP_SECS",
    "LOTTERY_RISK_ON_ERROR",
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
    "LOTTERY_MAX_OPEN_EVENTS_PER_USER",
    "LOTTERY_MAX_CONNECTIONS_PER_ADDRESS",
    "LOTTERY_ADMIN_BIND",
    "LOTTERY_BODY_TIMEOUT_SECS",
    "LOTTERY_BODY_GAP_SECS",
    "LOTTERY_UPLOAD_MIN_KBPS",
    "LOTTERY_RESULT_CACHE_MB",
    "LOTTERY_FINISHED_CACHE_MB",
    "LOTTERY_DB_POOL_SIZE",
    "LOTTERY_DB_LOCK_TIMEOUT_MS",
    "LOTTERY_ACTOR_THREADS",
    "LOTTERY_HTTP_WORKERS",
    "LOTTERY_LIMIT_USER",
    "LOTTERY_LIMIT_IP",
    "LOTTERY_LIMIT_LOGIN",
    "LOTTERY_LIMIT_IPV6_PREFIX",
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
    "LOTTERY_CLUSTER_SECRET",
    "LOTTERY_CLUSTER_PEERS",
    "LOTTERY_CLUSTER_CA",
    "LOTTERY_TLS_CERT",
    "LOTTERY_TLS_KEY",
    "LOTTERY_PUBLIC_URL",
    "LOTTERY_MEDIA_STORE",
    "LOTTERY_MEDIA_PUBLIC_BASE",
    "LOTTERY_MEDIA_MAX_KB",
    "LOTTERY_MEDIA_MAX_SIDE",
    "LOTTERY_MEDIA_MAX_PIXELS",
    "LOTTERY_MEDIA_UPLOADS_PER_HOUR",
    "LOTTERY_MEDIA_QUOTA_MB",
    "LOTTERY_MEDIA_WORKERS",
    "LOTTERY_MEDIA_DECODER",
    "LOTTERY_S3_ENDPOINT",
    "LOTTERY_S3_REGION",
    "LOTTERY_S3_ACCESS_KEY",
    "LOTTERY_S3_SECRET_KEY",
    "LOTTERY_WECHAT_PUSH_TOKEN",
    "LOTTERY_WECHAT_PUSH_AES_KEY",
    "LOTTERY_WECHAT_SHARE_PAGE",
    "LOTTERY_WECHAT_SHARE_CHECK_PATH",
    "LOTTERY_WECHAT_SHARE_ENV_VERSION",
    "LOTTERY_BEACON_URL",
    "LOTTERY_BEACON_CHAIN_HASH",
    "LOTTERY_LOAD_TEST_SESSIONS",
];

/// Contract settings (API v1.1) this version does not implement yet:
/// refusing them beats running without what the operator asked for.
const NOT_YET: &[(&str, &str)] = &[];

/// Whether `key` is one of the variables Kubernetes puts in every pod for a
/// Service named `lottery` (Docker's links used the same names):
/// `LOTTERY_PORT`, `LOTTERY_PORT_<port>_<protocol>` alone or with `_PROTO`,
/// `_PORT` or `_ADDR`, `LOTTERY_SERVICE_HOST`, `LOTTERY_SERVICE_PORT` and
/// `LOTTERY_SERVICE_PORT_<port name>`. They share our prefix without being
/// settings. Only these exact shapes pass, so `LOTTERY_PORTT` or
/// `LOTTERY_SERVICE_HOSTS` is still refused as a misspelling.
///
/// The process environment is read without them (`layers::from_process`);
/// a config file holding one is refused like any unknown key: a person
/// wrote that file, and `LOTTERY_PORT=9090` there is a mistake to name (the
/// listen address is `LOTTERY_BIND`), not a platform's doing.
pub(super) fn injected_by_platform(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("LOTTERY_") else {
        return false;
    };
    if let Some(name) = rest.strip_prefix("SERVICE_PORT_") {
        // A port's name, upper-cased with `-` turned into `_`.
        return !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    }
    if let Some(port) = rest.strip_prefix("PORT_") {
        return is_port_variable(port);
    }
    matches!(rest, "PORT" | "SERVICE_HOST" | "SERVICE_PORT")
}

/// `<number>_<TCP|UDP|SCTP>`, alone or followed by `_PROTO`, `_PORT` or
/// `_ADDR`.
fn is_port_variable(rest: &str) -> bool {
    let Some((number, rest)) = rest.split_once('_') else {
        return false;
    };
    let (protocol, field) = match rest.split_once('_') {
        Some((protocol, field)) => (protocol, Some(field)),
        None => (rest, None),
    };
    !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && matches!(protocol, "TCP" | "UDP" | "SCTP")
        && matches!(field, None | Some("PROTO" | "PORT" | "ADDR"))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_service_variables_are_recognised_and_nothing_near_them() {
        for key in [
            "LOTTERY_PORT",
            "LOTTERY_PORT_8080_TCP",
            "LOTTERY_PORT_8080_TCP_PROTO",
            "LOTTERY_PORT_8080_TCP_PORT",
            "LOTTERY_PORT_8080_TCP_ADDR",
            "LOTTERY_PORT_53_UDP",
            "LOTTERY_PORT_9_SCTP_ADDR",
            "LOTTERY_SERVICE_HOST",
            "LOTTERY_SERVICE_PORT",
            "LOTTERY_SERVICE_PORT_HTTP",
            "LOTTERY_SERVICE_PORT_HTTP_ALT2",
        ] {
            assert!(injected_by_platform(key), "{key}");
        }
        for key in [
            "LOTTERY_PORTT",
            "LOTTERY_PORT_",
            "LOTTERY_PORT_8080",
            "LOTTERY_PORT_HTTP_TCP",
            "LOTTERY_PORT_8080_HTTP",
            "LOTTERY_PORT_8080_TCP_",
            "LOTTERY_PORT_8080_TCP_HOST",
            "LOTTERY_PORT_8080_TCP_ADDR_X",
            "LOTTERY_SERVICE_HOSTS",
            "LOTTERY_SERVICE_HOST_X",
            "LOTTERY_SERVICE_PORTS",
            "LOTTERY_SERVICE_PORT_",
            "LOTTERY_SERVICE_PORT_http",
            "LOTTERY_SERVICE",
            "LOTTERY_BIND",
            "OTHER_SERVICE_HOST",
            "PORT",
        ] {
            assert!(!injected_by_platform(key), "{key}");
        }
    }

    #[test]
    fn a_platform_name_given_as_a_setting_is_still_refused() {
        let vars = HashMap::from([("LOTTERY_SERVICE_HOST".to_string(), "10.0.0.1".to_string())]);
        let err = refuse_unknown(&vars).unwrap_err();
        assert!(err.contains("LOTTERY_SERVICE_HOST"), "{err}");
    }
}
