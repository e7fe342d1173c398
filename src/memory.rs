//! Giving freed memory back to the system. glibc's malloc keeps the pages
//! of freed chunks inside its heaps until something asks for them back:
//! after a million joins the process held about 20 % more resident memory
//! than it used (a bursty phase leaves freed holes that nothing trims), and
//! a study with `malloc_trim(0)` on the running process returned 20 MB of
//! 106 MB after 300,000 joins (docs/BENCHMARKS.md, "A million
//! participants"). So one thread per process asks for them every
//! `TRIM_EVERY`, off every request's path. Other allocators and systems
//! return pages themselves (or not at all): nothing to do there.

use std::sync::Once;
use std::time::{Duration, Instant};

/// How often freed pages are handed back. A trim walks the free chunks of
/// every arena (a few milliseconds for hundreds of megabytes, under each
/// arena's lock in turn), so it runs seldom; a burst's holes wait at most
/// this long.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Starts the trimming thread, once per process (tests start several apps).
pub fn give_back_freed_pages() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        if !trims() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("memory-trim".into())
            .spawn(|| loop {
                std::thread::sleep(TRIM_EVERY);
                let started = Instant::now();
                let released = trim();
                metrics::histogram!("lottery_memory_trim_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
                tracing::trace!(released, "freed pages handed back");
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "no memory-trim thread: freed pages stay with the allocator");
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trims() -> bool {
    true
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    // SAFETY: malloc_trim only walks and releases glibc's own free chunks;
    // it takes each arena's lock itself and may be called from any thread.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trims() -> bool {
    false
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}
