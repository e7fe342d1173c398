//! Every metric this service exports, with its help text (Prometheus
//! `# HELP`; `promtool check metrics` wants one for each). A metric
//! recorded without an entry here fails the catalog test.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// (name, kind, help). Kinds: "counter", "gauge", "histogram".
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "lottery_http_requests_total",
        "counter",
        "HTTP requests answered, by route and status",
    ),
    (
        "lottery_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request, by route",
    ),
    (
        "lottery_event_actors",
        "gauge",
        "Event actors alive in this process",
    ),
    (
        "lottery_event_actor_starts_total",
        "counter",
        "Event actors started (each one load of its event)",
    ),
    (
        "lottery_event_actor_cap_refusals_total",
        "counter",
        "Writes refused 503 because LOTTERY_MAX_LIVE_EVENTS actors are live and every one has had a write",
    ),
    (
        "lottery_event_actor_evictions_total",
        "counter",
        "Actors only views had reached, stopped to make room for a write at LOTTERY_MAX_LIVE_EVENTS",
    ),
    (
        "lottery_cluster_members_refused_total",
        "counter",
        "Cluster member registrations ignored as their URL is outside LOTTERY_CLUSTER_PEERS",
    ),
    (
        "lottery_wechat_requests_total",
        "counter",
        "Requests to the WeChat API, by API and result (ok, refused, token_refused, limited, busy, timeout, unreachable, http_error, bad_answer, abandoned)",
    ),
    (
        "lottery_wechat_request_duration_seconds",
        "histogram",
        "Time a request to the WeChat API took, by API",
    ),
    (
        "lottery_build_info",
        "gauge",
        "Always 1; its labels name the running build (version)",
    ),
    (
        "lottery_connections_refused_total",
        "counter",
        "Connections refused 429 as their address held LOTTERY_MAX_CONNECTIONS_PER_ADDRESS already",
    ),
    (
        "lottery_event_mailbox_wait_seconds",
        "histogram",
        "Time a request waited in its event actor's mailbox, by message",
    ),
    (
        "lottery_event_mailbox_full_total",
        "counter",
        "Requests refused 503 because their event's queue was full",
    ),
    (
        "lottery_joins_total",
        "counter",
        "Joins and leaves decided by event actors, by result",
    ),
    (
        "lottery_readiness_checks_total",
        "counter",
        "Pings of the database and the cache for /readyz and /metrics (at most one a second)",
    ),
    (
        "lottery_media_uploads_total",
        "counter",
        "Images uploaded and stored, by stored format",
    ),
    (
        "lottery_media_decode_duration_seconds",
        "histogram",
        "Time to check, decode and re-encode an upload in a decoding process",
    ),
    (
        "lottery_media_decoders_started_total",
        "counter",
        "Decoding processes started",
    ),
    (
        "lottery_media_decoder_failures_total",
        "counter",
        "Decoding processes replaced, by why (failed, timeout)",
    ),
    (
        "lottery_media_store_duration_seconds",
        "histogram",
        "Calls to the media store, by store (fs, s3), operation and result",
    ),
    (
        "lottery_wechat_pushes_total",
        "counter",
        "WeChat message pushes, by result (verified, media_check, other, refused, unreadable)",
    ),
    (
        "lottery_media_verdicts_total",
        "counter",
        "WeChat's verdicts on images, by verdict (pass, review, risky, unjudged, repeated, unknown)",
    ),
    (
        "lottery_media_unchecked",
        "gauge",
        "Images still pending after every ask of WeChat's check (none ever answered)",
    ),
    (
        "lottery_share_codes_total",
        "counter",
        "Share codes answered, by where they came from (memory, store, wechat, qr)",
    ),
    (
        "lottery_media_checks_total",
        "counter",
        "WeChat content checks of images asked, by result (asked, error)",
    ),
    (
        "lottery_join_refusals_total",
        "counter",
        "Joins refused by an event's join rules, by rule",
    ),
    (
        "lottery_risk_checks_total",
        "counter",
        "WeChat fraud checks of joiners, by result (rated, unavailable) and reason",
    ),
    (
        "lottery_wechat_logins_refused_total",
        "counter",
        "Logins WeChat refused, by errcode",
    ),
    (
        "lottery_event_batch_size",
        "histogram",
        "Changes committed per group commit",
    ),
    (
        "lottery_event_batch_commit_duration_seconds",
        "histogram",
        "Time to commit one group of changes",
    ),
    (
        "lottery_event_batch_failures_total",
        "counter",
        "Group commits that failed (their requests got 503)",
    ),
    ("lottery_draws_total", "counter", "Events drawn"),
    (
        "lottery_draw_duration_seconds",
        "histogram",
        "Time to write one draw (winners and status)",
    ),
    (
        "lottery_draw_lag_seconds",
        "histogram",
        "How long after its draw_at a timed draw was committed",
    ),
    (
        "lottery_draw_failures_total",
        "counter",
        "Draw attempts that failed and will be retried",
    ),
    (
        "lottery_draws_stuck",
        "gauge",
        "Events whose draw failed five times in a row and is still retried",
    ),
    (
        "lottery_beacon_requests_total",
        "counter",
        "Requests for drand beacon rounds, by result (ok, not_yet, unreachable, http_error, bad_answer, bad_signature)",
    ),
    (
        "lottery_beacon_request_duration_seconds",
        "histogram",
        "Time a request for a beacon round took",
    ),
    (
        "lottery_beacon_waiting_draws",
        "gauge",
        "Beacon draws started and not written yet: normally for up to one period plus a fetch; longer while the beacon fails",
    ),
    (
        "lottery_beacon_wait_seconds",
        "histogram",
        "From a beacon draw's list being fixed to its round verified",
    ),
    (
        "lottery_events_cancelled_total",
        "counter",
        "Events cancelled by their creators",
    ),
    (
        "lottery_scheduled_draws",
        "gauge",
        "Draws due within the next 30 s held in the timer queue",
    ),
    (
        "lottery_unreadable_rows_total",
        "counter",
        "Rows the store could not read, by table",
    ),
    (
        "lottery_claim_details_erased_total",
        "counter",
        "Claims whose delivery details were erased after their keeping time",
    ),
    (
        "lottery_draw_results_cache_total",
        "counter",
        "Published-results cache lookups, by kind and result",
    ),
    (
        "lottery_event_views_total",
        "counter",
        "Event views, by where they were answered from",
    ),
    (
        "lottery_notices_pending",
        "gauge",
        "Notices (results, cancellations, claim reminders) waiting to be sent",
    ),
    (
        "lottery_notices_total",
        "counter",
        "Notices settled (sent, retried, failed, skipped), by result and reason",
    ),
    (
        "lottery_wechat_token_fetches_total",
        "counter",
        "WeChat access tokens fetched by this process",
    ),
    (
        "lottery_rate_limited_total",
        "counter",
        "Requests refused 429, by limit kind",
    ),
    (
        "lottery_rate_limit_errors_total",
        "counter",
        "Rate-limit checks let through because Redis did not answer",
    ),
    (
        "lottery_dependency_up",
        "gauge",
        "1 when a dependency (database, cache) answered at the last scrape, else 0",
    ),
    (
        "lottery_shutting_down",
        "gauge",
        "1 once a graceful shutdown has begun",
    ),
    (
        "lottery_pool_connections",
        "gauge",
        "Connections of a pool, by pool and state (in_use, idle)",
    ),
    ("lottery_pool_max_connections", "gauge", "A pool's size"),
    (
        "lottery_pool_waits_total",
        "counter",
        "Connection checkouts that had to wait, by pool",
    ),
    (
        "lottery_pool_timeouts_total",
        "counter",
        "Connection checkouts that timed out, by pool",
    ),
    (
        "lottery_cluster_members",
        "gauge",
        "Cluster mode: live instances this one sees in etcd (itself included)",
    ),
    (
        "lottery_cluster_owned_events",
        "gauge",
        "Cluster mode: events this instance owns in etcd",
    ),
    (
        "lottery_cluster_claims_total",
        "counter",
        "Cluster mode: claims of unowned events in etcd, by result (claimed, owned_elsewhere)",
    ),
    (
        "lottery_cluster_lease_losses_total",
        "counter",
        "Cluster mode: times this instance gave up every event because its lease was not renewed",
    ),
    (
        "lottery_cluster_fenced_total",
        "counter",
        "Cluster mode: event actors stopped because a newer owner holds their event",
    ),
    (
        "lottery_memory_trim_duration_seconds",
        "histogram",
        "Time to hand the allocator's freed pages back to the system (every 10 s, glibc on Linux)",
    ),
    (
        "lottery_forwarded_requests_total",
        "counter",
        "Cluster mode: writes forwarded to their event's owner, by result",
    ),
];

