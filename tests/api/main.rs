//! The HTTP suite: real requests against the real app, on SQLite and MySQL.

mod actors;
mod auth;
mod backing_tls;
mod beacon;
mod beacon_standin;
mod claims;
#[cfg(feature = "cluster")]
mod cluster;
mod commit_failures;
mod concurrency;
mod content_check;
mod contract;
mod corrupt_rows;
#[path = "../support/drand_chain.rs"]
mod drand_chain;
mod draw;
mod events;
mod helpers;
mod idempotency;
mod join_rules;
mod limits;
mod load_sessions;
mod media;
mod media_check;
mod media_s3;
mod method_not_allowed;
mod notices;
mod ops;
mod ownership;
mod participation;
mod platform_settings;
#[path = "../support/post_json.rs"]
mod post_json;
mod redraw;
mod reminders;
mod representations;
mod restart;
mod risk_check;
mod sessions;
mod share_code;
mod shutdown;
mod signing;
mod slow_bodies;
mod views;
mod wechat;
mod wechat_mock;
