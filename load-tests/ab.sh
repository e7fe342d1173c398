#!/usr/bin/env bash
# A/B of server builds on this noisy shared machine: runs bench.sh's
# measurement (healthz, then hot-join, same connections) for each build in
# turn, ROUNDS times, each on a fresh MySQL database, and prints every run
# and each build's median ratio. Runs of one build drift by ±10 % over an
# hour here, so only builds measured alternately in the same session
# compare.
#   load-tests/ab.sh ROUNDS /path/to/lottery-a /path/to/lottery-b ...
# (copy each build's target/release/lottery aside first). USERS and
# CONCURRENCY as in bench.sh (defaults 100000 and 64).
source "$(dirname "$0")/common.sh"
ROUNDS="${1:?rounds}"
shift
[ $# -ge 1 ] || { echo "usage: $0 ROUNDS BINARY..." >&2; exit 2; }
USERS="${USERS:-100000}" CONCURRENCY="${CONCURRENCY:-64}"
# PREBUILT=DIR: its lottery-load, not built here (nothing compiles beside a run).
[ -n "${PREBUILT:-}" ] || (cd "$ROOT" && cargo build --release -q -p lottery-load)
RESULTS="$(mktemp)"

one_run() { # binary
  fresh_mysql_db lottery_ab
  SERVER_BIN="$1" start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_ab \
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="ab$(date +%s%N):"
  local out
  out="$(load ratio --concurrency "$CONCURRENCY" --users "$USERS" --seconds 10 2>/dev/null || true)"
  stop_server
  parse_ratio "$out"
  if [ -z "$RATIO" ]; then
    echo "$1: run failed" >&2
    return 1
  fi
  echo "$1 healthz $HEALTHZ hot-join $JOINS ratio $RATIO join-p99-ms $P99 $VERIFIED"
  echo "$1 $RATIO" >>"$RESULTS"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $CONCURRENCY connections, $USERS users, $ROUNDS rounds"
for _ in $(seq 1 "$ROUNDS"); do
  for binary in "$@"; do one_run "$binary"; done
done
print_medians "$RESULTS" "$@"
rm -f "$RESULTS"
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_ab'
