//! The fixed-arrival-rate mode (`--rate N/s`): an open-loop schedule and
//! where each request's latency starts.
//!
//! Closed-loop, each connection sends its next request only once the last
//! one was answered, so while the server stalls the generator stops asking
//! and the stall shows in one request's latency instead of in every request
//! that should have been sent meanwhile: Gil Tene's "coordinated omission".
//! wrk2 (giltene/wrk2, README, "A note about wrk2's latency measurement
//! technique") avoids it with a constant-throughput plan and latency
//! measured "from the time the transmission *should* have occurred"; so
//! does this mode. Item i of a phase is due at t0 + i/rate, whichever
//! connection is free takes it, and a connection that is late still sends
//! (nothing is skipped): the items that waited for a connection carry the
//! wait in their latency.

use std::str::FromStr;
use std::time::{Duration, Instant};

/// Requests per second of the schedule: `500/s` or `500` (decimals allowed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate(f64);

/// Above this the generator's clock reads alone would not keep up.
const MAX_RATE: f64 = 10_000_000.0;

impl Rate {
    pub fn per_second(self) -> f64 {
        self.0
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let number = text.strip_suffix("/s").unwrap_or(text);
        match number.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 && r <= MAX_RATE => Ok(Rate(r)),
            _ => Err(format!(
                "{text:?} is not a rate: a number of requests a second above 0 (and at most {MAX_RATE}), as 500/s or 500"
            )),
        }
    }
}

/// The intended send times of a phase's items.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub rate: Rate,
    pub start: Instant,
}

impl Schedule {
    /// When item `i` is due: t0 + i/rate (computed from i, so rounding does
    /// not accumulate over a long phase).
    pub fn intended(&self, i: usize) -> Instant {
        self.start + Duration::from_secs_f64(i as f64 / self.rate.0)
    }

    /// How many items fall due before `end`.
    pub fn due_before(&self, end: Instant) -> u64 {
        let span = end.saturating_duration_since(self.start).as_secs_f64();
        (span * self.rate.0).ceil() as u64
    }
}

/// Where an item's latency starts. Taken after its intended time (no
/// connection was free then: the server was still busy with earlier
/// items), it counts from the intended time, so the wait is in it. Taken
/// early, the connection slept until the intended time and sent then; the
/// gap between the two is only the timer's wake-up (tokio's timer rounds
/// up to the millisecond, wrk2 notes the same ±1 ms), not the server's, so
/// it counts from the send.
pub fn clock_start(intended: Instant, taken: Instant, sent: Instant) -> Instant {
    if taken > intended {
        intended
    } else {
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_with_or_without_per_second() {
        assert_eq!("500/s".parse::<Rate>(), Ok(Rate(500.0)));
        assert_eq!("500".parse::<Rate>(), Ok(Rate(500.0)));
        assert_eq!("2.5/s".parse::<Rate>(), Ok(Rate(2.5)));
        for bad in ["0", "-5/s", "fast", "500/m", "NaN", "inf", "", "/s", "1e9"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn intended_times_are_evenly_spaced_from_the_start() {
        let start = Instant::now();
        let s = Schedule {
            rate: Rate(400.0),
            start,
        };
        assert_eq!(s.intended(0), start);
        assert_eq!(s.intended(1) - start, Duration::from_micros(2500));
        // No drift over many items: item 400·60 is due a minute in.
        assert_eq!(s.intended(24_000) - start, Duration::from_secs(60));
        assert_eq!(s.due_before(start + Duration::from_secs(2)), 800);
        assert_eq!(s.due_before(start), 0);
    }

    /// One connection, 100 requests a second, a server that answers in
    /// 1 ms but stalls 200 ms on request 0. Replays the worker's rule over
    /// (intended, taken, sent, done) times: each request is taken when the
    /// previous one is answered, sent at once or at its intended time.
    fn replay(stall_ms: u64) -> Vec<Duration> {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let s = Schedule {
            rate: Rate(100.0),
            start: t0,
        };
        let mut free_at = t0;
        (0..40)
            .map(|i| {
                let intended = s.intended(i);
                let taken = free_at;
                let sent = taken.max(intended);
                let done = sent + if i == 0 { ms(stall_ms) } else { ms(1) };
                free_at = done;
                done - clock_start(intended, taken, sent)
            })
            .collect()
    }

    #[test]
    fn a_request_waiting_behind_a_stall_carries_the_stall() {
        let latencies = replay(200);
        let ms = Duration::from_millis;
        assert_eq!(latencies[0], ms(200));
        // Request 1 was due at 10 ms and could leave only at 200 ms: its
        // latency is 191 ms, not the 1 ms its own exchange took.
        assert_eq!(latencies[1], ms(191));
        assert_eq!(latencies[10], ms(110));
        // Request i ≥ 1 leaves at 200 + (i − 1) ms: 200 − 9i ms late, so
        // 12 of the 40 (the stalled one too) took 100 ms or more; a
        // closed-loop count would show one.
        assert_eq!(latencies.iter().filter(|l| **l >= ms(100)).count(), 12);
        // Once the backlog is gone the latency is the exchange again.
        assert_eq!(latencies[39], ms(1));
        // Without the stall no request waited for another.
        assert!(replay(1).iter().all(|l| *l == ms(1)));
    }

    #[test]
    fn an_on_time_request_counts_from_its_send() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Taken 5 ms early, woken 1 ms late by the timer: from the send.
        assert_eq!(
            clock_start(t0 + ms(10), t0 + ms(5), t0 + ms(11)),
            t0 + ms(11)
        );
        // Taken 3 ms late: from the intended time.
        assert_eq!(
            clock_start(t0 + ms(10), t0 + ms(13), t0 + ms(13)),
            t0 + ms(10)
        );
    }
}
