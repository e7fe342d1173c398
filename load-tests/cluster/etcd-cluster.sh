#!/usr/bin/env bash
# A 3-member etcd cluster on loopback, for load-tests/cluster.sh.
#   load-tests/cluster/etcd-cluster.sh start DIR [FIRST_PORT]   (default 18479)
#   load-tests/cluster/etcd-cluster.sh member DIR N [FIRST_PORT] (start member N again)
#   load-tests/cluster/etcd-cluster.sh leader DIR [FIRST_PORT]  (prints the leader's pid)
#   load-tests/cluster/etcd-cluster.sh stop DIR
# Member N (0, 1, 2) serves clients on FIRST_PORT + 100 N and its peers on
# the port after. `start` prints the endpoints for LOTTERY_ETCD_ENDPOINTS.
set -euo pipefail
ACTION="${1:?start|member|leader|stop}" DIR="${2:?a directory for the member data}"
mkdir -p "$DIR"
if [ "$ACTION" = member ]; then N="${3:?member number}" FIRST="${4:-18479}"; else FIRST="${3:-18479}"; fi
client_port() { echo $((FIRST + 100 * $1)); }
peer_port() { echo $((FIRST + 100 * $1 + 1)); }
CLUSTER="" ENDPOINTS=""
for n in 0 1 2; do
  CLUSTER="${CLUSTER:+$CLUSTER,}m$n=http://127.0.0.1:$(peer_port $n)"
  ENDPOINTS="${ENDPOINTS:+$ENDPOINTS,}http://127.0.0.1:$(client_port $n)"
done

start_member() { # n
  local n=$1 state=new
  [ -d "$DIR/m$n" ] && state=existing
  etcd --name "m$n" --data-dir "$DIR/m$n" \
    --listen-client-urls "http://127.0.0.1:$(client_port "$n")" \
    --advertise-client-urls "http://127.0.0.1:$(client_port "$n")" \
    --listen-peer-urls "http://127.0.0.1:$(peer_port "$n")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(peer_port "$n")" \
    --initial-cluster "$CLUSTER" --initial-cluster-state "$state" \
    --initial-cluster-token lottery-load \
    --heartbeat-interval 100 --election-timeout 1000 \
    >>"$DIR/m$n.log" 2>&1 &
  echo $! >"$DIR/m$n.pid"
}

healthy() { # n
  curl -fsS --max-time 1 "http://127.0.0.1:$(client_port "$1")/health" 2>/dev/null | grep -q '"health":"true"'
}

case "$ACTION" in
start)
  if healthy 0 || healthy 1 || healthy 2; then
    echo "an etcd already listens on $ENDPOINTS: stop it first" >&2
    exit 1
  fi
  for n in 0 1 2; do start_member $n; done
  for _ in $(seq 1 100); do
    healthy 0 && healthy 1 && healthy 2 && { echo "$ENDPOINTS"; exit 0; }
    sleep 0.1
  done
  echo "etcd did not come up; see $DIR/m*.log" >&2
  exit 1
  ;;
member)
  start_member "$N"
  for _ in $(seq 1 100); do healthy "$N" && exit 0; sleep 0.1; done
  echo "etcd member $N did not come back; see $DIR/m$N.log" >&2
  exit 1
  ;;
leader)
  for n in 0 1 2; do
    status=$(curl -fsS --max-time 1 -X POST "http://127.0.0.1:$(client_port $n)/v3/maintenance/status" -d '{}' 2>/dev/null) || continue
    member=$(echo "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["header"]["member_id"], s["leader"])')
    if [ "${member% *}" = "${member#* }" ]; then cat "$DIR/m$n.pid"; exit 0; fi
  done
  echo "no etcd leader found" >&2
  exit 1
  ;;
stop)
  for n in 0 1 2; do
    [ -f "$DIR/m$n.pid" ] && kill "$(cat "$DIR/m$n.pid")" 2>/dev/null || true
  done
  sleep 0.3
  ;;
*) echo "start, member, leader or stop" >&2; exit 64 ;;
esac
