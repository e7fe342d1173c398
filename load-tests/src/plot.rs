//! A small SVG chart of phases per second: successes per second, p99
//! latency per second and, when asked, failures per second, one line per
//! phase on a shared time axis, with labelled marks (a draw, a fault).
//! Plain SVG text, so no plotting library is needed.

use std::fmt::Write;
use std::str::FromStr;
use std::time::Instant;

use crate::stats::{Point, Report};

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 60.0;
const GAP: f64 = 55.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// A labelled vertical line, `at` seconds on the chart's axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub at: f64,
    pub label: String,
}

/// `SECONDS=LABEL` (or `SECONDS`), as `--mark` takes it.
impl FromStr for Mark {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (at, label) = text.split_once('=').unwrap_or((text, ""));
        match at.parse::<f64>() {
            Ok(at) if at.is_finite() && at >= 0.0 => Ok(Mark {
                at,
                label: label.to_string(),
            }),
            _ => Err(format!("{text:?}: SECONDS=LABEL, as 8=SIGKILL")),
        }
    }
}

/// One phase's timeline, `offset` seconds after the chart's second 0, a
/// point every `step` seconds.
pub struct Series {
    pub name: String,
    pub offset: f64,
    pub step: f64,
    pub points: Vec<Point>,
}

impl Series {
    /// A phase placed where it ran, counting from `origin`.
    pub fn at(report: &Report, origin: Instant) -> Self {
        Self {
            name: report.name.clone(),
            offset: report
                .started
                .saturating_duration_since(origin)
                .as_secs_f64(),
            step: report.resolution.as_secs_f64(),
            points: report.timeline(),
        }
    }

    /// A phase drawn from second 0 (phases compared over each other).
    pub fn overlaid(report: &Report) -> Self {
        Self {
            name: report.name.clone(),
            offset: 0.0,
            step: report.resolution.as_secs_f64(),
            points: report.timeline(),
        }
    }
}

pub struct Chart {
    pub caption: String,
    pub series: Vec<Series>,
    pub marks: Vec<Mark>,
    /// A third panel of failures per second.
    pub failures: bool,
}

/// Which per-second figure a panel draws.
type Figure = fn(&Point) -> f64;

/// Tick spacing for an axis of `span` seconds: at most about 12 ticks.
fn tick_step(span: f64) -> f64 {
    [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0]
        .into_iter()
        .find(|s| span / s <= 12.0)
        .unwrap_or(600.0)
}

/// Plot area's x of second `t`.
fn x_of(t: f64, span: f64) -> f64 {
    LEFT + (WIDTH - LEFT - RIGHT) * t / span.max(1e-9)
}

/// One panel: title, axes with ticks and grid, the marks, and a line per
/// series of `value`'s per-second figure.
fn panel(
    svg: &mut String,
    top: f64,
    height: f64,
    title: &str,
    chart: &Chart,
    span: f64,
    value: Figure,
) {
    let max = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(value))
        .fold(0.0_f64, f64::max);
    let max = round_up(max);
    let bottom = top + height;
    let y = |v: f64| bottom - height * v / max;
    let right = WIDTH - RIGHT;
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{title}</text>",
        top - 8.0
    );
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{right:.1}\" y2=\"{yy:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y(v) + 4.0,
            short(v),
            yy = y(v),
        );
    }
    let step = tick_step(span);
    let mut t = 0.0;
    while t <= span + 1e-9 {
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{t} s</text>",
            bottom + 4.0,
            bottom + 16.0,
            x = x_of(t, span),
        );
        t += step;
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{bottom:.1}\" stroke=\"#444\"/><line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{right:.1}\" y2=\"{bottom:.1}\" stroke=\"#444\"/>"
    );
    for mark in &chart.marks {
        let x = x_of(mark.at, span);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#555\" stroke-dasharray=\"5,4\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">{}</text>",
            x + 3.0,
            top + 11.0,
            escape(&mark.label)
        );
    }
    for (n, series) in chart.series.iter().enumerate() {
        let coords: Vec<String> = series
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{:.1},{:.1}",
                    x_of(series.offset + (i as f64 + 0.5) * series.step, span),
                    y(value(p))
                )
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
            COLORS[n % COLORS.len()],
            coords.join(" ")
        );
    }
}

