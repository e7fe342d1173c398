#!/usr/bin/env bash
# Memory with 1,000,000 scheduled future events: the events are inserted
# straight into MySQL (MariaDB's seq_ table), then the server starts on
# them; its resident memory is read after the schedule refills ran.
#   load-tests/scheduled-memory.sh [events]
source "$(dirname "$0")/common.sh"
EVENTS="${1:-1000000}"
DBNAME=lottery_sched
build
fresh_mysql_db "$DBNAME"
# A first start creates the schema.
start_server LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME"
stop_server
mysql -uroot -h127.0.0.1 "$DBNAME" <<SQL
INSERT INTO users (openid, created_at) VALUES ('dev_sched_owner', UTC_TIMESTAMP(6));
INSERT INTO events (creator_id, title, description, status, draw_mode, draw_at, max_participants,
                    participant_count, seed, seed_hash, created_at)
SELECT 1, CONCAT('scheduled ', seq), '', 0, 0,
       UTC_TIMESTAMP(6) + INTERVAL (3600 + seq % (300 * 86400)) SECOND, NULL, 0,
       UNHEX(SHA2(seq, 256)), SHA2(CONCAT('s', seq), 256), UTC_TIMESTAMP(6)
FROM seq_1_to_${EVENTS};
INSERT INTO prizes (event_id, position, name, quantity) SELECT id, 0, 'prize', 1 FROM events;
SQL
echo "$(mysql -uroot -h127.0.0.1 -N "$DBNAME" -e 'SELECT COUNT(*) FROM events WHERE status = 0') open events scheduled"
start_server LOTTERY_DATABASE_URL="mysql://root@127.0.0.1:3306/$DBNAME"
sleep 12   # past the first schedule refill (every 10 s)
curl -fsS "$BASE/api/v1/events/$EVENTS" >/dev/null
echo "server RSS with $EVENTS scheduled events: $(awk '/VmRSS/ {print $2, $3}' /proc/$SERVER_PID/status)"
echo "scheduled draws held in memory: $(curl -fsS "$BASE/metrics" | awk '/^lottery_scheduled_draws/ {print $2}')"
