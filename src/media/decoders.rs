//! The decoding pool: up to `LOTTERY_MEDIA_WORKERS` decoding processes
//! (`decoder_child`, the same binary as `lottery decode-images`), started
//! when first needed and kept for the next upload. At most that many
//! images are decoded at once; an upload waits at most `DECODER_WAIT` for
//! a free process (then 503, to retry). A process that fails, answers
//! nonsense or takes longer than `DECODE_TIMEOUT` is killed and replaced.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::decoder_child;
use super::decoder_wire::{self, Refusal};
use super::process::Processed;
use crate::domain::media::{ImageLimits, Upload};
use crate::error::{AppError, AppResult};

/// How long an upload waits for a decoding process before 503.
const DECODER_WAIT: Duration = Duration::from_secs(10);

/// How long one image may take. A decoding process runs at the least
/// priority, so on a CPU saturated by joins it may wait; past this the
/// upload is 503 (try again) and the process is replaced.
const DECODE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a new process has to say it is a decoder.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Decoders {
    program: PathBuf,
    idle: Mutex<Vec<Decoder>>,
    permits: Arc<Semaphore>,
}

struct Decoder {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Decoders {
    /// A pool running `program` (this server's own binary, or what
    /// `LOTTERY_MEDIA_DECODER` names). Nothing is started yet.
    pub fn new(program: PathBuf, workers: usize) -> Result<Self, String> {
        if !program.is_file() {
            return Err(format!(
                "LOTTERY_MEDIA_DECODER: {} is not a file",
                program.display()
            ));
        }
        Ok(Self {
            program,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(workers.max(1))),
        })
    }

    /// Checks and re-encodes an upload in a decoding process.
    pub async fn process(
        &self,
        format: Upload,
        limits: ImageLimits,
        bytes: &[u8],
    ) -> AppResult<Processed> {
        let _permit = tokio::time::timeout(DECODER_WAIT, self.permits.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| AppError::internal("the decoding pool is closed"))?;
        let frame = decoder_wire::request_frame(format, &limits, bytes);
        let mut decoder = match self.take_idle() {
            Some(decoder) => decoder,
            None => self.start().await?,
        };
        let mut asked = tokio::time::timeout(DECODE_TIMEOUT, decoder.ask(&frame)).await;
        if let Ok(Err(Failure::NotSent(err))) = &asked {
            // An idle decoder that died just now (killed, say) never saw
            // the image: that is not the image's fault. Once more, anew.
            tracing::warn!(error = %err, "an idle decoding process was gone; starting another");
            decoder = self.start().await?;
            asked = tokio::time::timeout(DECODE_TIMEOUT, decoder.ask(&frame)).await;
        }
        match asked {
            Ok(Ok(answer)) => {
                self.put_idle(decoder);
                answer.map_err(AppError::from)
            }
            Ok(Err(err)) => {
                // Killed (out of memory, say) or answering nonsense: an
                // image that brings a decoder down is not readable here.
                metrics::counter!("lottery_media_decoder_failures_total", "why" => "failed")
                    .increment(1);
                tracing::warn!(error = %err, "a decoding process failed; it is replaced");
                Err(Refusal::Unreadable(
                    "the image cannot be read: it is damaged or incomplete".into(),
                )
                .into())
            }
            Err(_) => {
                metrics::counter!("lottery_media_decoder_failures_total", "why" => "timeout")
                    .increment(1);
                tracing::warn!("a decoding process took too long; it is replaced");
                Err(busy())
            }
        }
        // A decoder not put back is dropped here, which kills it.
    }

    fn take_idle(&self) -> Option<Decoder> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut decoder) = idle.pop() {
            // One that died while idle (the OOM killer, an operator) is
            // passed over; the answer would be a broken pipe.
            if matches!(decoder.child.try_wait(), Ok(None)) {
                return Some(decoder);
            }
        }
        None
    }

    fn put_idle(&self, decoder: Decoder) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(decoder);
    }

    async fn start(&self) -> AppResult<Decoder> {
        let mut child = Command::new(&self.program)
            .arg(decoder_child::ARG)
            // The decoder needs nothing of ours: no database URL, no keys.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                AppError::internal(format!(
                    "cannot start the decoder {}: {e}",
                    self.program.display()
                ))
            })?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(AppError::internal("a decoding process has no pipes"));
        };
        let mut decoder = Decoder {
            child,
            input,
            output: BufReader::new(output),
        };
        let mut hello = vec![0u8; decoder_wire::HELLO.len()];
        let said = tokio::time::timeout(HELLO_TIMEOUT, decoder.output.read_exact(&mut hello)).await;
        if !matches!(said, Ok(Ok(_))) || hello != decoder_wire::HELLO {
            return Err(AppError::internal(format!(
                "{} did not start as a decoder (LOTTERY_MEDIA_DECODER)",
                self.program.display()
            )));
        }
        metrics::counter!("lottery_media_decoders_started_total").increment(1);
        Ok(decoder)
    }
}

/// Why a decoder gave no answer.
enum Failure {
    /// The request did not reach it (it was gone).
    NotSent(String),
    /// It had the image and then died or answered nonsense.
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotSent(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

impl Decoder {
    async fn ask(&mut self, frame: &[u8]) -> Result<Result<Processed, Refusal>, Failure> {
        let sent = match self.input.write_all(frame).await {
            Ok(()) => self.input.flush().await,
            Err(e) => Err(e),
        };
        sent.map_err(|e| Failure::NotSent(format!("cannot send an image: {e}")))?;
        let mut head = [0u8; 4];
        self.output
            .read_exact(&mut head)
            .await
            .map_err(|e| Failure::Failed(format!("no answer: {e}")))?;
        let len = decoder_wire::frame_len(head).map_err(Failure::Failed)?;
        let mut body = vec![0u8; len];
        self.output
            .read_exact(&mut body)
            .await
            .map_err(|e| Failure::Failed(format!("a short answer: {e}")))?;
        decoder_wire::read_answer(&body).map_err(Failure::Failed)
    }
}

fn busy() -> AppError {
    AppError::Unavailable("uploads are busy; try again shortly".into())
}
