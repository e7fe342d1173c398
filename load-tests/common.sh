# Shared by the load-test scripts: build, start and stop a server on
# loopback. Source it; it defines start_server / stop_server.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lottery-target}"
PROFILE="${PROFILE:-release}"
BIN="$CARGO_TARGET_DIR/$PROFILE"
PORT="${PORT:-18300}"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""

build() {
  local flag=""
  [ "$PROFILE" = release ] && flag="--release"
  (cd "$ROOT" && cargo build $flag -q -p lottery -p lottery-load)
}

# start_server VAR=value ...: the server on $PORT with those settings
# (the binary: $SERVER_BIN, by default this checkout's build).
start_server() {
  env "$@" LOTTERY_BIND="127.0.0.1:$PORT" RUST_LOG="${RUST_LOG:-warn}" "${SERVER_BIN:-$BIN/lottery}" >>"${SERVER_LOG:-/tmp/lottery-load-server.log}" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start; see ${SERVER_LOG:-/tmp/lottery-load-server.log}" >&2
  return 1
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT

load() { timeout "${LOAD_TIMEOUT:-900}" "$BIN/lottery-load" "$@" --base "$BASE"; }

fresh_mysql_db() { # name
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$1\`"
}
