#!/usr/bin/env bash
# What a beacon costs a draw storm (issue 25): EVENTS events (default
# 10,000) due at the same second, 3 participants each, on MySQL + Redis
# (release), first without a beacon, then (same binary, same run, fresh
# database) with LOTTERY_BEACON_* pointing at `lottery-load beacon-standin`
# (a local relay, 3 s rounds like quicknet). Prints each storm's "last
# drawn after the due second", the relay's requests per round and the
# server's beacon figures. Every draw is verified (beacon draws from
# SHA-256(seed || randomness), over the acknowledged participants).
#   load-tests/beacon-storm.sh [events]
source "$(dirname "$0")/common.sh"
EVENTS="${1:-10000}" LEAD="${LEAD:-60}"
BEACON_PORT="${BEACON_PORT:-18391}" BEACON_PID=""
build
storm() { # label, then server settings
  local label="$1"
  shift
  fresh_mysql_db lottery_beacon_storm
  start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_beacon_storm \
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="beaconstorm$(date +%s%N):" "$@"
  echo "## $label"
  load draw-storm --events "$EVENTS" --per-event 3 --lead "$LEAD" --concurrency 64 --seconds 30 2>/dev/null
  curl -fsS "$BASE/metrics" | grep -E '^lottery_(beacon_requests_total|beacon_wait_seconds_(sum|count)|draw_failures_total|draws_total)' || true
  stop_server
}
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $EVENTS events due at one second, 3 participants each"
storm "seed alone"
"$BIN/lottery-load" beacon-standin --listen "127.0.0.1:$BEACON_PORT" --period 3 >>/tmp/lottery-beacon-standin.log 2>&1 &
BEACON_PID=$!
trap 'kill $BEACON_PID 2>/dev/null || true; stop_all' EXIT
wait_up "http://127.0.0.1:$BEACON_PORT/chain" 100 /tmp/lottery-beacon-standin.log
CHAIN="$(curl -fsS "http://127.0.0.1:$BEACON_PORT/chain")"
storm "with the beacon (3 s rounds)" LOTTERY_BEACON_URL="http://127.0.0.1:$BEACON_PORT" LOTTERY_BEACON_CHAIN_HASH="$CHAIN"
echo "relay: $(curl -fsS "http://127.0.0.1:$BEACON_PORT/stats")"
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_beacon_storm'
