//! The scenarios, one file each, and what they are given. Each prints what
//! it measured and ends with a verification pass; a failed verification
//! exits non-zero.

pub mod big_draw;
pub mod cluster;
pub mod draw_storm;
pub mod healthz;
pub mod hot_join;
pub mod media;
pub mod mixed;
pub mod notices;
pub mod setup;
pub mod share_storm;
pub mod verify_joins;

use crate::stats::Target;

pub struct Args {
    pub base: String,
    /// The server's address and the generator's threads, for timed phases.
    pub target: Target,
    pub concurrency: usize,
    pub users: usize,
    pub seconds: u64,
    pub events: usize,
    pub per_event: usize,
    pub lead: u64,
    /// Prize slots of a big-draw event (at most 100,000).
    pub prizes: u32,
    pub record: Option<String>,
    /// Where `ratio` writes its SVG chart.
    pub plot: Option<String>,
    /// The `wechat-mock` the server sends its notices to (`notices`).
    pub wechat: Option<String>,
    /// The server's LOTTERY_NOTIFY_RATE, to compare the drain with.
    pub rate: u64,
    /// `hot-join` / `ratio`: the hot event's join rule (`password`,
    /// `group`: dev login makes the proofs; `risk`: the server uses the
    /// `wechat-mock`, and every user is rated before the timed phase), or
    /// none.
    pub rules: Option<String>,
    /// The app id group proofs are made for: the server's
    /// LOTTERY_WECHAT_APPID, or dev login's stand-in.
    pub appid: String,
    /// `media`: users uploading photos during the second hot-join, and
    /// how many photos a second they upload in all (0: without pause).
    pub uploaders: usize,
    pub upload_rate: f64,
}
