#!/usr/bin/env bash
# Checks on a live server's output with the tools ops and client developers
# use: `promtool check metrics` on /metrics after some traffic, the OpenAPI
# document through openapi-spec-validator, and the alert rules through
# `promtool check rules` and `promtool test rules`. Installs the tools when
# missing (Debian's prometheus package, PyPI's openapi-spec-validator).
# Runs the debug build `cargo test` left, on MySQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CARGO_TARGET_DIR:?}/debug/lottery"

if ! command -v promtool >/dev/null; then
  echo "CI: installing promtool (Debian package prometheus)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus >/dev/null
fi
if ! command -v openapi-spec-validator >/dev/null; then
  echo "CI: installing openapi-spec-validator"
  pip install -q openapi-spec-validator 2>/dev/null
fi

echo "CI: promtool check rules / test rules (docs/ops/alerts.yml)"
promtool check rules docs/ops/alerts.yml
promtool test rules docs/ops/alerts.test.yml

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DB="lottery_ci_live_$$"
WORK="$(mktemp -d)"
LOTTERY_BIND="127.0.0.1:$PORT" LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DB" \
  LOTTERY_REDIS_URL="redis://127.0.0.1:6379" LOTTERY_REDIS_PREFIX="lottery_test_live_$$:" \
  LOTTERY_LOG_FORMAT=json RUST_LOG=warn "$BIN" >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$DB\`" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done

# Some traffic, so the actor, draw and pool figures exist.
TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"code":"dev:ci"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])')
DRAW_AT=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
curl -sf -X POST "$BASE/api/v1/events" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"title\":\"ci\",\"draw_at\":\"$DRAW_AT\",\"draw_mode\":\"manual\",\"prizes\":[{\"name\":\"p\",\"quantity\":1}]}" >"$WORK/event.json"
EVENT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["id"])' "$WORK/event.json")
curl -sf -X PUT "$BASE/api/v1/events/$EVENT/participants/me" -H "authorization: Bearer $TOKEN" >/dev/null
curl -sf -X POST "$BASE/api/v1/events/$EVENT/draw" -H "authorization: Bearer $TOKEN" >/dev/null

echo "CI: promtool check metrics on a live /metrics"
curl -sf "$BASE/metrics" >"$WORK/metrics.txt"
grep -q '^lottery_event_mailbox_wait_seconds_bucket' "$WORK/metrics.txt"
grep -q '^lottery_pool_connections{pool="redis_sessions"' "$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt"

echo "CI: openapi-spec-validator on a live /api/v1/openapi.json"
curl -sf "$BASE/api/v1/openapi.json" >"$WORK/openapi.json"
openapi-spec-validator "$WORK/openapi.json"

# The document as clients use it: schemathesis, generated clients.
bash .ci/openapi-checks.sh "$BASE"

echo "CI: SIGTERM: the server exits 0"
kill -TERM "$SERVER"
wait "$SERVER"
