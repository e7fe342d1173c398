//! The rate limits' settings and their defaults per profile.

use super::parse::{Profile, Vars};
use crate::limits::client_ip::DEFAULT_IPV6_PREFIX;
use crate::limits::{LimitSettings, LimitSpec};

/// Default limits: a person tapping fast stays far below 20 a second.
/// Limits by address are off in dev (every local client, test and load
/// generator shares 127.0.0.1); in prod they are generous, as a mobile
/// carrier's NAT puts many users behind one address, and logins, which
/// come once per session, get a tighter one of their own that slows down
/// someone minting sessions.
const DEFAULT_USER_LIMIT: LimitSpec = LimitSpec::per_second(20, 40);
const DEFAULT_PROD_IP_LIMIT: LimitSpec = LimitSpec::per_second(200, 400);
const DEFAULT_LOGIN_LIMIT: LimitSpec = LimitSpec::per_second(5, 50);

pub(super) fn limit_settings(vars: &Vars, profile: Profile) -> Result<LimitSettings, String> {
    let read = |key: &str, default: Option<LimitSpec>| match vars.get(key) {
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
        ipv6_prefix: vars.number(
            "LOTTERY_LIMIT_IPV6_PREFIX",
            DEFAULT_IPV6_PREFIX.into(),
            32..=128,
        )? as u8,
    })
}
