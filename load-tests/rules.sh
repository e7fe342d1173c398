#!/usr/bin/env bash
# Hot-event joins under each join rule, against a plain event, in the same
# run: for each ROUND, for each rule (none, password, group, risk), a fresh
# MySQL database and server, then `lottery-load ratio --rules RULE`
# (healthz, then hot-join, same connections). Every server runs with the
# local WeChat stand-in (`lottery-load wechat-mock`), so all four are
# configured alike: logins go through its jscode2session (untimed), and a
# `risk` run rates every user before its timed phase (the rank then comes
# from the process's cache, the case the hot path must keep fast).
# Prints each run and each rule's median ratio. Loopback only; each timed
# phase is 10 s.
#   load-tests/rules.sh [rounds] [server binary]
# USERS (default 20000) and CONCURRENCY (64).
source "$(dirname "$0")/common.sh"
ROUNDS="${1:-3}"
SERVER_BIN="${2:-}"
USERS="${USERS:-20000}" CONCURRENCY="${CONCURRENCY:-64}"
build
[ -n "$SERVER_BIN" ] || SERVER_BIN="$BIN/lottery"
start_wechat_mock 200
RESULTS="$(mktemp)"
one_run() { # rule
  fresh_mysql_db lottery_rules
  SERVER_BIN="$SERVER_BIN" start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_rules \
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="rules$(date +%s%N):" \
    "${WECHAT_SETTINGS[@]}"
  local out
  out="$(load ratio --rules "$1" --appid wx_load --concurrency "$CONCURRENCY" --users "$USERS" --seconds 10 2>/dev/null || true)"
  stop_server
  parse_ratio "$out"
  if [ -z "$RATIO" ] || [ "$VERIFIED" != verified ]; then
    echo "$1: run failed or not verified" >&2
    return 1
  fi
  echo "rule $1 healthz $HEALTHZ hot-join $JOINS ratio $RATIO join-p99-ms $P99 verified"
  echo "$1 $RATIO" >>"$RESULTS"
}
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis + wechat-mock; $CONCURRENCY connections, $USERS users, $ROUNDS rounds"
for _ in $(seq 1 "$ROUNDS"); do
  for rule in none password group risk; do one_run "$rule" || true; done
done
print_medians "$RESULTS" none password group risk
rm -f "$RESULTS"
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_rules'
