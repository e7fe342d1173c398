#!/usr/bin/env bash
# The outbox under load: USERS participants join one event asking for
# notice, the draw writes their outbox rows in its transaction (timed by
# POST /draw), and the notifier drains them into a local WeChat mock
# (`lottery-load wechat-mock`) at RATE per second. Loopback only; every
# phase bounded.
# Then, as the baseline, the same draw without notices (big-draw).
#   load-tests/notices.sh [users] [rate] [mysql|sqlite]
# Defaults: 100000 users, 2000/s, MySQL + Redis (database
# lottery_notices_bench, Redis db 1), PRIZES=1000 prize slots.
# PROFILE=debug for a quick run.
source "$(dirname "$0")/common.sh"
USERS="${1:-100000}"
RATE="${2:-2000}"
BACKEND="${3:-mysql}"

build
start_wechat_mock "$RATE"
if [ "$BACKEND" = mysql ]; then
  DBNAME="${DBNAME:-lottery_notices_bench}"
  fresh_mysql_db "$DBNAME"
  redis-cli -n 1 --scan --pattern 'lottery_notices_bench:*' | xargs -r redis-cli -n 1 del >/dev/null
  SETTINGS=(LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME"
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX=lottery_notices_bench:)
else
  DBFILE="$(mktemp -d)/notices.db"
  SETTINGS=(LOTTERY_DATABASE_URL="sqlite://$DBFILE")
fi
start_server "${SETTINGS[@]}" "${WECHAT_SETTINGS[@]}"
PRIZES="${PRIZES:-1000}"
LOAD_TIMEOUT="${LOAD_TIMEOUT:-$((600 + 3 * USERS / RATE))}" \
  load notices --users "$USERS" --rate "$RATE" --prizes "$PRIZES" \
  --concurrency "${CONCURRENCY:-128}" --wechat "$WECHAT_URL"
# The baseline in the same run: the same draw on the same server, its
# participants not asking for notice (the outbox query finds no row).
echo "baseline: the same draw without notices"
load big-draw --users "$USERS" --prizes "$PRIZES" --concurrency "${CONCURRENCY:-128}" 2>/dev/null | grep -E "big-draw|verify"
