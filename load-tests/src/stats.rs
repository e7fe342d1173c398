//! Measuring a phase: throughput, latency percentiles, error counts, and a
//! progress line every second while it runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wire::Conn;

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
    /// Latency of every answered request by step (a flow of several
    /// requests per item, as in share-storm, reports each step apart).
    pub steps: BTreeMap<String, Vec<u64>>,
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
        // A phase whose items are flows of several requests also reports
        // each kind of request.
        if self.steps.len() > 1 {
            for (step, latencies) in &self.steps {
                let mut sorted = latencies.clone();
                sorted.sort_unstable();
                println!(
                    "  {}/{step}: {} answered = {:.0} req/s; latency ms p50 {:.2} p99 {:.2}",
                    self.name,
                    sorted.len(),
                    sorted.len() as f64 / self.elapsed.as_secs_f64().max(1e-9),
                    Self::percentile(&sorted, 0.50),
                    Self::percentile(&sorted, 0.99),
                );
            }
        }
    }
}

/// Where a phase sends its load: the server's address and how many OS
/// threads the generator runs (each a single-threaded runtime with its
/// share of the connections, as wrk's `-t` does).
#[derive(Clone, Copy)]
pub struct Target {
    pub addr: SocketAddr,
    pub threads: usize,
}

/// Runs `op` over `count` items (or forever when `count` is None) with
/// `concurrency` workers, each on its own kept-open connection, until the
/// items or `seconds` run out. `op` answers Ok(()) for success or
/// Err(label) to count under that label; the latency of every request it
/// sends is kept by step (`Conn::send`).
pub async fn drive<F>(
    name: &str,
    target: Target,
    concurrency: usize,
    seconds: u64,
    count: Option<usize>,
    op: F,
) -> Report
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        started: Instant::now(),
        deadline: Instant::now() + Duration::from_secs(seconds),
        count,
    });
    let progress = {
        let (shared, name) = (shared.clone(), name.to_string());
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = shared.done.load(Ordering::Relaxed);
                eprintln!(
                    "  {name}: {:>5.1}s {now} ok ({}/s), {} errors",
                    shared.started.elapsed().as_secs_f64(),
                    now - last,
                    shared.failed.load(Ordering::Relaxed)
                );
                last = now;
            }
        })
    };
    let concurrency = concurrency.max(1);
    let threads = target.threads.clamp(1, concurrency);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // Connections t, t + threads, t + 2·threads, … live on thread t.
            let workers = (t..concurrency).step_by(threads).count();
            let (op, shared) = (op.clone(), shared.clone());
            std::thread::spawn(move || run_thread(target.addr, workers, op, shared))
        })
        .collect();
    let reports = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("generator thread"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("generator threads");
    let mut total = Report {
        name: name.to_string(),
        ..Default::default()
    };
    for r in reports {
        total.latencies_us.extend(r.latencies_us);
        total.finished_ms.extend(r.finished_ms);
        total.succeeded.extend(r.succeeded);
        for (k, v) in r.errors {
            *total.errors.entry(k).or_default() += v;
        }
        for (k, v) in r.steps {
            total.steps.entry(k).or_default().extend(v);
        }
    }
    total.elapsed = shared.started.elapsed();
    progress.abort();
    total
}

/// What a phase's workers share.
struct Shared {
    next: AtomicUsize,
    done: AtomicU64,
    failed: AtomicU64,
    started: Instant,
    deadline: Instant,
    count: Option<usize>,
}

/// One generator thread: `workers` connections on a single-threaded
/// runtime, polled together by one task (no spawning, no work stealing,
/// no cross-thread wake-ups on the hot path).
fn run_thread<F>(addr: SocketAddr, workers: usize, op: Arc<F>, shared: Arc<Shared>) -> Vec<Report>
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    runtime.block_on(futures::future::join_all(
        (0..workers).map(|_| worker(addr, op.clone(), shared.clone())),
    ))
}

async fn worker<F>(addr: SocketAddr, op: Arc<F>, shared: Arc<Shared>) -> Report
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String>,
{
    let mut conn = Conn::new(addr);
    let mut report = Report::default();
    // The deadline is checked against the last answer's time (no extra
    // clock read per item).
    let mut now = Instant::now();
    while now < shared.deadline {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if shared.count.is_some_and(|n| i >= n) {
            break;
        }
        conn.begin();
        match op(i, &mut conn).await {
            Ok(()) => {
                let finished = conn.last_answered.unwrap_or_else(Instant::now);
                let took = conn.item_time().unwrap_or_default();
                report.latencies_us.push(took.as_micros() as u64);
                report
                    .finished_ms
                    .push((finished - shared.started).as_millis() as u32);
                report.succeeded.push(i);
                shared.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(label) => {
                *report.errors.entry(label).or_default() += 1;
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        now = match conn.last_answered {
            Some(t) => t,
            None => Instant::now(),
        };
    }
    report.steps = std::mem::take(&mut conn.steps)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    report
}
