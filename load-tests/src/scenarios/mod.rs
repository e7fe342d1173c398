//! The scenarios, one file each, and what they are given. Each prints what
//! it measured and ends with a verification pass; a failed verification
//! exits non-zero.

pub mod big_draw;
pub mod cluster;
pub mod draw_storm;
pub mod healthz;
pub mod hot_join;
pub mod media;
pub mod million;
pub mod mixed;
pub mod notices;
pub mod setup;
pub mod share_storm;
pub mod verify_joins;

use std::time::Duration;

use crate::drive::{Load, Target};
use crate::pace::Rate;
use crate::plot::Mark;

/// What a scenario is given (from its flags: `cli.rs`).
pub struct Args {
    pub base: String,
    /// The server's address and the generator's threads, for timed phases.
    pub target: Target,
    pub concurrency: usize,
    pub users: usize,
    pub seconds: u64,
    /// `--rate`: the timed phase at a fixed arrival rate (healthz,
    /// hot-join, mixed); None: closed-loop.
    pub pace: Option<Rate>,
    pub events: usize,
    pub per_event: usize,
    pub lead: u64,
    /// Prize slots of a big-draw event (at most 100,000).
    pub prizes: u32,
    pub record: Option<String>,
    /// Where `ratio`, `share-storm` and `cluster` write their SVG chart.
    pub plot: Option<String>,
    /// `cluster`: labelled lines on its chart (the faults).
    pub marks: Vec<Mark>,
    /// The `wechat-mock` the server sends its notices to (`notices`).
    pub wechat: Option<String>,
    /// The server's LOTTERY_NOTIFY_RATE, to compare the drain with.
    pub notify_rate: f64,
    /// Messages the drain may repeat (a crash during it: the sends in
    /// flight); the rest must arrive exactly once.
    pub repeats_allowed: u64,
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
    /// `million`: `all`, `joins` (then write `state`) or `draw` (from it).
    pub stage: String,
    pub state: Option<String>,
    /// `million`: the live page's views during the joins, a fixed rate.
    pub view_rate: Rate,
}

impl Args {
    /// A phase of `count` items (or without end) over the scenario's
    /// connections, for at most `seconds`, closed-loop.
    pub fn load(&self, seconds: u64, count: Option<usize>) -> Load {
        Load {
            concurrency: self.concurrency,
            seconds,
            count,
            pace: None,
            resolution: Duration::from_secs(1),
        }
    }

    /// The scenario's timed phase: `--seconds`, at `--rate` when given.
    pub fn timed(&self, count: Option<usize>) -> Load {
        Load {
            pace: self.pace,
            ..self.load(self.seconds, count)
        }
    }
}
