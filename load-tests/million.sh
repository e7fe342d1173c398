#!/usr/bin/env bash
# A million participants in one event (issue 26), in one run against one
# server: `/healthz` as the baseline, then `lottery-load million`: USERS
# users (bulk sessions) join one manual event asking for notice while its
# page is viewed; the server is restarted with the event live (the first
# view after the restart times its reload); then the draw, every user
# reading their result, /fairness compressed, the notices drained into
# the local WeChat mock at RATE, and `verify-draw` re-running the record.
# Every phase is verified and bounded; loopback only.
# CRASH=1: the server is SIGKILLed half-way through the drain and started
# again; the drain must still reach everyone, repeating at most the 32
# sends that were in flight (two chunks of 16).
#   load-tests/million.sh [users] [rate] [mysql|sqlite]
# Defaults: 1000000 users, 5000/s, MySQL + Redis (database
# lottery_million_bench, Redis db 1), PRIZES=1000 prize slots.
# Prints the process's resident memory after the joins, after the
# reload, after the results and its peak; the server's draw time.
source "$(dirname "$0")/common.sh"
USERS="${1:-1000000}"
RATE="${2:-5000}"
BACKEND="${3:-mysql}"
PRIZES="${PRIZES:-1000}"
CONCURRENCY="${CONCURRENCY:-64}"
STATE="$(mktemp)"
export LOAD_TIMEOUT="${LOAD_TIMEOUT:-$((900 + 3 * USERS / RATE))}"

build
start_wechat_mock "$RATE"
if [ "$BACKEND" = mysql ]; then
  DBNAME="${DBNAME:-lottery_million_bench}"
  fresh_mysql_db "$DBNAME"
  redis-cli -n 1 --scan --pattern 'lottery_million_bench:*' | xargs -r -n 1000 redis-cli -n 1 del >/dev/null
  SETTINGS=(LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME"
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX=lottery_million_bench:)
else
  DBFILE="$(mktemp -d)/million.db"
  SETTINGS=(LOTTERY_DATABASE_URL="sqlite://$DBFILE")
fi
SETTINGS+=(LOTTERY_LOAD_TEST_SESSIONS=true "${WECHAT_SETTINGS[@]}")
# EXTRA="VAR=value ...": more server settings (an experiment's).
read -r -a EXTRA_SETTINGS <<<"${EXTRA:-}"
SETTINGS+=("${EXTRA_SETTINGS[@]}")

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
anon_mb() { awk '/^RssAnon/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
peak_mb() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
metric() { curl -fsS "$BASE/metrics" | awk -v m="$1" 'index($1, m) == 1 { print $1, $2 }'; }

start_server "${SETTINGS[@]}"
echo "rss at start: $(rss_mb) MB"
HEALTHZ_OUT="$(load healthz --seconds 10 --concurrency "$CONCURRENCY")"
echo "$HEALTHZ_OUT"
load million --stage joins --state "$STATE" --users "$USERS" --prizes "$PRIZES" \
  --concurrency "$CONCURRENCY" --wechat "$WECHAT_URL" --rate "$RATE" | tee /tmp/million-joins.out
HEALTHZ="$(sed -n 's/^healthz: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$HEALTHZ_OUT")"
JOINS="$(sed -n 's/^join (notify): .* = \([0-9]*\) req\/s.*/\1/p' /tmp/million-joins.out)"
echo "joins/healthz: $(awk -v j="$JOINS" -v h="$HEALTHZ" 'BEGIN { printf "%.3f", j / h }') ($JOINS / $HEALTHZ)"
echo "rss after the joins: $(rss_mb) MB (peak $(peak_mb) MB; anonymous $(anon_mb) MB)"
# SMAPS=FILE: the process's mappings at this point, for a memory study.
[ -z "${SMAPS:-}" ] || cp "/proc/$SERVER_PID/smaps" "$SMAPS"

# The restart, the event live: the process starts, then the first view
# (in the tool) loads the event's members.
stop_server
STARTED=$(date +%s.%N)
start_server "${SETTINGS[@]}"
echo "restart: healthy after $(awk -v s="$STARTED" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')s, rss $(rss_mb) MB"
# The first view loads the event's members into its actor: the reload.
EVENT="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["event_id"])' "$STATE")"
echo "reload: first view answered in $(curl -fsS -o /dev/null -w '%{time_total}' "$BASE/api/v1/events/$EVENT")s"
echo "rss with the live event loaded (fresh process): $(rss_mb) MB (anonymous $(anon_mb) MB)"
if [ -z "${CRASH:-}" ]; then
  load million --stage draw --state "$STATE" --users "$USERS" --prizes "$PRIZES" \
    --concurrency "$CONCURRENCY" --wechat "$WECHAT_URL" --rate "$RATE" | tee /tmp/million-draw.out
  echo "rss after the draw, the results and the drain: $(rss_mb) MB (peak since the restart $(peak_mb) MB)"
else
  # CRASH=1: SIGKILL the server half-way through the drain (the tool is
  # by then only counting arrivals at the mock), start it again, and let
  # the drain finish: every participant notified, at most the notifier's
  # sends in flight (32) repeated.
  load million --stage draw --state "$STATE" --users "$USERS" --prizes "$PRIZES" \
    --concurrency "$CONCURRENCY" --wechat "$WECHAT_URL" --rate "$RATE" \
    --repeats-allowed 32 >/tmp/million-draw.out 2>/tmp/million-draw.err &
  TOOL=$!
  sent() { curl -fsS "$WECHAT_URL/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])'; }
  until grep -q '^notices: ' /tmp/million-draw.err 2>/dev/null && [ "$(sent)" -ge $((USERS / 2)) ]; do
    kill -0 "$TOOL" 2>/dev/null || break
    sleep 0.2
  done
  echo "crash: SIGKILL with $(sent) of $USERS sent"
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  STARTED=$(date +%s.%N)
  start_server "${SETTINGS[@]}"
  echo "crash: healthy again after $(awk -v s="$STARTED" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')s"
  wait "$TOOL" || { cat /tmp/million-draw.out; tail -5 /tmp/million-draw.err; exit 1; }
  cat /tmp/million-draw.out
  echo "rss after the drain (process started mid-drain): $(rss_mb) MB"
fi
echo "server: $(metric lottery_draw_duration_seconds_sum)"

# verify-draw on the record, with the seed hash the open event showed.
RECORD="$(mktemp)"
curl -fsS "$BASE/api/v1/events/$EVENT/fairness" >"$RECORD"
HASH="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["seed_hash"])' "$RECORD")"
STARTED=$(date +%s.%N)
"$BIN/verify-draw" --seed-hash "$HASH" <"$RECORD"
echo "verify-draw: $(awk -v s="$STARTED" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')s for $(wc -c <"$RECORD") bytes"
rm -f "$STATE" "$RECORD"
