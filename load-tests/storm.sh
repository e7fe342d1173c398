#!/usr/bin/env bash
# The share storm (issue 9) on MySQL + Redis, release build: a
# lottery-load /healthz baseline, then share-storm with USERS fresh users
# (default 20,000) on one event drawn LEAD s (default 20) after the logins,
# then the server's batch figures. Database lottery_storm, Redis db 1.
# PLOT=file.svg also draws the storm's phases per quarter second across
# the draw (`share-storm --plot`).
#   load-tests/storm.sh [users] [concurrency]
source "$(dirname "$0")/common.sh"
USERS="${1:-20000}" CONCURRENCY="${2:-128}" LEAD="${LEAD:-20}"
build
fresh_mysql_db lottery_storm
start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_storm \
  LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="storm$(date +%s%N):"
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $CONCURRENCY connections, $USERS users"
load healthz --concurrency "$CONCURRENCY" --seconds 5 2>/dev/null
load share-storm --users "$USERS" --concurrency "$CONCURRENCY" --lead "$LEAD" --prizes 1000 ${PLOT:+--plot "$PLOT"} 2>/dev/null
curl -fsS "$BASE/metrics" | grep -E '^lottery_event_batch_(size|commit_seconds)_(sum|count)|^lottery_event_views_total' || true
stop_server
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_storm'
