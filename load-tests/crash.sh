#!/usr/bin/env bash
# Crash under load: SIGKILL the server in the middle of hot-join, start it
# again on the same database, and check every acknowledged join is stored.
#   load-tests/crash.sh [mysql|sqlite] [users]
source "$(dirname "$0")/common.sh"
BACKEND="${1:-mysql}" USERS="${2:-30000}"
RECORD="$(mktemp)"
build
if [ "$BACKEND" = mysql ]; then
  fresh_mysql_db lottery_crash
  DB=mysql://root@127.0.0.1:3306/lottery_crash
else
  rm -f /tmp/lottery-crash.db*
  DB=sqlite:///tmp/lottery-crash.db
fi
start_server LOTTERY_DATABASE_URL="$DB"
load hot-join --users "$USERS" --concurrency 64 --seconds 60 --record "$RECORD" 2>/tmp/lottery-crash-load.err &
LOAD=$!
# Kill once the joins are under way.
until grep -q "hot-join:" /tmp/lottery-crash-load.err 2>/dev/null; do sleep 0.2; done
sleep 1
echo "SIGKILL to the server (pid $SERVER_PID) mid-run"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
wait "$LOAD" || true
start_server LOTTERY_DATABASE_URL="$DB"
load verify-joins --record "$RECORD"
