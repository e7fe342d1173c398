#!/usr/bin/env bash
# How cost grows with the participants (issue 26): million.sh at each size
# given (default 10000 100000 300000 1000000), one after another on the
# same machine, then a table (CSV on stdout, each run's output under
# OUT=/tmp/lottery-scale) and, with PLOT=file.svg, the chart in
# docs/BENCHMARKS.md (draw time, memory and reload against participants).
#   load-tests/scale.sh [mysql|sqlite] [sizes...]
# RATE (default 5000) as million.sh's; PREBUILT as every script's.
set -euo pipefail
HERE="$(dirname "$0")"
BACKEND="${1:-mysql}"
shift || true
SIZES=("${@:-10000 100000 300000 1000000}")
read -r -a SIZES <<<"${SIZES[*]}"
OUT="${OUT:-/tmp/lottery-scale}"
mkdir -p "$OUT"
CSV="$OUT/scale-$BACKEND.csv"
echo "participants,joins_per_healthz,rss_after_joins_mb,rss_live_loaded_mb,reload_s,draw_answer_s,draw_server_s,fairness_first_s,drain_ratio,verify_draw_s" >"$CSV"
field() { sed -n "$1" "$2" | head -1; }
for n in "${SIZES[@]}"; do
  log="$OUT/million-$BACKEND-$n.log"
  bash "$HERE/million.sh" "$n" "${RATE:-5000}" "$BACKEND" >"$log" 2>&1
  grep -q '^verify: each of the' "$log" || { echo "run of $n did not verify: $log" >&2; exit 1; }
  row="$n"
  row+=",$(field 's/^joins\/healthz: \([0-9.]*\).*/\1/p' "$log")"
  row+=",$(field 's/^rss after the joins: \([0-9.]*\) MB.*/\1/p' "$log")"
  # The line goes on with the anonymous part: the number alone.
  row+=",$(field 's/^rss with the live event loaded (fresh process): \([0-9.]*\) MB.*/\1/p' "$log")"
  row+=",$(field 's/^reload: first view answered in \([0-9.]*\)s/\1/p' "$log")"
  row+=",$(field 's/.*POST \/draw answered in \([0-9.]*\)s.*/\1/p' "$log")"
  row+=",$(field 's/^server: lottery_draw_duration_seconds_sum \([0-9.]*\).*/\1/p' "$log")"
  row+=",$(field 's/.*\/fairness (first) answered in \([0-9.]*\)s.*/\1/p' "$log")"
  row+=",$(field 's/^notices: .* (\([0-9.]*\)), busiest.*/\1/p' "$log")"
  row+=",$(field 's/^verify-draw: \([0-9.]*\)s.*/\1/p' "$log")"
  echo "$row" >>"$CSV"
  echo "$row" >&2
done
cat "$CSV"
if [ -n "${PLOT:-}" ]; then
  python3 "$HERE/scale-plot.py" "$CSV" "$PLOT"
fi
