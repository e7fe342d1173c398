//! Figures read when `/metrics` is scraped rather than as they happen:
//! the connection pools' state (bb8's) and the process's own
//! (`process_*`, from metrics-process: resident memory, open file
//! descriptors, start time, CPU).

use std::sync::OnceLock;

pub use bb8::State as PoolState;

/// Publishes one pool's state under `pool`.
pub fn report_pool(pool: &'static str, max: u32, state: &PoolState) {
    let idle = state.idle_connections;
    let in_use = state.connections.saturating_sub(idle);
    metrics::gauge!("lottery_pool_connections", "pool" => pool, "state" => "in_use")
        .set(f64::from(in_use));
    metrics::gauge!("lottery_pool_connections", "pool" => pool, "state" => "idle")
        .set(f64::from(idle));
    metrics::gauge!("lottery_pool_max_connections", "pool" => pool).set(f64::from(max));
    metrics::counter!("lottery_pool_waits_total", "pool" => pool)
        .absolute(state.statistics.get_waited);
    metrics::counter!("lottery_pool_timeouts_total", "pool" => pool)
        .absolute(state.statistics.get_timed_out);
}

/// Publishes what `/readyz` would answer.
pub fn report_readiness(database: bool, cache: bool, shutting_down: bool) {
    let up = |ok: bool| if ok { 1.0 } else { 0.0 };
    metrics::gauge!("lottery_dependency_up", "dependency" => "database").set(up(database));
    metrics::gauge!("lottery_dependency_up", "dependency" => "cache").set(up(cache));
    metrics::gauge!("lottery_shutting_down").set(up(shutting_down));
}

/// Publishes the process figures.
pub fn report_process() {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR
        .get_or_init(|| {
            let collector = metrics_process::Collector::default();
            collector.describe();
            collector
        })
        .collect();
}
