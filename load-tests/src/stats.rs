//! Measuring a phase: throughput, latency percentiles, error counts, and a
//! progress line every second while it runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one phase measured.
#[derive(Default)]
pub struct Report {
    pub name: String,
    pub latencies_us: Vec<u64>,
    /// When each success finished, in ms from the phase's start (same
    /// order as `latencies_us`), for the timeline.
    pub finished_ms: Vec<u32>,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Indices of the items whose request was answered with success.
    pub succeeded: Vec<usize>,
}

impl Report {
    pub fn ok(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
    }

    /// Per second of the phase: (successes per second, p99 ms). A final
    /// stretch shorter than a quarter second is left out: too few requests
    /// to say anything.
    pub fn timeline(&self) -> Vec<(f64, f64)> {
        let elapsed = self.elapsed.as_secs_f64();
        let seconds = (elapsed.ceil() as usize).max(1);
        let mut buckets: Vec<Vec<u64>> = vec![vec![]; seconds];
        for (&at, &latency) in self.finished_ms.iter().zip(&self.latencies_us) {
            let second = (at as usize / 1000).min(seconds - 1);
            buckets[second].push(latency);
        }
        buckets
            .into_iter()
            .enumerate()
            .map(|(i, b)| ((elapsed - i as f64).min(1.0), b))
            .filter(|(span, _)| *span >= 0.25)
            .map(|(span, mut b)| {
                b.sort_unstable();
                (b.len() as f64 / span, Self::percentile(&b, 0.99))
            })
            .collect()
    }

    pub fn print(&self) {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        println!(
            "{}: {} ok in {:.2}s = {:.0} req/s; latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}; errors {:?}",
            self.name,
            self.ok(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            Self::percentile(&sorted, 0.50),
            Self::percentile(&sorted, 0.95),
            Self::percentile(&sorted, 0.99),
            Self::percentile(&sorted, 1.0),
            self.errors
        );
    }
}

/// Runs `op` over `count` items (or forever when `count` is None) with
/// `concurrency` workers until the items or `seconds` run out. `op` answers
/// Ok(()) for success or Err(label) to count under that label.
pub async fn drive<F, Fut>(
    name: &str,
    concurrency: usize,
    seconds: u64,
    count: Option<usize>,
    op: F,
) -> Report
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let progress = {
        let (done, failed, name) = (done.clone(), failed.clone(), name.to_string());
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = done.load(Ordering::Relaxed);
                eprintln!(
                    "  {name}: {:>5.1}s {now} ok ({}/s), {} errors",
                    started.elapsed().as_secs_f64(),
                    now - last,
                    failed.load(Ordering::Relaxed)
                );
                last = now;
            }
        })
    };
    let mut workers = vec![];
    for _ in 0..concurrency.max(1) {
        let (op, next, done, failed) = (op.clone(), next.clone(), done.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut report = Report::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if count.is_some_and(|n| i >= n) {
                    break;
                }
                let t = Instant::now();
                match op(i).await {
                    Ok(()) => {
                        report.latencies_us.push(t.elapsed().as_micros() as u64);
                        report
                            .finished_ms
                            .push(started.elapsed().as_millis() as u32);
                        report.succeeded.push(i);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(label) => {
                        *report.errors.entry(label).or_default() += 1;
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            report
        }));
    }
    let mut total = Report {
        name: name.to_string(),
        ..Default::default()
    };
    for w in workers {
        let r = w.await.expect("worker");
        total.latencies_us.extend(r.latencies_us);
        total.finished_ms.extend(r.finished_ms);
        total.succeeded.extend(r.succeeded);
        for (k, v) in r.errors {
            *total.errors.entry(k).or_default() += v;
        }
    }
    total.elapsed = started.elapsed();
    progress.abort();
    total
}
