//! Lottery backend for WeChat mini-programs: HTTP in `api`, one actor per
//! live event in `actors`, pure rules in `domain`, the database in `store`,
//! sessions in `cache`, the WeChat API client in `wechat`.

pub mod actors;
pub mod api;
pub mod beacon;
pub mod cache;
pub mod clock;
pub mod cluster;
pub mod coding;
pub mod config;
pub mod domain;
pub mod error;
pub mod healthcheck;
pub mod limits;
pub mod media;
pub mod memory;
pub mod pii;
pub mod secret;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod wechat;
