#!/usr/bin/env bash
# A local cluster on loopback and its fault drills (docs/CLUSTER.md): the
# machine's MariaDB, a 6-node Redis Cluster, a 3-member etcd, nginx with
# docs/ops/cluster/nginx.conf, and three instances built with the
# `cluster` feature. Hot-join and share traffic (`lottery-load cluster`)
# runs through nginx while one fault is injected per phase:
#   kill     SIGKILL an instance mid-load (restarted after the phase)
#   stop     SIGSTOP an instance past its lease, then SIGCONT it
#   etcd     SIGKILL the etcd leader (restarted after the phase)
#   redis    SIGKILL a Redis master (restarted after the phase)
# Each phase verifies that every join answered 200 is stored, that the
# capped event holds its cap, and that the events due during the fault are
# drawn once, as their seeds give. The script fails when a check fails or
# an event stays unavailable longer than 10 s after an instance's death.
#   load-tests/cluster.sh [full|small]
# PLOT=prefix also draws each phase (`cluster --plot`): requests/s, p99
# and failures per second with the fault marked, in prefix-kill.svg,
# prefix-stop.svg, prefix-etcd.svg and prefix-redis.svg.
# small: CI's version (debug build, fewer users, shorter phases, no
# throughput figure). Needs etcd, nginx and redis-server (Debian:
# etcd-server, nginx, redis-server) and protoc to build (protobuf-compiler).
set -euo pipefail
MODE="${1:-full}"
if [ "$MODE" = small ]; then PROFILE=debug; fi
source "$(dirname "$0")/common.sh"

for tool in etcd nginx redis-server redis-cli protoc curl; do
  command -v "$tool" >/dev/null || { echo "cluster.sh needs $tool" >&2; exit 1; }
done

# LEAD: the due events' draw comes this long after the fault, while the
# victim (their owner) is dead or paused and its lease still runs. A phase
# lasts well past its fault (the pause ends FAULT_AT + 9 s in), so every
# event must be served again before it ends: an event still failing at
# the end fails the phase.
if [ "$MODE" = small ]; then
  USERS=400 CONC=16 PHASE_SECS=20 FAULT_AT=4 LEAD=2
else
  USERS=4000 CONC=48 PHASE_SECS=30 FAULT_AT=8 LEAD=2
fi
TTL=5
# Ports: etcd 18479-18680, Redis 18701-18706 (load-tests/cluster/).
LB_PORT=18490
INSTANCE_PORTS=(18491 18492 18493)
WORK="$(mktemp -d /tmp/lottery-cluster.XXXXXX)"
DBNAME="lottery_test_cluster_$$"
PREFIX="/lottery_test_cluster_$$/"
REDIS_PREFIX="lottery_test_cluster_$$:"
INSTANCE_PIDS=("" "" "")
NGINX_PID=""
RESULTS="$WORK/results"
: >"$RESULTS"

