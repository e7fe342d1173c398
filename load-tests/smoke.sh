#!/usr/bin/env bash
# Small, quick runs of every scenario (hundreds of users), for CI: they
# keep the tools working, they do not measure. Uses the debug build.
#   load-tests/smoke.sh [sqlite|mysql]
PROFILE=debug
source "$(dirname "$0")/common.sh"
BACKEND="${1:-sqlite}"
if [ "$BACKEND" = mysql ]; then
  DBNAME="lottery_test_smoke_$$"
  fresh_mysql_db "$DBNAME"
  SETTINGS=(LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME" LOTTERY_REDIS_URL=redis://127.0.0.1:6379/0 LOTTERY_REDIS_PREFIX="lottery_test_smoke_$$:")
else
  DBFILE="$(mktemp -d)/smoke.db"
  SETTINGS=(LOTTERY_DATABASE_URL="sqlite://$DBFILE")
fi
MEDIA_DIR="$(mktemp -d)"
SETTINGS+=(LOTTERY_MEDIA_STORE="fs://$MEDIA_DIR")
build
start_server "${SETTINGS[@]}"
export LOAD_TIMEOUT=120
load hot-join --users 300 --concurrency 16 --seconds 30 2>/dev/null
load mixed --users 200 --events 5 --concurrency 16 --seconds 3 2>/dev/null
load share-storm --users 300 --concurrency 16 --lead 6 --prizes 20 --seconds 10 2>/dev/null
load big-draw --users 400 --concurrency 16 2>/dev/null
load media --users 200 --concurrency 8 --seconds 2 --uploaders 1 2>/dev/null
load draw-storm --events 50 --per-event 3 --lead 6 --concurrency 16 --seconds 10 2>/dev/null
RECORD="$(mktemp)"
load hot-join --users 200 --concurrency 16 --seconds 30 --record "$RECORD" 2>/dev/null
stop_server
start_server "${SETTINGS[@]}"
load verify-joins --record "$RECORD"
stop_server
# Notices: the same store, now with WeChat (a local mock) and a template.
start_wechat_mock 500
start_server "${SETTINGS[@]}" "${WECHAT_SETTINGS[@]}"
load notices --users 300 --rate 500 --prizes 20 --concurrency 16 --wechat "$WECHAT_URL" 2>/dev/null
# The million scenario, small: bulk sessions, joins, a restart with the
# event live, then the draw, results and drain.
stop_server
STATE="$(mktemp)"
start_server "${SETTINGS[@]}" "${WECHAT_SETTINGS[@]}" LOTTERY_LOAD_TEST_SESSIONS=true
load million --stage joins --state "$STATE" --users 300 --rate 500 --prizes 20 --concurrency 16 --wechat "$WECHAT_URL" 2>/dev/null
stop_server
start_server "${SETTINGS[@]}" "${WECHAT_SETTINGS[@]}" LOTTERY_LOAD_TEST_SESSIONS=true
load million --stage draw --state "$STATE" --users 300 --rate 500 --prizes 20 --concurrency 16 --wechat "$WECHAT_URL" 2>/dev/null
echo "load-tests smoke ($BACKEND): all scenarios verified"
