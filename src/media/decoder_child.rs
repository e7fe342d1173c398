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
//!   takes nothing of the server with it (its address space is bounded
//!   and the OOM killer takes it first); it is given none of the server's
//!   environment (no database URL, no keys), and the server binary is not
//!   dumpable, so the decoder cannot read them from /proc either; it
//!   cannot gain privileges; it dies with the server.

use std::io::{Read, Write};
use std::process::ExitCode;

use super::decoder_wire::{self, Refusal};
use super::process;

/// The argument that makes the binary a decoding process.
pub const ARG: &str = "decode-images";

/// The niceness of a decoding process and of its autogroup: the least.
pub const NICENESS: i32 = 19;

pub fn run() -> ExitCode {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    // Hello first, at the server's priority: at the least one, on a CPU
    // saturated by joins, it could miss the server's wait for it.
    if output
        .write_all(decoder_wire::HELLO)
        .and_then(|()| output.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    step_aside();
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

/// The most address space a decoding process may take: image's own
/// allocation limit (two copies of the largest image at 16 bits per
/// channel, 640 MB by default) with room to spare; past it, allocations
/// fail in the decoder instead of the machine's memory running out.
/// (Linux's rlimit; other systems have no such bound here.)
#[cfg(target_os = "linux")]
const ADDRESS_SPACE: u64 = 4 << 30;

/// A session of its own (a new autogroup) at the least priority, death
/// with the server, the first in line for the OOM killer, bounded memory,
/// and no way to gain privileges.
#[cfg(target_os = "linux")]
fn step_aside() {
    // SAFETY: each call takes only integer arguments or a pointer to a
    // local, and changes only this process; a failure leaves it as it was.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        libc::setsid();
        libc::setpriority(libc::PRIO_PROCESS, 0, NICENESS);
        let limit = libc::rlimit {
            rlim_cur: ADDRESS_SPACE,
            rlim_max: ADDRESS_SPACE,
        };
        libc::setrlimit(libc::RLIMIT_AS, &limit);
    }
    // A runaway decoder, not the server, is what the OOM killer takes.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    // `sched(7)`, "The autogroup feature": the autogroup's own niceness
    // weighs it against the other sessions' groups. Raising it needs no
    // privilege; a kernel without autogroups has no such file.
    let _ = std::fs::write("/proc/self/autogroup", NICENESS.to_string());
}

#[cfg(not(target_os = "linux"))]
fn step_aside() {}
