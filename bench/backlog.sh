#!/usr/bin/env bash
# Memory with a large backlog (issue 3): RSS idle, then while BACKLOG events (default 1,000,000)
# wait in the queue for a receiver that is down for maintenance (503, Retry-After: 3600). Usage: bench/backlog.sh [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
BACKLOG=${BACKLOG:-1000000}
TOKEN=bench-admin-token-0123456789
PG=${SWITCHYARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
cargo build --release --quiet --bin switchyard --example delivery_bench
WORK=$(mktemp -d)
case ${1:-sqlite} in
    sqlite) URL="sqlite://$WORK/backlog.db" ;;
    postgres) NAME="switchyard_backlog_$RANDOM"; psql "$PG" -qc "CREATE DATABASE $NAME"; URL="${PG%/*}/$NAME?sslmode=disable" ;;
esac
SWITCHYARD_LISTEN=127.0.0.1:18180 SWITCHYARD_DATABASE_URL=$URL SWITCHYARD_ADMIN_TOKEN=$TOKEN \
SWITCHYARD_OUTBOUND_ALLOW_PRIVATE_NETWORKS=true SWITCHYARD_LOG_LEVEL=warn target/release/switchyard serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
until curl -sf http://127.0.0.1:18180/readyz >/dev/null; do sleep 0.05; done
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status; }
sleep 1; IDLE=$(rss); echo "idle RSS: $IDLE MiB"
target/release/examples/delivery_bench --server http://127.0.0.1:18180 --token $TOKEN --events "$BACKLOG" --connections 32 --down-receiver &
LOADER=$!
MAX=$IDLE
while kill -0 $LOADER 2>/dev/null; do sleep 2; NOW=$(rss); MAX=$(echo "$NOW $MAX" | awk '{print ($1>$2)?$1:$2}'); done
echo "backlog loaded; sampling for 60 s more"
for _ in $(seq 1 30); do sleep 2; NOW=$(rss); MAX=$(echo "$NOW $MAX" | awk '{print ($1>$2)?$1:$2}'); done
case $URL in
    sqlite://*) PENDING=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from deliveries where status='pending'\").fetchone()[0])" "${URL#sqlite://}") ;;
    *) PENDING=$(psql "${URL%%\?*}" -tAc "select count(*) from deliveries where status='pending'") ;;
esac
echo "RSS: idle $IDLE MiB, at most $MAX MiB with $PENDING deliveries pending (growth $(echo "$MAX $IDLE" | awk '{printf "%.1f", $1-$2}') MiB)"
