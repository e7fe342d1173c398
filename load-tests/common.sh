# Shared by the load-test scripts: build, start and stop a server on
# loopback. Source it; it defines start_server / stop_server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lottery-target}"
PROFILE="${PROFILE:-release}"
# PREBUILT=DIR: the binaries in DIR (lottery, lottery-load, verify-draw),
# not built here: for comparing builds copied aside.
BIN="${PREBUILT:-$CARGO_TARGET_DIR/$PROFILE}"
PORT="${PORT:-18300}"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""

build() {
  [ -n "${PREBUILT:-}" ] && return 0
  local flag=""
  [ "$PROFILE" = release ] && flag="--release"
  (cd "$ROOT" && cargo build $flag -q -p lottery -p lottery-load)
}

# start_server VAR=value ...: the server on $PORT with those settings
# (the binary: $SERVER_BIN, by default this checkout's build).
start_server() {
  env "$@" LOTTERY_BIND="127.0.0.1:$PORT" RUST_LOG="${RUST_LOG:-warn}" "${SERVER_BIN:-$BIN/lottery}" >>"${SERVER_LOG:-/tmp/lottery-load-server.log}" 2>&1 &
  SERVER_PID=$!
  wait_up "$BASE/healthz" 100 "${SERVER_LOG:-/tmp/lottery-load-server.log}"
}

# wait_up URL TRIES LOG: polls URL every 0.1 s until it answers 2xx, at
# most TRIES times; otherwise names LOG and fails.
wait_up() {
  for _ in $(seq 1 "$2"); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no answer from $1; see $3" >&2
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# The local WeChat API for servers with WeChat configured (notices):
# start_wechat_mock starts `lottery-load wechat-mock` on $MOCK_PORT and
# sets WECHAT_SETTINGS, the server settings that point at it.
MOCK_PORT="${MOCK_PORT:-18390}"
MOCK_PID=""
WECHAT_URL="http://127.0.0.1:$MOCK_PORT"
start_wechat_mock() { # rate
  "$BIN/lottery-load" wechat-mock --listen "127.0.0.1:$MOCK_PORT" >>/tmp/lottery-wechat-mock.log 2>&1 &
  MOCK_PID=$!
  for _ in $(seq 1 50); do
    curl -fsS "$WECHAT_URL/stats" >/dev/null 2>&1 && break
    sleep 0.1
  done
  WECHAT_SETTINGS=(LOTTERY_WECHAT_APPID=wx_load LOTTERY_WECHAT_SECRET=load-secret
    LOTTERY_WECHAT_API_BASE="$WECHAT_URL" LOTTERY_WECHAT_RESULT_TEMPLATE_ID=tmpl-load
    LOTTERY_NOTIFY_RATE="$1")
}

stop_all() {
  stop_server
  if [ -n "$MOCK_PID" ]; then
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
  fi
}
trap stop_all EXIT

load() { timeout "${LOAD_TIMEOUT:-900}" "$BIN/lottery-load" "$@" --base "$BASE"; }

# parse_ratio OUTPUT: HEALTHZ, JOINS (req/s), P99 (ms) and VERIFIED from
# `lottery-load ratio`'s output; RATIO their quotient when both are there.
parse_ratio() {
  HEALTHZ="$(sed -n 's/^healthz: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$1")"
  JOINS="$(sed -n 's/^hot-join: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$1")"
  P99="$(sed -n 's/^hot-join: .* p99 \([0-9.]*\).*/\1/p' <<<"$1")"
  VERIFIED="$(grep -q '^verify: ' <<<"$1" && echo verified || echo NOT-VERIFIED)"
  RATIO=""
  if [ -n "$HEALTHZ" ] && [ -n "$JOINS" ]; then
    RATIO="$(awk -v j="$JOINS" -v h="$HEALTHZ" 'BEGIN { printf "%.3f", j / h }')"
  fi
}

# print_medians FILE NAME...: each NAME's median ratio over the lines
# "NAME ratio" of FILE, with its range.
print_medians() {
  local file="$1"
  shift
  for name in "$@"; do
    grep -F "$name " "$file" | awk '{print $2}' | sort -n |
      awk -v b="$name" '{ r[NR] = $1 } END {
        m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
        printf "median ratio %.3f over %d runs (min %.3f, max %.3f): %s\n", m, NR, r[1], r[NR], b }'
  done
}

fresh_mysql_db() { # name
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$1\`"
}
