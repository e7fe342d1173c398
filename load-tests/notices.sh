#!/usr/bin/env bash
# The outbox under load: USERS participants join one event asking for
# notice, the draw writes their outbox rows in its transaction (timed by
# POST /draw), and the notifier drains them into a local WeChat mock
# (`lottery-load wechat-mock`) at RATE per second. Loopback only; every
# phase bounded.
#   load-tests/notices.sh [users] [rate] [mysql|sqlite]
# Defaults: 100000 users, 2000/s, MySQL + Redis (database
# lottery_notices_bench, Redis db 1). PROFILE=debug for a quick run.
source "$(dirname "$0")/common.sh"
USERS="${1:-100000}"
RATE="${2:-2000}"
BACKEND="${3:-mysql}"
MOCK_PORT="${MOCK_PORT:-18390}"
MOCK_PID=""
stop_all() {
  stop_server
  [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
}
trap stop_all EXIT

build
"$BIN/lottery-load" wechat-mock --listen "127.0.0.1:$MOCK_PORT" >>/tmp/lottery-wechat-mock.log 2>&1 &
MOCK_PID=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$MOCK_PORT/stats" >/dev/null 2>&1 && break
  sleep 0.1
done

WECHAT=(LOTTERY_WECHAT_APPID=wx_load LOTTERY_WECHAT_SECRET=load-secret
  LOTTERY_WECHAT_API_BASE="http://127.0.0.1:$MOCK_PORT"
  LOTTERY_WECHAT_RESULT_TEMPLATE_ID=tmpl-load LOTTERY_NOTIFY_RATE="$RATE")
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
start_server "${SETTINGS[@]}" "${WECHAT[@]}"
LOAD_TIMEOUT="${LOAD_TIMEOUT:-$((600 + 3 * USERS / RATE))}" \
  load notices --users "$USERS" --rate "$RATE" --prizes 1000 \
  --concurrency "${CONCURRENCY:-128}" --wechat "http://127.0.0.1:$MOCK_PORT"
