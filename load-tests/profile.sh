#!/usr/bin/env bash
# Where the machine's CPU goes during a phase: perf samples every CPU for
# 3 s in the middle of lottery-load's timed phase and reports the share of
# each process (server, MariaDB, Redis, generator, idle), then the server's
# hottest symbols. MySQL + Redis, release build, database lottery_profile.
#   load-tests/profile.sh [healthz|hot-join|share-storm] [connections]
# Needs perf (Debian: linux-perf) and root or perf_event_paranoid <= 0.
source "$(dirname "$0")/common.sh"
SCENARIO="${1:-hot-join}" CONCURRENCY="${2:-128}"
command -v perf >/dev/null || { echo "profile.sh needs perf" >&2; exit 2; }
build
fresh_mysql_db lottery_profile
start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_profile \
  LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="profile$(date +%s%N):"
OUT="$(mktemp -d)"
case "$SCENARIO" in
  healthz) ARGS=(healthz --seconds 8) MARK="" ;;
  hot-join) ARGS=(hot-join --users 200000 --seconds 8) MARK="hot-join: event" ;;
  share-storm) ARGS=(share-storm --users 40000 --lead 30) MARK="share-storm: event" ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 64 ;;
esac
load "${ARGS[@]}" --concurrency "$CONCURRENCY" >"$OUT/out" 2>"$OUT/err" &
LOAD_PID=$!
# The timed phase starts after the logins (not timed, not profiled).
if [ -n "$MARK" ]; then until grep -q "$MARK" "$OUT/err"; do sleep 0.2; done; fi
sleep 1
perf record -F 1999 -a -g -o "$OUT/perf.data" -- sleep 3 >/dev/null 2>&1
wait "$LOAD_PID"
cat "$OUT/out"
echo "# CPU share by process over 3 s of the timed phase (2 CPUs = 100 %)"
perf report -i "$OUT/perf.data" --no-children --sort comm -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8
echo "# the server's hottest symbols (share of all samples)"
perf report -i "$OUT/perf.data" --no-children --comm 'actix-rt|system' --sort symbol -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | sed 's/  */ /g' | cut -c1-120 | head -25
stop_server
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_profile'
