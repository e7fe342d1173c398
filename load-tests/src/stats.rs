//! What one phase measured: successes, errors by label, latencies in
//! HdrHistograms (constant memory whatever the phase's length, merged
//! across connections and threads without losing the tail), the same per
//! second for the timeline, and how well a paced phase kept its schedule.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::pace::Rate;

/// Latencies are kept in microseconds, up to an hour (a paced phase far
/// above the server's rate builds up a long backlog); longer ones are
/// recorded as an hour.
const MAX_US: u64 = 3_600_000_000;

/// Three significant digits for a phase's percentiles (0.1 %); two for a
/// second's p99 in the timeline (1 %, a tenth of the memory).
fn histogram(digits: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, digits).expect("histogram bounds")
}

fn record(h: &mut Histogram<u64>, latency: Duration) {
    h.saturating_record(latency.as_micros().min(MAX_US as u128) as u64);
}

/// One stretch of the timeline (a second, or `Report::resolution`):
/// latencies of what succeeded in it, and failures.
#[derive(Clone)]
pub struct Stretch {
    pub ok: Histogram<u64>,
    pub failed: u64,
}

/// A point of the timeline: successes and failures per second of the
/// stretch covered, and the p99 latency of the successes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub rate: f64,
    pub p99_ms: f64,
    pub failed: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50: ms(0.50),
            p90: ms(0.90),
            p99: ms(0.99),
            p99_9: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }

    fn json(&self) -> Value {
        json!({"p50": self.p50, "p90": self.p90, "p99": self.p99, "p99_9": self.p99_9, "max": self.max})
    }

    fn text(&self) -> String {
        format!(
            "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
            self.p50, self.p90, self.p99, self.p99_9, self.max
        )
    }
}

/// How a paced phase (`--rate`) kept to its schedule.
#[derive(Clone, Debug, Default)]
pub struct Lag {
    /// Items taken after their intended time: no connection was free then.
    pub behind: u64,
    pub max_behind: Duration,
    /// Items due before the phase ended (some may never have been sent).
    pub scheduled: u64,
}

/// What one phase measured (or one generator thread's share of it, merged
/// into the phase's at the end).
pub struct Report {
    pub name: String,
    /// When the phase began: the timeline's second 0.
    pub started: Instant,
    pub elapsed: Duration,
    /// Latency of each item answered with success: from its first
    /// request's send (or intended time, when paced and late) to its last
    /// answer.
    pub latency: Histogram<u64>,
    /// Latency of every answered request by step (a flow of several
    /// requests per item, as in share-storm, reports each step apart).
    pub steps: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: BTreeMap<String, u64>,
    /// Indices of the items whose request was answered with success.
    pub succeeded: Vec<usize>,
    /// The timeline, in stretches of `resolution` from `started`.
    pub stretches: Vec<Stretch>,
    pub resolution: Duration,
    /// The schedule's rate and how it was kept, for a paced phase.
    pub paced: Option<(Rate, Lag)>,
}

impl Report {
    pub fn new(name: &str, started: Instant) -> Self {
        Self {
            name: name.to_string(),
            started,
            elapsed: Duration::ZERO,
            latency: histogram(3),
            steps: BTreeMap::new(),
            errors: BTreeMap::new(),
            succeeded: Vec::new(),
            stretches: Vec::new(),
            resolution: Duration::from_secs(1),
            paced: None,
        }
    }

    /// The same with a finer timeline: phases that last about a second
    /// (share-storm's) would be one point each.
    pub fn with_resolution(self, resolution: Duration) -> Self {
        Self { resolution, ..self }
    }

    fn stretch(&mut self, at: Instant) -> &mut Stretch {
        let since = at.saturating_duration_since(self.started);
        let i = (since.as_nanos() / self.resolution.as_nanos().max(1)) as usize;
        while self.stretches.len() <= i {
            self.stretches.push(Stretch {
                ok: histogram(2),
                failed: 0,
            });
        }
        &mut self.stretches[i]
    }

    /// An item that succeeded: `item` (its index, when the phase has
    /// items), its latency, and when it was answered.
    pub fn succeeded(&mut self, item: Option<usize>, latency: Duration, done: Instant) {
        record(&mut self.latency, latency);
        record(&mut self.stretch(done).ok, latency);
        self.succeeded.extend(item);
    }

    /// One answered request of step `step`.
    pub fn step(&mut self, step: &'static str, latency: Duration) {
        record(
            self.steps.entry(step).or_insert_with(|| histogram(3)),
            latency,
        );
    }

    /// An item that failed at `at`: counted under `label` and in the
    /// timeline's failures.
    pub fn failed(&mut self, label: String, at: Instant) {
        *self.errors.entry(label).or_default() += 1;
        self.stretch(at).failed += 1;
    }

    /// An item answered with a refusal the scenario expects (a full event's
    /// 409): counted under `label`, not a failure of the server.
    pub fn refused(&mut self, label: String) {
        *self.errors.entry(label).or_default() += 1;
    }

