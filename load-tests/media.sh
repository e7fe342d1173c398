#!/usr/bin/env bash
# What images cost, in the same run (docs/BENCHMARKS.md, "Images"): for
# each ROUND a fresh MySQL database and server (Redis sessions, images on
# a fresh directory, no WeChat: uploads are approved at once), then
# `lottery-load media`: /healthz, hot-join alone, hot-join while
# UPLOADERS users upload 3000 × 2000 JPEGs without pause, an approved
# image's thumbnail and full file, and a share code, each driven like
# /healthz. Prints every
# run and each figure's median ratio to /healthz. Loopback only; each timed
# phase is 10 s.
#   load-tests/media.sh [rounds] [server binary]
# USERS (default 250000: each hot-join phase must last its 10 s; with
# 20,000 users a phase ended in under a second and measured its own
# start), CONCURRENCY (64), UPLOADERS (2), UPLOAD_RATE (photos a second in
# all; default 0: without pause, the worst case).
# Each round runs twice: with the uploaders, and with none (the control:
# the same second hot-join phase, after the same first one, without
# uploads), so 'join-during-uploads' is read against
# 'join-second-without-uploads', not against the first phase.
source "$(dirname "$0")/common.sh"
ROUNDS="${1:-3}"
SERVER_BIN="${2:-}"
USERS="${USERS:-250000}" CONCURRENCY="${CONCURRENCY:-64}" UPLOADERS="${UPLOADERS:-2}" UPLOAD_RATE="${UPLOAD_RATE:-0}"
build
[ -n "$SERVER_BIN" ] || SERVER_BIN="$BIN/lottery"
RESULTS="$(mktemp)"
one_run() {
  local uploaders="$1"
  fresh_mysql_db lottery_media
  local dir
  dir="$(mktemp -d)"
  SERVER_BIN="$SERVER_BIN" start_server LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_media \
    LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="media$(date +%s%N):" \
    LOTTERY_MEDIA_STORE="fs://$dir" LOTTERY_MEDIA_UPLOADS_PER_HOUR=100000 LOTTERY_MEDIA_QUOTA_MB=1048576
  local out
  out="$(load media --concurrency "$CONCURRENCY" --users "$USERS" --seconds 10 --uploaders "$uploaders" --upload-rate "$UPLOAD_RATE" 2>/dev/null || true)"
  stop_server
  rm -rf "$dir"
  local alone during thumbs files codes uploads mbs
  alone="$(sed -n 's/^ratio hot-join alone \/ healthz = \([0-9.]*\)/\1/p' <<<"$out")"
  during="$(sed -n 's/^ratio hot-join during uploads \/ healthz = \([0-9.]*\)/\1/p' <<<"$out")"
  thumbs="$(sed -n 's/^ratio image thumbnail \/ healthz = \([0-9.]*\)/\1/p' <<<"$out")"
  files="$(sed -n 's/^ratio image full \/ healthz = \([0-9.]*\)/\1/p' <<<"$out")"
  mbs="$(sed -n 's/^image-full: \([0-9]*\) MB\/s.*/\1/p' <<<"$out")"
  codes="$(sed -n 's/^ratio share code \/ healthz = \([0-9.]*\)/\1/p' <<<"$out")"
  uploads="$(sed -n 's/^uploads: .*(\([0-9.]*\)\/s).*/\1/p' <<<"$out")"
  if [ -z "$codes" ] || [ "$(grep -c '^verify: ' <<<"$out")" != 2 ]; then
    echo "run failed or not verified" >&2
    echo "$out" | tail -5 >&2
    return 1
  fi
  if [ "$uploaders" = 0 ]; then
    echo "healthz $(sed -n 's/^healthz: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$out" | head -1) join-alone $alone join-second-without-uploads $during"
    echo "join-second-without-uploads $during" >>"$RESULTS"
    return 0
  fi
  echo "healthz $(sed -n 's/^healthz: .* = \([0-9]*\) req\/s.*/\1/p' <<<"$out" | head -1) join-alone $alone join-during-uploads $during (uploads $uploads/s) image-thumb $thumbs image-full $files ($mbs MB/s) share-code $codes"
  { echo "join-alone $alone"; echo "join-during-uploads $during"; echo "image-thumb $thumbs"; echo "image-full $files"; echo "share-code $codes"; } >>"$RESULTS"
}
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $CONCURRENCY connections, $USERS users, $UPLOADERS uploaders at $UPLOAD_RATE photos/s (0: without pause), $ROUNDS rounds"
for _ in $(seq 1 "$ROUNDS"); do
  one_run "$UPLOADERS" || true
  one_run 0 || true
done
print_medians "$RESULTS" join-alone join-during-uploads join-second-without-uploads image-thumb image-full share-code
rm -f "$RESULTS"
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_media'