/// The axis's top: `max` rounded up to 1, 2, 4, 6, 8 or 10 times a power
/// of ten, so that its quarters are round numbers too.
fn round_up(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|top| *top >= max)
        .unwrap_or(10.0 * power)
}

/// 12,500 as 12.5k: axis labels stay short.
fn short(v: f64) -> String {
    let trimmed = |text: String| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    };
    if v >= 1000.0 {
        trimmed(format!("{:.2}", v / 1000.0)) + "k"
    } else {
        trimmed(format!("{v:.2}"))
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart as SVG text.
pub fn svg(chart: &Chart) -> String {
    let span = chart
        .series
        .iter()
        .map(|s| s.offset + s.points.len() as f64 * s.step)
        .chain(chart.marks.iter().map(|m| m.at + 1.0))
        .fold(1.0_f64, f64::max)
        .ceil();
    let panel_height = if chart.failures { 170.0 } else { 220.0 };
    let panels = if chart.failures { 3.0 } else { 2.0 };
    let height = TOP + panels * (panel_height + GAP) + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"20\" font-size=\"14\">{}</text>\n",
        escape(&chart.caption)
    );
    // The legend: one entry per series, in a row under the caption.
    let mut x = LEFT;
    for (n, series) in chart.series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"33\" x2=\"{:.1}\" y2=\"33\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{:.1}\" y=\"37\" font-size=\"12\">{}</text>",
            x + 18.0,
            x + 23.0,
            escape(&series.name)
        );
        x += 40.0 + 7.0 * series.name.chars().count() as f64;
    }
    // Points a second apart unless the phases were timed finer.
    let step = chart.series.first().map_or(1.0, |s| s.step);
    let every = if step == 1.0 {
        "each second".to_string()
    } else {
        format!("each {} s", short(step))
    };
    let mut top = TOP;
    let panels: [(&str, Figure); 3] = [
        ("successes per second", |p| p.rate),
        ("p99 latency (ms)", |p| p.p99_ms),
        ("failures per second", |p| p.failed),
    ];
    for (title, value) in panels.into_iter().take(2 + usize::from(chart.failures)) {
        let title = format!("{title}, {every}");
        panel(
            &mut svg,
            top + 10.0,
            panel_height,
            &title,
            chart,
            span,
            value,
        );
        top += panel_height + GAP;
    }
    svg.push_str("</svg>\n");
    svg
}

pub fn write_svg(path: &str, chart: &Chart) -> Result<(), String> {
    std::fs::write(path, svg(chart)).map_err(|e| format!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(round_up(0.0), 1.0);
        assert_eq!(round_up(3.3), 4.0);
        assert_eq!(round_up(113_876.0), 200_000.0);
        assert_eq!(round_up(9.0), 10.0);
        assert_eq!(short(150_000.0), "150k");
        assert_eq!(short(12_500.0), "12.5k");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(40.0), "40");
    }

    #[test]
    fn marks_are_read_and_drawn() {
        assert_eq!(
            "8=SIGKILL owner".parse::<Mark>(),
            Ok(Mark {
                at: 8.0,
                label: "SIGKILL owner".into()
            })
        );
        assert_eq!("2.5".parse::<Mark>().map(|m| m.at), Ok(2.5));
        assert!("eight=x".parse::<Mark>().is_err());
        let point = Point {
            rate: 100.0,
            p99_ms: 2.0,
            failed: 1.0,
        };
        let chart = Chart {
            caption: "a <test>".into(),
            series: vec![Series {
                name: "cluster".into(),
                offset: 2.0,
                step: 1.0,
                points: vec![point; 10],
            }],
            marks: vec!["8=SIGKILL".parse().unwrap()],
            failures: true,
        };
        let svg = svg(&chart);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt;test&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert_eq!(svg.matches("SIGKILL").count(), 3);
        assert!(svg.contains("failures per second"));
    }
}
