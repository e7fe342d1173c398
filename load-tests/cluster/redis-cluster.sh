#!/usr/bin/env bash
# A 6-node Redis Cluster (3 masters, 3 replicas) on loopback, for the
# cluster tests and load-tests/cluster.sh. Nothing is kept on disk.
#   load-tests/cluster/redis-cluster.sh start DIR [FIRST_PORT]   (default 7101)
#   load-tests/cluster/redis-cluster.sh stop DIR
# `start` prints the seed list to give as LOTTERY_REDIS_URL.
set -euo pipefail
ACTION="${1:?start|stop}" DIR="${2:?a directory for the node files}" FIRST="${3:-7101}"
PORTS=$(seq "$FIRST" $((FIRST + 5)))
NODES="" SEEDS=""
for p in $PORTS; do NODES="$NODES 127.0.0.1:$p"; SEEDS="${SEEDS:+$SEEDS,}redis://127.0.0.1:$p"; done
mkdir -p "$DIR"

case "$ACTION" in
start)
  # A node listens on its port and on port + 10000 (the cluster bus).
  for port in $PORTS; do
    for p in "$port" $((port + 10000)); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is taken: pick another FIRST_PORT" >&2
        exit 1
      fi
    done
  done
  for port in $PORTS; do
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$DIR/nodes-$port.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no \
      --pidfile "$DIR/redis-$port.pid" --logfile "$DIR/redis-$port.log" --dir "$DIR"
  done
  for port in $PORTS; do
    for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  if ! redis-cli -p "$FIRST" cluster info | grep -q 'cluster_state:ok'; then
    # shellcheck disable=SC2086 # one argument per node
    redis-cli --cluster create $NODES --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1
    for _ in $(seq 1 100); do
      redis-cli -p "$FIRST" cluster info | grep -q 'cluster_state:ok' && break
      sleep 0.1
    done
  fi
  redis-cli -p "$FIRST" cluster info | grep -q 'cluster_state:ok' || { echo "the Redis Cluster did not form; see $DIR" >&2; exit 1; }
  echo "$SEEDS"
  ;;
stop)
  for port in $PORTS; do
    [ -f "$DIR/redis-$port.pid" ] && kill "$(cat "$DIR/redis-$port.pid")" 2>/dev/null || true
  done
  sleep 0.3
  rm -f "$DIR"/nodes-*.conf "$DIR"/redis-*.pid
  ;;
*) echo "start or stop" >&2; exit 64 ;;
esac
