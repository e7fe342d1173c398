#!/usr/bin/env bash
# Instructions per request, counted by callgrind (valgrind), for one
# server binary: /healthz, a live event's page (anonymous), its first
# participant page, a drawn event's page with a participant's token, and
# the drawn event's winners; SQLite, limits off, 20 participants each.
# Counts are the same whatever else the machine does, so two builds
# compare where wrk's rates are too noisy (docs/BENCHMARKS.md). Loopback
# only; N requests per page (default 300), one at a time.
#   load-tests/instructions.sh /path/to/lottery PORT [N]
# Prints: <binary> <page> <instructions> <per request>. Needs valgrind.
set -euo pipefail
BIN_PATH="$1" PORT="$2" N="${3:-300}"
B="$(basename "$BIN_PATH")"
DB="/tmp/cg-$B-$$.db"; OUT="/tmp/cg-$B"
rm -rf "$OUT"; mkdir -p "$OUT"
env LOTTERY_BIND=127.0.0.1:$PORT LOTTERY_DATABASE_URL="sqlite://$DB" LOTTERY_LIMIT_USER=off RUST_LOG=warn \
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" "$BIN_PATH" >"$OUT/server.log" 2>&1 &
VPID=$!
API="http://127.0.0.1:$PORT/api/v1"
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
token() { curl -fsS -XPOST "$API/auth/login" -d "{\"code\":\"dev:$1\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'; }
OWNER="$(token owner)"
mk() { curl -fsS -XPOST "$API/events" -H "Authorization: Bearer $OWNER" \
  -d "{\"title\":\"$1\",\"draw_mode\":\"manual\",\"draw_at\":\"$(date -u -d '+1 hour' +%FT%TZ)\",\"prizes\":[{\"name\":\"p\",\"quantity\":3}]}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])'; }
LIVE="$(mk live)"; DRAWN="$(mk drawn)"
for i in $(seq 1 20); do
  T="$(token "u$i")"
  curl -fsS -XPUT "$API/events/$LIVE/participants/me" -H "Authorization: Bearer $T" >/dev/null
  curl -fsS -XPUT "$API/events/$DRAWN/participants/me" -H "Authorization: Bearer $T" >/dev/null
done
curl -fsS -XPOST "$API/events/$DRAWN/draw" -H "Authorization: Bearer $OWNER" >/dev/null
measure() { # name, curl args...
  local name="$1"; shift
  curl -fsS "$@" >/dev/null; curl -fsS "$@" >/dev/null
  callgrind_control -z "$VPID" >/dev/null
  for _ in $(seq 1 "$N"); do curl -fsS "$@" >/dev/null; done
  callgrind_control -d "$name" "$VPID" >/dev/null
}
measure healthz "http://127.0.0.1:$PORT/healthz"
measure live "$API/events/$LIVE"
measure first "$API/events/$LIVE/participants?limit=20"
measure drawn -H "Authorization: Bearer $T" "$API/events/$DRAWN"
measure winners "$API/events/$DRAWN/winners"
kill "$VPID"; wait "$VPID" 2>/dev/null || true
for f in "$OUT"/cg.*.*; do
  name="$(grep -m1 '^desc: Trigger' "$f" | sed 's/.*Trigger: dump //' || true)"
  total="$(grep -m1 '^summary:\|^totals:' "$f" | awk '{print $2}')"
  echo "$B $name $total $((total / N))"
done
rm -rf "$DB"*
