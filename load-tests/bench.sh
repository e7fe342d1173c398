#!/usr/bin/env bash
# The benchmark: the server on MySQL + Redis, then GET /healthz and
# hot-join with the same load generator and concurrency, and their ratio.
#   load-tests/bench.sh [concurrency] [users]
# PLOT=file.svg also draws requests/s and p99 per second of both phases.
source "$(dirname "$0")/common.sh"
CONCURRENCY="${1:-64}" USERS="${2:-40000}"
build
fresh_mysql_db lottery_bench
start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_bench \
  LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="bench$(date +%s):"
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $CONCURRENCY connections, $USERS users"
load ratio --concurrency "$CONCURRENCY" --users "$USERS" --seconds 10 ${PLOT:+--plot "$PLOT"} 2>/dev/null
# What the server saw: how the hot event's joins were batched and committed.
curl -fsS "$BASE/metrics" | grep -E '^lottery_event_batch_(size|commit_seconds)_(sum|count)' || true
