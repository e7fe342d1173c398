//! A decoding process: `lottery decode-images`, started by the server
//! (`decoders`), never by hand. It reads upload frames on stdin and writes
//! answers on stdout until stdin closes.
//!
//! Why a process and not threads: an upload is hostile until proven
//! otherwise, and its pixels are the costliest work the server does.
//! - CPU: Linux's scheduler shares the CPU between *sessions* first
//!   (autogroups, `sched(7)`), so threads of the server at a low niceness
//!   still took, as a group, the CPU MariaDB and the clients needed, and
//!   hot joins fell by half during a stream of uploads. A process in a
//!   session of its own with its autogroup at niceness 19 gets the CPU
//!   only when nothing else wants it; under a cgroup without autogroups,
//!   its own niceness 19 does the same.
//! - Damage: a decoder that panics, runs away with memory or is killed
//!   takes nothing of the server with it; it sees none of the server's
//!   environment (no database URL, no keys); it dies with the server.

use std::io::{Read, Write};
use std::process::ExitCode;

use super::decoder_wire::{self, Refusal};
use super::process;

/// The argument that makes the binary a decoding process.
pub const ARG: &str = "decode-images";

/// The niceness of a decoding process and of its autogroup: the least.
pub const NICENESS: i32 = 19;

pub fn run() -> ExitCode {
    step_aside();
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    if output
        .write_all(decoder_wire::HELLO)
        .and_then(|()| output.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    loop {
        let mut head = [0u8; 4];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            // The server closed the pipe: it stopped, or retired us.
            Err(_) => return ExitCode::SUCCESS,
        }
        let body = match decoder_wire::frame_len(head) {
            Ok(len) => {
                let mut body = vec![0u8; len];
                if input.read_exact(&mut body).is_err() {
                    return ExitCode::SUCCESS;
                }
                body
            }
            Err(err) => {
                eprintln!("lottery decode-images: {err}");
                return ExitCode::FAILURE;
            }
        };
        let answer = match decoder_wire::read_request(&body) {
            Ok(request) => {
                drop(body);
                // A decoder's panic is an unreadable image, not a dead
                // process: the next upload needs no new one.
                std::panic::catch_unwind(|| {
                    process::process(request.format, &request.bytes, &request.limits)
                })
                .unwrap_or_else(|_| {
                    Err(crate::error::AppError::InvalidArgument(
                        "the image cannot be read: it is damaged or incomplete".into(),
                    ))
                })
                .map_err(Refusal::from)
            }
            Err(err) => Err(Refusal::Internal(format!(
                "a request frame is malformed: {err}"
            ))),
        };
        let frame = decoder_wire::answer_frame(&answer);
        drop(answer);
        if output
            .write_all(&frame)
            .and_then(|()| output.flush())
            .is_err()
        {
            return ExitCode::SUCCESS;
        }
    }
}

/// A session of its own (a new autogroup) at the least priority, and
/// death with the server.
#[cfg(target_os = "linux")]
fn step_aside() {
    // SAFETY: each call takes only integer arguments and changes only this
    // process; a failure leaves it as it was, which is merely less polite.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::setsid();
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
    }
    // `sched(7)`, "The autogroup feature": the autogroup's own niceness
    // weighs it against the other sessions' groups. Raising it needs no
    // privilege; a kernel without autogroups has no such file.
    let _ = std::fs::write("/proc/self/autogroup", NICENESS.to_string());
}

#[cfg(not(target_os = "linux"))]
fn step_aside() {}
