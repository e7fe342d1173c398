//! What a run tells: human lines on stdout (the scripts read them), or,
//! with `--json`, the same lines on stderr and one JSON object on stdout
//! at the end (its shape: load-tests/README.md, "--json"). The scenarios
//! report from many places (phases, their own figures, verification
//! passes), so the report is gathered here rather than passed through
//! every function.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::stats::Report;

static JSON: AtomicBool = AtomicBool::new(false);
static GATHERED: Mutex<Gathered> = Mutex::new(Gathered {
    phases: Vec::new(),
    results: Vec::new(),
    checks: Vec::new(),
});

struct Gathered {
    phases: Vec<Value>,
    results: Vec<(String, Value)>,
    checks: Vec<String>,
}

pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// A human line: stdout, or stderr under `--json`.
pub fn line(text: &str) {
    if JSON.load(Ordering::Relaxed) {
        eprintln!("{text}");
    } else {
        println!("{text}");
    }
}

/// `say!(...)`: `format!` then `line`.
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::line(&format!($($arg)*)) };
}
pub(crate) use say;

/// A phase's report.
pub fn phase(report: &Report) {
    for text in report.text() {
        line(&text);
    }
    GATHERED.lock().unwrap().phases.push(report.json());
}

/// One of the scenario's own figures (a ratio, a draw's lag, …).
pub fn result(key: &str, value: impl Into<Value>) {
    GATHERED
        .lock()
        .unwrap()
        .results
        .push((key.to_string(), value.into()));
}

/// A verification that passed: `verify: {text}`.
pub fn verified(text: String) {
    line(&format!("verify: {text}"));
    GATHERED.lock().unwrap().checks.push(text);
}

/// The end of a run: `FAILED: …` for an error, the JSON object under
/// `--json`; the exit code.
pub fn finish(scenario: &str, outcome: Result<(), String>) -> i32 {
    if let Err(e) = &outcome {
        line(&format!("FAILED: {e}"));
    }
    if JSON.load(Ordering::Relaxed) {
        println!("{}", summary(scenario, &outcome));
    }
    i32::from(outcome.is_err())
}

fn summary(scenario: &str, outcome: &Result<(), String>) -> Value {
    let gathered = GATHERED.lock().unwrap();
    let results: Map<String, Value> = gathered.results.iter().cloned().collect();
    json!({
        "scenario": scenario,
        "command": std::env::args().collect::<Vec<_>>(),
        "ok": outcome.is_ok(),
        "phases": gathered.phases,
        "results": results,
        "verification": {
            "ok": outcome.is_ok(),
            "checks": gathered.checks,
            "error": outcome.as_ref().err(),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::stats::Lag;

    /// The JSON report of a paced phase, a figure and a check: every
    /// field the README documents is there, with its type.
    #[test]
    fn the_json_report_has_its_fields() {
        let t0 = Instant::now();
        let mut report = Report::new("hot-join", t0);
        report.succeeded(Some(0), Duration::from_millis(3), t0);
        report.step("join", Duration::from_millis(3));
        report.failed("HTTP 503 code 50300".into(), t0);
        report.elapsed = Duration::from_secs(1);
        report.paced = Some((
            "500/s".parse().unwrap(),
            Lag {
                behind: 1,
                max_behind: Duration::from_millis(2),
                scheduled: 500,
            },
        ));
        phase(&report);
        result("ratio", 0.5);
        verified("event 1 holds exactly the 1 joins answered 200".into());
        let text = summary("hot-join", &Ok(())).to_string();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["scenario"], "hot-join");
        assert_eq!(v["ok"], true);
        assert!(v["command"].is_array());
        let p = &v["phases"][0];
        assert_eq!(p["name"], "hot-join");
        assert_eq!(p["count"], 1);
        assert_eq!(p["errors"]["HTTP 503 code 50300"], 1);
        assert_eq!(p["rate"], 1.0);
        assert_eq!(p["seconds"], 1.0);
        for q in ["p50", "p90", "p99", "p99_9", "max"] {
            let ms = p["latency_ms"][q].as_f64().unwrap();
            assert!((ms - 3.0).abs() < 0.01, "{q} {ms}");
        }
        assert_eq!(p["steps"]["join"]["count"], 1);
        assert_eq!(p["schedule"]["rate"], 500.0);
        assert_eq!(p["schedule"]["behind"], 1);
        assert_eq!(p["schedule"]["scheduled"], 500);
        assert_eq!(p["schedule"]["unsent"], 498);
        assert_eq!(p["schedule"]["max_behind_ms"], 2.0);
        assert_eq!(v["results"]["ratio"], 0.5);
        assert_eq!(v["verification"]["ok"], true);
        assert_eq!(v["verification"]["checks"].as_array().unwrap().len(), 1);
        assert!(v["verification"]["error"].is_null());
        let failed = summary("hot-join", &Err("lost joins".into()));
        assert_eq!(failed["ok"], false);
        assert_eq!(failed["verification"]["error"], "lost joins");
    }
}
