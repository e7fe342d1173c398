//! The decoding pool: a few threads of their own, at a lower scheduling
//! priority than the HTTP workers, so that a burst of uploads takes the
//! CPU the joins leave, not the CPU they need. At most `workers` images
//! are decoded at once; an upload waits at most `DECODER_WAIT` for a
//! thread (then 503, to retry).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, Semaphore};

use crate::error::{AppError, AppResult};

/// How long an upload waits for a decoder before 503.
const DECODER_WAIT: Duration = Duration::from_secs(10);

/// The decoding threads' niceness (0 is the HTTP workers'; 19 the least):
/// they get the CPU whatever the interactive path leaves.
const NICENESS: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

pub struct Decoders {
    jobs: SyncSender<Job>,
    /// One per thread: a job is sent only with a permit, so the channel
    /// (as deep as there are threads) never blocks its sender.
    permits: Arc<Semaphore>,
}

impl Decoders {
    pub fn start(workers: usize) -> Result<Self, String> {
        let workers = workers.max(1);
        let (jobs, queue) = sync_channel::<Job>(workers);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("lottery-decode-{i}"))
                .spawn(move || work(&queue))
                .map_err(|e| format!("cannot start a decoding thread: {e}"))?;
        }
        Ok(Self {
            jobs,
            permits: Arc::new(Semaphore::new(workers)),
        })
    }

    /// Runs `job` on a decoding thread and answers what it returned.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let permit = tokio::time::timeout(DECODER_WAIT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable("uploads are busy; try again shortly".into()))?
            .map_err(|_| AppError::internal("the decoding pool is closed"))?;
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _permit = permit;
                let _ = done.send(job());
            }))
            .map_err(|_| AppError::internal("the decoding pool is closed"))?;
        answer
            .await
            .map_err(|_| AppError::internal("an image's decoding stopped"))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for the next job.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking decoder must not take the thread with it.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

/// Lowers this thread's priority. Linux keeps a niceness per thread (the
/// `setpriority(2)` man page, NOTES: "a call with PRIO_PROCESS and who
/// 0 changes the calling thread only"), so the HTTP workers keep theirs.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority only reads its integer arguments; `who` 0 names
    // the calling thread. A failure leaves the priority as it was.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS) } != 0;
    if failed {
        tracing::warn!("the decoding threads keep the normal priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pool_and_a_panic_is_an_error() {
        let pool = Decoders::start(1).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("lottery-decode-0"));
        #[cfg(target_os = "linux")]
        {
            // SAFETY: getpriority only reads its integer arguments.
            let nice = pool
                .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
                .await
                .unwrap();
            assert!(nice >= NICENESS, "the decoding thread runs at nice {nice}");
        }
        let failed = pool.run(|| -> u8 { panic!("a bad image") }).await;
        assert!(failed.is_err());
        // The thread survived it.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
