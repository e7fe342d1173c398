//! A small SVG chart of one or more phases: requests per second (top) and
//! p99 latency per second (bottom), one line per phase. Plain SVG text, so
//! no plotting library is needed.

use std::fmt::Write;

use crate::stats::Report;

const WIDTH: f64 = 900.0;
const PANEL: f64 = 220.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 30.0;
const GAP: f64 = 60.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn polyline(points: &[(f64, f64)], color: &str) -> String {
    let coords: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
        coords.join(" ")
    )
}

/// One panel: axes, a max label, and a line per series.
fn panel(
    svg: &mut String,
    top: f64,
    title: &str,
    unit: &str,
    series: &[(String, Vec<f64>)],
    seconds: usize,
) {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let plot_w = WIDTH - LEFT - 20.0;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / seconds.max(1) as f64;
    let y = |v: f64| top + PANEL - PANEL * v / max;
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"14\">{title}</text>",
        top - 8.0
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{LEFT}\" y2=\"{b:.1}\" stroke=\"#444\"/><line x1=\"{LEFT}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"#444\"/>",
        b = top + PANEL,
        r = LEFT + plot_w
    );
    let _ = writeln!(
        svg,
        "<text x=\"5\" y=\"{:.1}\" font-size=\"11\">{max:.0} {unit}</text>",
        top + 10.0
    );
    let _ = writeln!(
        svg,
        "<text x=\"5\" y=\"{:.1}\" font-size=\"11\">0</text>",
        top + PANEL
    );
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{seconds} s</text>",
        LEFT + plot_w - 20.0,
        top + PANEL + 15.0
    );
    for (n, (name, values)) in series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (x(i), y(*v)))
            .collect();
        svg.push_str(&polyline(&points, color));
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{color}\">{name}</text>",
            WIDTH - 320.0 + 150.0 * n as f64,
            top - 8.0
        );
    }
}

/// Writes the chart of `reports` to `path`.
pub fn write_svg(path: &str, caption: &str, reports: &[&Report]) -> Result<(), String> {
    let timelines: Vec<(String, Vec<(f64, f64)>)> = reports
        .iter()
        .map(|r| (r.name.clone(), r.timeline()))
        .collect();
    let seconds = timelines.iter().map(|(_, t)| t.len()).max().unwrap_or(1);
    let height = TOP + 2.0 * PANEL + GAP + 40.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let rates: Vec<(String, Vec<f64>)> = timelines
        .iter()
        .map(|(n, t)| (n.clone(), t.iter().map(|(rate, _)| *rate).collect()))
        .collect();
    let p99s: Vec<(String, Vec<f64>)> = timelines
        .iter()
        .map(|(n, t)| (n.clone(), t.iter().map(|(_, p)| *p).collect()))
        .collect();
    panel(
        &mut svg,
        TOP,
        &format!("requests/s: {caption}"),
        "/s",
        &rates,
        seconds,
    );
    panel(
        &mut svg,
        TOP + PANEL + GAP,
        "p99 latency per second",
        "ms",
        &p99s,
        seconds,
    );
    svg.push_str("</svg>\n");
    std::fs::write(path, svg).map_err(|e| format!("{path}: {e}"))
}
