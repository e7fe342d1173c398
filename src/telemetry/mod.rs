//! Logs (tracing, filtered by RUST_LOG, as text or JSON lines) and the
//! Prometheus recorder.

pub mod catalog;
pub mod scrape;
pub mod traces;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// How log lines are written: for people (`text`) or for a log pipeline
/// (`json`, one object per line). Here, not in config/, because the store
/// (its spans) depends on telemetry and config on the cache, which depends
/// on the store: telemetry depends on nothing of ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the process's log subscriber, writing to stdout: colored for
/// a terminal, plain text for a file or a log collector; and the span
/// exporter when OTLP is configured (traces.rs).
pub fn init_tracing(format: LogFormat) -> Result<(), String> {
    use std::io::IsTerminal;
    install(format, std::io::stdout, std::io::stdout().is_terminal())
}

/// Installs the log subscriber writing to `writer` (tests capture it). In
/// JSON each line is one object: `timestamp`, `level`, `fields` (the
/// message among them) and `span`, the request's fields: `request_id`,
/// `method`, `path`, and once known `user_id`, `event_id`, `trace_id`.
pub fn init_tracing_to<W>(format: LogFormat, writer: W) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    install(format, writer, false)
}

fn install<W>(format: LogFormat, writer: W, ansi: bool) -> Result<(), String>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    let lines = match format {
        LogFormat::Text => lines.boxed(),
        LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    // Each layer has its own filter: the logs RUST_LOG's, the exported
    // spans this crate's at info and above, whatever RUST_LOG lets into
    // the logs. (Callsites every filter disables still cost nothing.)
    let spans = traces::layer()?.map(|spans| {
        spans.with_filter(
            Targets::new()
                .with_target("lottery", Level::INFO)
                .with_target(traces::UNTRACED, LevelFilter::OFF),
        )
    });
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(spans)
        .try_init();
    Ok(())
}

/// The process-wide recorder; installed once, shared by every app in the
/// process (tests start several).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .expect("static buckets are valid")
                // Draws may be late by minutes when the database was down.
                .set_buckets_for_metric(
                    Matcher::Full("lottery_draw_lag_seconds".into()),
                    &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0],
                )
                .expect("static buckets are valid")
                .set_buckets_for_metric(
                    Matcher::Full("lottery_event_batch_size".into()),
                    &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0],
                )
                .expect("static buckets are valid")
                .install_recorder()
                .inspect(|handle| {
                    keep_metrics_folded(handle.clone());
                    catalog::describe();
                    // Which build answers: dashboards and alerts join on it.
                    metrics::gauge!("lottery_build_info", "version" => env!("CARGO_PKG_VERSION"))
                        .set(1.0);
                })
                .expect("the metrics recorder is installed once")
        })
        .clone()
}

/// How often the recorder's histograms are folded into their buckets.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The recorder keeps every histogram sample in a queue until it is folded
/// into its buckets, which only a scrape or an upkeep does; installed
/// without the crate's own exporter, nothing did upkeep, so a server nobody
/// scraped grew by 8 bytes a sample, without bound (7 MB after 300,000
/// joins: a heap profile, docs/BENCHMARKS.md). This thread folds them
/// every `METRICS_UPKEEP_EVERY`, as the crate's exporter does.
fn keep_metrics_folded(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(METRICS_UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "no metrics-upkeep thread: histogram samples wait for scrapes");
    }
}
