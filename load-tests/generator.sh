#!/usr/bin/env bash
# Is lottery-load a saturating generator? GET /healthz with wrk and with
# lottery-load against the same server, alternating, ROUNDS times (128
# connections, 2 threads, 5 s each); prints every pair's ratio and the
# median. MySQL + Redis (database lottery_generator, Redis db 1).
#   load-tests/generator.sh [rounds]          (needs wrk: apt-get install wrk)
source "$(dirname "$0")/common.sh"
command -v wrk >/dev/null || { echo "generator.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
ROUNDS="${1:-5}"
build
fresh_mysql_db lottery_generator
start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_generator \
  LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="generator$(date +%s%N):"
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; /healthz, 128 connections, 2 threads, 5 s"
RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
  W="$(wrk -t2 -c128 -d5s "$BASE/healthz" | awk '/Requests\/sec/ {print $2}')"
  L="$(load healthz --concurrency 128 --threads 2 --seconds 5 2>/dev/null | sed -n 's/.*= \([0-9]*\) req\/s.*/\1/p')"
  RATIO="$(awk -v l="$L" -v w="$W" 'BEGIN {printf "%.3f", l / w}')"
  RATIOS+=("$RATIO")
  echo "round $r: wrk $W req/s, lottery-load $L req/s, ratio $RATIO"
done
printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print "median ratio lottery-load / wrk: " a[int((NR+1)/2)]}'
stop_server
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_generator'