cleanup() {
  for pid in "${INSTANCE_PIDS[@]}"; do
    [ -n "$pid" ] && { kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; } || true
  done
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  bash "$ROOT/load-tests/cluster/etcd-cluster.sh" stop "$WORK/etcd" || true
  bash "$ROOT/load-tests/cluster/redis-cluster.sh" stop "$WORK/redis" 18701 || true
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$DBNAME\`" 2>/dev/null || true
  stop_all
}
trap cleanup EXIT

echo "== building (features: cluster, profile: $PROFILE)"
flag=""
[ "$PROFILE" = release ] && flag="--release"
(cd "$ROOT" && cargo build $flag -q -p lottery --features cluster && cargo build $flag -q -p lottery-load)

echo "== starting Redis Cluster, etcd, nginx and 3 instances (work dir $WORK)"
REDIS_URL=$(bash "$ROOT/load-tests/cluster/redis-cluster.sh" start "$WORK/redis" 18701)
ETCD_URLS=$(bash "$ROOT/load-tests/cluster/etcd-cluster.sh" start "$WORK/etcd")
fresh_mysql_db "$DBNAME"

# The instances' shared hop secret: made per run, like the prefixes.
CLUSTER_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

start_instance() { # index
  local i=$1 port=${INSTANCE_PORTS[$1]}
  env LOTTERY_BIND="127.0.0.1:$port" \
    LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME" \
    LOTTERY_REDIS_URL="$REDIS_URL" LOTTERY_REDIS_PREFIX="$REDIS_PREFIX" \
    LOTTERY_ETCD_ENDPOINTS="$ETCD_URLS" LOTTERY_ETCD_PREFIX="$PREFIX" \
    LOTTERY_ETCD_LEASE_TTL_SECS="$TTL" LOTTERY_INSTANCE_ID="i$i" \
    LOTTERY_CLUSTER_SECRET="$CLUSTER_SECRET" LOTTERY_CLUSTER_PEERS=127.0.0.1/32 \
    LOTTERY_TRUSTED_PROXIES=127.0.0.1/32 LOTTERY_LIMIT_USER=off \
    RUST_LOG="${RUST_LOG:-info}" \
    "$BIN/lottery" >>"$WORK/instance-$i.log" 2>&1 &
  INSTANCE_PIDS[$i]=$!
  wait_up "http://127.0.0.1:$port/readyz" 150 "$WORK/instance-$i.log" || exit 1
}

for i in 0 1 2; do start_instance $i; done
mkdir -p "$WORK/nginx/logs"
sed -e "s/127.0.0.1:8080/127.0.0.1:$LB_PORT/" \
  -e "s/127.0.0.1:8081/127.0.0.1:${INSTANCE_PORTS[0]}/" \
  -e "s/127.0.0.1:8082/127.0.0.1:${INSTANCE_PORTS[1]}/" \
  -e "s/127.0.0.1:8083/127.0.0.1:${INSTANCE_PORTS[2]}/" \
  "$ROOT/docs/ops/cluster/nginx.conf" >"$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g "daemon off; pid $WORK/nginx/nginx.pid;" &
NGINX_PID=$!
wait_up "http://127.0.0.1:$LB_PORT/healthz" 50 "$WORK/nginx/logs" || exit 1
LB="http://127.0.0.1:$LB_PORT"
echo "   nginx $LB -> instances ${INSTANCE_PORTS[*]}; etcd $ETCD_URLS; Redis Cluster $REDIS_URL"

if [ "$MODE" = full ]; then
  echo "== throughput: hot-join through nginx (3 instances) vs one instance direct"
  export LOAD_TIMEOUT=300
  via=$(timeout 300 "$BIN/lottery-load" hot-join --users 20000 --concurrency 64 --seconds 10 --base "$LB" 2>/dev/null | grep -m1 '^hot-join' || true)
  direct=$(timeout 300 "$BIN/lottery-load" hot-join --users 20000 --concurrency 64 --seconds 10 --base "http://127.0.0.1:${INSTANCE_PORTS[0]}" 2>/dev/null | grep -m1 '^hot-join' || true)
  echo "   via nginx: $via"
  echo "   direct:    $direct"
  echo "throughput via-nginx: $via" >>"$RESULTS"
  echo "throughput direct: $direct" >>"$RESULTS"
fi

# run_phase NAME FAULT MARK...: the cluster scenario for PHASE_SECS, FAULT
# (a function) called FAULT_AT seconds in; prints and records the
# summary. With PLOT, the phase's chart with each MARK (SECONDS=LABEL).
run_phase() {
  local name=$1 fault=$2 out="$WORK/phase-$1.out"
  shift 2
  local plot=()
  if [ -n "${PLOT:-}" ]; then
    plot=(--plot "$PLOT-$name.svg")
    for mark in "$@"; do plot+=(--mark "$mark"); done
  fi
  echo "== phase $name"
  timeout $((PHASE_SECS + 180)) "$BIN/lottery-load" cluster --base "$LB" --users "$USERS" \
    --concurrency "$CONC" --events 6 --seconds "$PHASE_SECS" --lead $((FAULT_AT + LEAD)) \
    --record "$WORK/phase-$name.acked" "${plot[@]}" >"$out" 2>"$WORK/phase-$name.err" &
  local load=$!
  # The fault comes FAULT_AT seconds into the traffic (after the logins).
  until grep -q '^cluster: events' "$WORK/phase-$name.err" 2>/dev/null; do
    kill -0 "$load" 2>/dev/null || break
    sleep 0.2
  done
  sleep "$FAULT_AT"
  # The instance that owns the first due event is the victim, so that
  # event comes due during the failover.
  local due
  due=$(grep -o 'due in [0-9]* s: \[[0-9]*' "$WORK/phase-$name.err" | grep -o '[0-9]*$' || true)
  victim=$(owner_of "$due")
  "$fault"
  local status=0
  wait "$load" || status=$?
  sed 's/^/   /' "$out"
  local summary
  summary=$(grep '^cluster-json ' "$out" | cut -d' ' -f2- || true)
  echo "$name $summary" >>"$RESULTS"
  if [ "$status" -ne 0 ]; then
    echo "phase $name FAILED (see $out and $WORK/phase-$name.err)" >&2
    exit 1
  fi
}

victim=1
# owner_of EVENT: the index of the instance that owns it in etcd (1 when
# no one does yet).
owner_of() {
  local key first
  key=$(printf '%sevents/%s' "$PREFIX" "$1" | base64 -w0)
  first=${ETCD_URLS%%,*}
  curl -fsS --max-time 2 -X POST "$first/v3/kv/range" -d "{\"key\": \"$key\"}" 2>/dev/null |
    python3 -c 'import base64,json,sys
kvs = json.load(sys.stdin).get("kvs", [])
print(base64.b64decode(kvs[0]["value"]).decode()[1:] if kvs else 1)' 2>/dev/null || echo 1
}

fault_kill() {
  echo "   SIGKILL instance $victim (pid ${INSTANCE_PIDS[$victim]})"
  kill -9 "${INSTANCE_PIDS[$victim]}"
  wait "${INSTANCE_PIDS[$victim]}" 2>/dev/null || true
  KILLED_AT=$(date +%s.%N)
}
after_kill() {
  start_instance $victim
  echo "   instance $victim restarted"
}

fault_stop() {
  echo "   SIGSTOP instance $victim for $((TTL + 4)) s (its lease is $TTL s)"
  kill -STOP "${INSTANCE_PIDS[$victim]}"
  sleep $((TTL + 4))
  kill -CONT "${INSTANCE_PIDS[$victim]}"
  echo "   SIGCONT instance $victim"
}

fault_etcd() {
  local pid
  pid=$(bash "$ROOT/load-tests/cluster/etcd-cluster.sh" leader "$WORK/etcd")
  echo "   SIGKILL the etcd leader (pid $pid)"
  kill -9 "$pid"
  for n in 0 1 2; do
    if [ "$(cat "$WORK/etcd/m$n.pid")" = "$pid" ]; then ETCD_KILLED=$n; fi
  done
}
after_etcd() {
  bash "$ROOT/load-tests/cluster/etcd-cluster.sh" member "$WORK/etcd" "$ETCD_KILLED"
  echo "   etcd member $ETCD_KILLED restarted"
}

fault_redis() {
  local port
  port=$(redis-cli -p 18701 cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail/ {split($2, a, "[:@]"); print a[2]; exit}')
  REDIS_KILLED=$port
  echo "   SIGKILL the Redis master on port $port"
  kill -9 "$(cat "$WORK/redis/redis-$port.pid")"
}
after_redis() {
  redis-server --port "$REDIS_KILLED" --bind 127.0.0.1 --daemonize yes \
    --cluster-enabled yes --cluster-config-file "$WORK/redis/nodes-$REDIS_KILLED.conf" \
    --cluster-node-timeout 2000 --save "" --appendonly no \
    --pidfile "$WORK/redis/redis-$REDIS_KILLED.pid" --logfile "$WORK/redis/redis-$REDIS_KILLED.log" --dir "$WORK/redis"
  echo "   Redis node $REDIS_KILLED restarted (it rejoins as a replica)"
}

metric() { # port name: the metric's value on that instance (0 when absent)
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2; found=1} END {if (!found) print 0}'
}

run_phase kill fault_kill "$FAULT_AT=SIGKILL the owner"
after_kill
run_phase stop fault_stop "$FAULT_AT=SIGSTOP the owner" "$((FAULT_AT + TTL + 4))=SIGCONT"
stopped_port=${INSTANCE_PORTS[$victim]}
fenced=$(metric "$stopped_port" lottery_cluster_fenced_total)
losses=$(metric "$stopped_port" lottery_cluster_lease_losses_total)
echo "   the stopped instance: $losses lease loss(es), $fenced actor(s) fenced by the database"
echo "stop-instance lease_losses=$losses fenced=$fenced" >>"$RESULTS"
[ "${losses%.*}" -ge 1 ] || { echo "the stopped instance never gave its events up" >&2; exit 1; }
run_phase etcd fault_etcd "$FAULT_AT=SIGKILL the etcd leader"
after_etcd
run_phase redis fault_redis "$FAULT_AT=SIGKILL a Redis master"
after_redis

echo "== every event drawn at most once"
drawn=$(cat "$WORK"/instance-*.log | grep -o 'event drawn.*' | grep -o 'event_id=[0-9]*' | sort | uniq -c | sort -rn)
twice=$(echo "$drawn" | awk '$1 > 1' | wc -l)
events_drawn=$(echo "$drawn" | grep -c event_id || true)
echo "   $events_drawn events drawn, $twice drawn more than once"
echo "draws events=$events_drawn twice=$twice" >>"$RESULTS"
[ "$twice" -eq 0 ] || { echo "$drawn" >&2; exit 1; }

echo "== the kill phase's unavailability"
p99=$(grep '^kill ' "$RESULTS" | sed 's/^kill //' | python3 -c 'import json,sys; print(json.load(sys.stdin)["outage_p99_s"])')
echo "   p99 of an event's unavailability after SIGKILL: $p99 s (target 10 s)"
python3 -c "import sys; sys.exit(0 if $p99 <= 10 else 1)" || { echo "over the 10 s target" >&2; exit 1; }

echo "== summary ($MODE)"
sed 's/^/   /' "$RESULTS"
echo "cluster.sh: all phases verified"
