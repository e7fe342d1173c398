#!/usr/bin/env python3
"""The scale chart of docs/BENCHMARKS.md from scale.sh's CSV: three panels
(the draw's server time and answer, the process's memory, the reload)
against participants on a log axis. Plain SVG text, standard library only.
    python3 load-tests/scale-plot.py scale.csv out.svg
"""
import csv
import math
import sys

WIDTH, PANEL_H, LEFT, RIGHT, TOP, GAP = 900, 170, 70, 170, 50, 60
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

PANELS = [
    ("draw (s)", [("draw_answer_s", "POST /draw answered"), ("draw_server_s", "the draw, server side")]),
    ("memory (MB)", [("rss_after_joins_mb", "after the joins"), ("rss_live_loaded_mb", "live event reloaded")]),
    ("reload (s)", [("reload_s", "first view after a restart"), ("fairness_first_s", "/fairness first build")]),
]


def main(source, target):
    rows = list(csv.DictReader(open(source)))
    xs = [float(r["participants"]) for r in rows]
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    span = max(hi - lo, 1e-9)
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + len(PANELS) * (PANEL_H + GAP)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
           f'<text x="{LEFT}" y="24" font-size="15">How cost grows with the participants (one event, all with notice)</text>']
    for p, (title, series) in enumerate(PANELS):
        top = TOP + p * (PANEL_H + GAP)
        values = [float(r[key]) for key, _ in series for r in rows if r[key]]
        ymax = max(values + [1e-9]) * 1.1
        out.append(f'<text x="{LEFT}" y="{top - 8}">{title}</text>')
        out.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#999"/>')
        for k in range(5):
            v = ymax * k / 4
            y = top + PANEL_H - PANEL_H * k / 4
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.3g}</text>')
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        for x in xs:
            px = LEFT + plot_w * (math.log10(x) - lo) / span
            out.append(f'<text x="{px:.1f}" y="{top + PANEL_H + 16}" text-anchor="middle">{int(x):,}</text>')
        for s, (key, label) in enumerate(series):
            points = [(LEFT + plot_w * (math.log10(float(r["participants"])) - lo) / span,
                       top + PANEL_H - PANEL_H * float(r[key]) / ymax) for r in rows if r[key]]
            color = COLORS[s % len(COLORS)]
            out.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                color, " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
            for x, y in points:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>')
            ly = top + 16 + 18 * s
            out.append(f'<line x1="{LEFT + plot_w + 10}" y1="{ly - 4}" x2="{LEFT + plot_w + 28}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
            out.append(f'<text x="{LEFT + plot_w + 32}" y="{ly}">{label}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{height - 8}" text-anchor="middle">participants (log scale)</text>')
    out.append("</svg>")
    open(target, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
