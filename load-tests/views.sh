#!/usr/bin/env bash
# Page views measured with wrk (a generator that saturates the server),
# against /healthz in the same run: wrk -t2 -c128 -d5s on /healthz; on a
# live event with 50 participants, anonymous and with a participant's
# token; on a drawn event (50 participants, manual draw), its page with a
# participant's token and its winners; the live event's first page of
# participants and the owner's /me/events. MySQL + Redis (database
# lottery_views, Redis db 1). Loopback only; each phase is 5 s.
#   load-tests/views.sh [server binary]   (default: this checkout's release build)
# ENCODING=gzip (or br) sends `Accept-Encoding: $ENCODING` with every
# request and prints the bytes each answer took; DESCRIPTION_CHARS=N gives
# the events an N-character description (pages over 1 KiB are compressed).
# Needs wrk (apt-get install wrk).
source "$(dirname "$0")/common.sh"
command -v wrk >/dev/null || { echo "views.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
SERVER_BIN="${1:-}"
[ -n "$SERVER_BIN" ] || { build; SERVER_BIN="$BIN/lottery"; }
fresh_mysql_db lottery_views
# The per-user limit off: wrk repeats one user's token ~100,000 times a
# second, and with the limit on (dev's default) almost every answer was a
# 429 (session 15 found the earlier "with a token" rows measured that).
SERVER_BIN="$SERVER_BIN" start_server LOTTERY_LIMIT_USER=off LOTTERY_DATABASE_URL=mysql://root@127.0.0.1:3306/lottery_views \
  LOTTERY_REDIS_URL=redis://127.0.0.1:6379/1 LOTTERY_REDIS_PREFIX="views$(date +%s%N):"
API="$BASE/api/v1"
token() { curl -fsS -XPOST "$API/auth/login" -d "{\"code\":\"dev:$1\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'; }
OWNER="$(token owner)"
# event_with_participants NAME MODE QUANTITY: creates an event (draw in an
# hour), lets 50 fresh users join it, and sets EVENT and LAST_TOKEN (the
# last participant's token).
event_with_participants() {
  EVENT="$(curl -fsS -XPOST "$API/events" -H "Authorization: Bearer $OWNER" \
    -d "{\"title\":\"$1\",\"description\":\"$DESCRIPTION\",\"draw_mode\":\"$2\",\"draw_at\":\"$(date -u -d '+1 hour' +%FT%TZ)\",\"prizes\":[{\"name\":\"p\",\"quantity\":$3}]}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["id"])')"
  for i in $(seq 1 50); do
    LAST_TOKEN="$(token "$1$i")"
    curl -fsS -XPUT "$API/events/$EVENT/participants/me" -H "Authorization: Bearer $LAST_TOKEN" >/dev/null
  done
}
# Cut with a parameter expansion, not `head -c`: head closing the pipe
# early failed the whole script under pipefail (SIGPIPE), now and then.
DESCRIPTION="$(seq 1 1000 | tr '\n' ' ')"
DESCRIPTION="${DESCRIPTION:0:${DESCRIPTION_CHARS:-0}}"
ENCODING="${ENCODING:-}"
event_with_participants live at_time 1
ID="$EVENT" USER_TOKEN="$LAST_TOKEN"
event_with_participants drawn manual 3
DRAWN="$EVENT" DRAWN_TOKEN="$LAST_TOKEN"
curl -fsS -XPOST "$API/events/$DRAWN/draw" -H "Authorization: Bearer $OWNER" >/dev/null
# The answer's size on the wire as this client asks for it (last argument: the URL).
size() { curl -sS -o /dev/null -w '%{size_download}' ${ENCODING:+-H "Accept-Encoding: $ENCODING"} "$@"; }
run() {
  local rate
  # Non-2xx answers are counted and shown: a page measured while it
  # answers errors measures the errors.
  rate="$(wrk -t2 -c128 -d5s --latency ${ENCODING:+-H "Accept-Encoding: $ENCODING"} "$@" |
    awk '/Requests\/sec/ {r=$2} / 99%/ {p=$2} /Non-2xx/ {e=$5}
         END {printf "%s req/s p99 %s", r, p; if (e) printf " (NON-2XX: %s)", e}')"
  if [ -n "$ENCODING" ]; then echo "$rate, $(size "$@") bytes"; else echo "$rate"; fi
}
echo "# $(date -u +%FT%TZ) $(nproc) cores; MySQL + Redis; $(basename "$SERVER_BIN")${ENCODING:+; Accept-Encoding: $ENCODING}${DESCRIPTION_CHARS:+; descriptions of $DESCRIPTION_CHARS characters}"
echo "healthz: $(run "$BASE/healthz")"
echo "event, anonymous: $(run "$API/events/$ID")"
echo "event, with a token: $(run -H "Authorization: Bearer $USER_TOKEN" "$API/events/$ID")"
echo "participants, first page: $(run "$API/events/$ID/participants?limit=20")"
echo "me/events?role=created: $(run -H "Authorization: Bearer $OWNER" "$API/me/events?role=created")"
echo "drawn event, with a token: $(run -H "Authorization: Bearer $DRAWN_TOKEN" "$API/events/$DRAWN")"
echo "drawn event's winners: $(run "$API/events/$DRAWN/winners")"
stop_server
mysql -uroot -h127.0.0.1 -e 'DROP DATABASE IF EXISTS lottery_views'