/// Registers the help texts with the recorder (once per process).
pub fn describe() {
    for (name, kind, help) in METRICS {
        let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
        match (*kind, unit) {
            ("counter", _) => describe_counter!(*name, *help),
            ("gauge", _) => describe_gauge!(*name, *help),
            (_, Some(unit)) => describe_histogram!(*name, unit, *help),
            _ => describe_histogram!(*name, *help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::METRICS;

    /// Every metric the code records is described here, once, with a name
    /// Prometheus' conventions accept.
    #[test]
    fn every_recorded_metric_is_described() {
        // Every source file, read at test time: a file that moves or a new
        // one that records a metric is covered without a list to keep.
        let mut sources = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        assert!(sources.len() > 50, "the sources were found");
        let described: Vec<&str> = METRICS.iter().map(|(name, _, _)| *name).collect();
        for source in &sources {
            for name in source.split('"').filter(|s| {
                s.len() > "lottery_".len()
                    && s.starts_with("lottery_")
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            }) {
                assert!(
                    described.contains(&name),
                    "{name} has no help text in the catalog"
                );
            }
        }
        for (name, kind, _) in METRICS {
            assert_eq!(
                described.iter().filter(|n| *n == name).count(),
                1,
                "{name} twice"
            );
            assert_eq!(
                *kind == "counter",
                name.ends_with("_total"),
                "{name}: counters end in _total"
            );
        }
    }

    /// The alert rules and the dashboard (docs/ops) use only metrics that
    /// exist, so a renamed metric cannot silently blind them.
    #[test]
    fn alerts_and_the_dashboard_name_only_real_metrics() {
        let dashboard = include_str!("../../docs/ops/dashboard.json");
        let parsed: serde_json::Value = serde_json::from_str(dashboard).expect("valid JSON");
        assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 10));
        let alerts = include_str!("../../docs/ops/alerts.yml");
        let described: Vec<&str> = METRICS.iter().map(|(name, _, _)| *name).collect();
        for text in [dashboard, alerts] {
            let names = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("lottery_"));
            for name in names {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .filter(|base| described.contains(base))
                    .unwrap_or(name);
                assert!(described.contains(&base), "{name} is not a metric of ours");
            }
        }
    }
}
