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
(cd "$ROOT" && cargo build --release -q -p lottery-load)
RESULTS="$(mktemp)"

one_run() { # binary
  fresh_mysql_db lottery_ab
  SERVER_BIN="$1" start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_ab \
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="ab$(date +%s%N):"
  local out healthz joins p99 verified
  out="$(load ratio --concurrency "$CONCURRENCY" --users "$USERS" --seconds 10 2>/dev/null || true)"
  healthz="$(sed -n 's/^healthz: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$out")"
  joins="$(sed -n 's/^hot-join: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$out")"
  p99="$(sed -n 's/^hot-join: .* p99 \([0-9.]*\).*/\1/p' <<<"$out")"
  verified="$(grep -q '^verify: ' <<<"$out" && echo verified || echo NOT-VERIFIED)"
  stop_server
  if [ -z "$healthz" ] || [ -z "$joins" ]; then
    echo "$1: run failed" >&2
    return 1
  fi
  local ratio
  ratio="$(awk -v j="$joins" -v h="$healthz" 'BEGIN { printf "%.3f", j / h }')"
  echo "$1 healthz $healthz hot-join $joins ratio $ratio join-p99-ms $p99 $verified"
  echo "$1 $ratio" >>"$RESULTS"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $CONCURRENCY connections, $USERS users, $ROUNDS rounds"
for _ in $(seq 1 "$ROUNDS"); do
  for binary in "$@"; do one_run "$binary"; done
done
for binary in "$@"; do
  grep -F "$binary " "$RESULTS" | awk '{print $2}' | sort -n |
    awk -v b="$binary" '{ r[NR] = $1 } END {
      m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
      printf "median ratio %.3f over %d runs (min %.3f, max %.3f): %s\n", m, NR, r[1], r[NR], b }'
done
rm -f "$RESULTS"
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_ab'