    /// Adds another share of the same phase (same start and resolution).
    pub fn merge(&mut self, other: Report) {
        self.latency.add(&other.latency).expect("same bounds");
        for (step, h) in other.steps {
            match self.steps.get_mut(step) {
                Some(mine) => mine.add(&h).expect("same bounds"),
                None => {
                    self.steps.insert(step, h);
                }
            }
        }
        for (label, n) in other.errors {
            *self.errors.entry(label).or_default() += n;
        }
        self.succeeded.extend(other.succeeded);
        for (i, s) in other.stretches.into_iter().enumerate() {
            if i < self.stretches.len() {
                self.stretches[i].ok.add(&s.ok).expect("same bounds");
                self.stretches[i].failed += s.failed;
            } else {
                self.stretches.push(s);
            }
        }
        if let (Some((_, mine)), Some((_, theirs))) = (&mut self.paced, other.paced) {
            mine.behind += theirs.behind;
            mine.max_behind = mine.max_behind.max(theirs.max_behind);
        }
    }

    pub fn ok(&self) -> usize {
        self.latency.len() as usize
    }

    pub fn rate(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.latency)
    }

    /// Per stretch of `resolution` of the phase. A final stretch shorter
    /// than a quarter of it is left out: too few requests to say anything.
    pub fn timeline(&self) -> Vec<Point> {
        let step = self.resolution.as_secs_f64();
        let elapsed = self.elapsed.as_secs_f64();
        let whole = ((elapsed / step).ceil() as usize).max(1);
        (0..whole)
            .map(|i| ((elapsed - i as f64 * step).min(step), self.stretches.get(i)))
            .filter(|(span, _)| *span >= step / 4.0)
            .map(|(span, s)| match s {
                Some(s) => Point {
                    rate: s.ok.len() as f64 / span,
                    p99_ms: s.ok.value_at_quantile(0.99) as f64 / 1000.0,
                    failed: s.failed as f64 / span,
                },
                None => Point {
                    rate: 0.0,
                    p99_ms: 0.0,
                    failed: 0.0,
                },
            })
            .collect()
    }

    /// The human report: one line, then one per step when an item is a
    /// flow of several requests.
    pub fn text(&self) -> Vec<String> {
        let mut line = format!(
            "{}: {} ok in {:.2}s = {:.0} req/s; latency ms {}; errors {:?}",
            self.name,
            self.ok(),
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.percentiles().text(),
            self.errors
        );
        if let Some((rate, lag)) = &self.paced {
            line += &format!(
                "; paced at {}/s: {} scheduled, {} behind schedule (at most {:.2} ms), {} not sent",
                rate.per_second(),
                lag.scheduled,
                lag.behind,
                lag.max_behind.as_secs_f64() * 1000.0,
                self.unsent()
            );
        }
        let mut lines = vec![line];
        if self.steps.len() > 1 {
            for (step, h) in &self.steps {
                lines.push(format!(
                    "  {}/{step}: {} answered = {:.0} req/s; latency ms {}",
                    self.name,
                    h.len(),
                    h.len() as f64 / self.elapsed.as_secs_f64().max(1e-9),
                    Percentiles::of(h).text(),
                ));
            }
        }
        lines
    }

    /// Items due before the end of a paced phase that were never sent.
    fn unsent(&self) -> u64 {
        let sent = self.ok() as u64 + self.errors.values().sum::<u64>();
        self.paced
            .as_ref()
            .map_or(0, |(_, lag)| lag.scheduled.saturating_sub(sent))
    }

    /// The phase in the `--json` report (load-tests/README.md gives the
    /// shape).
    pub fn json(&self) -> Value {
        let seconds = self.elapsed.as_secs_f64();
        let steps: serde_json::Map<String, Value> = self
            .steps
            .iter()
            .map(|(step, h)| {
                let v = json!({
                    "count": h.len(),
                    "rate": h.len() as f64 / seconds.max(1e-9),
                    "latency_ms": Percentiles::of(h).json(),
                });
                (step.to_string(), v)
            })
            .collect();
        json!({
            "name": self.name,
            "count": self.ok(),
            "errors": self.errors,
            "seconds": seconds,
            "rate": self.rate(),
            "latency_ms": self.percentiles().json(),
            "steps": steps,
            "schedule": self.paced.as_ref().map(|(rate, lag)| json!({
                "rate": rate.per_second(),
                "scheduled": lag.scheduled,
                "behind": lag.behind,
                "max_behind_ms": lag.max_behind.as_secs_f64() * 1000.0,
                "unsent": self.unsent(),
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_timeline_and_merge() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut a = Report::new("p", t0);
        let mut b = Report::new("p", t0);
        for i in 0..99 {
            a.succeeded(Some(i), ms(1), t0 + ms(100));
        }
        b.succeeded(Some(99), ms(500), t0 + ms(1500));
        b.failed("HTTP 503 code 50300".into(), t0 + ms(1600));
        a.merge(b);
        a.elapsed = ms(2000);
        assert_eq!(a.ok(), 100);
        let p = a.percentiles();
        assert!((p.p50 - 1.0).abs() < 0.01, "{p:?}");
        assert!((p.max - 500.0).abs() < 0.5, "{p:?}");
        let t = a.timeline();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].rate, t[0].failed), (99.0, 0.0));
        assert_eq!((t[1].rate, t[1].failed), (1.0, 1.0));
        assert!((t[1].p99_ms - 500.0).abs() < 5.0);
        assert_eq!(a.errors["HTTP 503 code 50300"], 1);
    }
}
