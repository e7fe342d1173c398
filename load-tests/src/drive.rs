//! Running a timed phase: workers on kept-open connections (`wire.rs`),
//! closed-loop (each sends its next item once the last one is answered)
//! or paced at a fixed arrival rate (`pace.rs`), with a progress line
//! every second on stderr.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::pace::{clock_start, Rate, Schedule};
use crate::stats::{Lag, Report};
use crate::wire::Conn;

/// Where a phase sends its load: the server's address and how many OS
/// threads the generator runs (each a single-threaded runtime with its
/// share of the connections, as wrk's `-t` does).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub threads: usize,
}

/// How much of a phase to run: `concurrency` connections until the items
/// (`count`, or without end when None) or `seconds` run out, closed-loop
/// or at `pace` items a second; its timeline in stretches of `resolution`.
#[derive(Clone, Copy)]
pub struct Load {
    pub concurrency: usize,
    pub seconds: u64,
    pub count: Option<usize>,
    pub pace: Option<Rate>,
    pub resolution: Duration,
}

/// Runs `op` over the phase's items with `load.concurrency` workers, each
/// on its own kept-open connection. `op` answers Ok(()) for success or
/// Err(label) to count under that label; the latency of every request it
/// sends is kept by step (`Conn::send`).
pub async fn drive<F>(name: &str, target: Target, load: Load, op: F) -> Report
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    drive_until(name, target, load, None, op).await
}

/// `drive`, ending early once `stop` is set (a phase that runs beside
/// another, as long as that one does: the views during `million`'s joins).
pub async fn drive_until<F>(
    name: &str,
    target: Target,
    load: Load,
    stop: Option<Arc<AtomicBool>>,
    op: F,
) -> Report
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        started,
        deadline: started + Duration::from_secs(load.seconds),
        count: load.count,
        schedule: load.pace.map(|rate| Schedule {
            rate,
            start: started,
        }),
        name: name.to_string(),
        resolution: load.resolution,
        stop,
    });
    let progress = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = shared.done.load(Ordering::Relaxed);
                eprintln!(
                    "  {}: {:>5.1}s {now} ok ({}/s), {} errors",
                    shared.name,
                    shared.started.elapsed().as_secs_f64(),
                    now - last,
                    shared.failed.load(Ordering::Relaxed)
                );
                last = now;
            }
        })
    };
    let concurrency = load.concurrency.max(1);
    let threads = target.threads.clamp(1, concurrency);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            // Connections t, t + threads, t + 2·threads, … live on thread t.
            let workers = (t..concurrency).step_by(threads).count();
            let (op, shared) = (op.clone(), shared.clone());
            std::thread::spawn(move || run_thread(target.addr, workers, op, shared))
        })
        .collect();
    let shares = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("generator threads");
    let mut total = new_report(&shared);
    for share in shares {
        total.merge(share);
    }
    let ended = Instant::now();
    total.elapsed = ended - started;
    if let (Some((_, lag)), Some(schedule)) = (&mut total.paced, shared.schedule) {
        let due = schedule.due_before(ended.min(shared.deadline));
        lag.scheduled = load.count.map_or(due, |n| due.min(n as u64));
    }
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
    schedule: Option<Schedule>,
    name: String,
    resolution: Duration,
    stop: Option<Arc<AtomicBool>>,
}

fn new_report(shared: &Shared) -> Report {
    let mut report = Report::new(&shared.name, shared.started).with_resolution(shared.resolution);
    report.paced = shared.schedule.map(|s| (s.rate, Lag::default()));
    report
}

/// One generator thread: `workers` connections on a single-threaded
/// runtime, polled together by one task (no spawning, no work stealing,
/// no cross-thread wake-ups on the hot path), recording into one report.
fn run_thread<F>(addr: SocketAddr, workers: usize, op: Arc<F>, shared: Arc<Shared>) -> Report
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    let report = Rc::new(RefCell::new(new_report(&shared)));
    runtime.block_on(futures::future::join_all(
        (0..workers).map(|_| worker(addr, op.clone(), shared.clone(), report.clone())),
    ));
    Rc::try_unwrap(report)
        .ok()
        .expect("workers done")
        .into_inner()
}

async fn worker<F>(addr: SocketAddr, op: Arc<F>, shared: Arc<Shared>, report: Rc<RefCell<Report>>)
where
    F: AsyncFn(usize, &mut Conn) -> Result<(), String>,
{
    let mut conn = Conn::new(addr);
    // Closed-loop, the deadline is checked against the last answer's time
    // (no extra clock read per item).
    let mut now = Instant::now();
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if shared.count.is_some_and(|n| i >= n)
            || shared
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            break;
        }
        // Paced: wait for the item's time, or send at once when late. The
        // phase ends at its deadline even with a backlog (what was due and
        // not sent is reported as such).
        let mut intended = None;
        if let Some(schedule) = shared.schedule {
            let due = schedule.intended(i);
            let taken = Instant::now();
            if due >= shared.deadline || taken >= shared.deadline {
                break;
            }
            if taken < due {
                tokio::time::sleep_until(due.into()).await;
            } else if let Some((_, lag)) = &mut report.borrow_mut().paced {
                lag.behind += 1;
                lag.max_behind = lag.max_behind.max(taken - due);
            }
            intended = Some((due, taken));
        } else if now >= shared.deadline {
            break;
        }
        conn.begin();
        let result = op(i, &mut conn).await;
        let exchanges = conn.exchanges();
        let start = match (exchanges.first(), intended) {
            (Some(first), Some((due, taken))) => clock_start(due, taken, first.sent),
            (Some(first), None) => first.sent,
            (None, _) => Instant::now(),
        };
        let mut r = report.borrow_mut();
        for (k, e) in exchanges.iter().enumerate() {
            // An item's first request counts from the item's start.
            let from = if k == 0 { start } else { e.sent };
            r.step(e.step, e.answered - from);
        }
        now = exchanges.last().map_or_else(Instant::now, |e| e.answered);
        match result {
            Ok(()) => {
                r.succeeded(Some(i), now - start, now);
                shared.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(label) => {
                r.failed(label, now);
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;

    /// A server on one connection that answers `GET /` with 200 after
    /// 1 ms, and after `stall` the first time.
    fn slow_server(stall: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut out = stream;
            let mut first = true;
            let mut line = String::new();
            loop {
                // A request ends with an empty line (no body is sent).
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line != "\r\n" {
                    continue;
                }
                std::thread::sleep(if first {
                    stall
                } else {
                    Duration::from_millis(1)
                });
                first = false;
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        addr
    }

    async fn run(pace: Option<Rate>) -> Report {
        let target = Target {
            addr: slow_server(Duration::from_millis(300)),
            threads: 1,
        };
        // Items due over the first second; the second one is a margin
        // for a slow machine to send them all.
        let load = Load {
            concurrency: 1,
            seconds: 2,
            count: Some(50),
            pace,
            resolution: Duration::from_secs(1),
        };
        drive("slow", target, load, async |_, conn: &mut Conn| {
            conn.get("get", "/", None).await?.ok()
        })
        .await
    }

    fn slow(report: &Report) -> u64 {
        report.latency.count_between(100_000, u64::MAX)
    }

    /// The coordinated-omission correction against a real socket: at
    /// 50/s on one connection, the 300 ms stall of the first request
    /// delays the 14 due during it (every 20 ms), and their latencies must
    /// show it; closed-loop only the stalled request is slow.
    #[tokio::test]
    async fn paced_latency_counts_the_wait_behind_a_stall() {
        let paced = run(Some("50/s".parse().unwrap())).await;
        assert_eq!(paced.ok(), 50);
        // Requests 1..=9 were due at 20..180 ms and left at about 300 ms.
        assert!(slow(&paced) >= 9, "{} slow", slow(&paced));
        assert!(paced.percentiles().max >= 300.0);
        let (_, lag) = paced.paced.as_ref().unwrap();
        assert!(lag.behind >= 14, "{lag:?}");
        assert_eq!(lag.scheduled, 50);
        let closed = run(None).await;
        assert_eq!(closed.ok(), 50);
        assert_eq!(slow(&closed), 1);
    }
}
