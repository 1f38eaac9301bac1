#!/usr/bin/env bash
# End-to-end delivery benchmark (issue 3): durable deliveries a second from client send to
# receiver arrival, on SQLite and PostgreSQL (one and two processes), intake alone, and latency
# at 20 events a second; alerts accepted a second (issue 6; on PostgreSQL alone, one or two
# processes, with alerts-postgres and alerts-postgres2: issue 20), one by one and through an
# Alertmanager source in groups of 50 (issue 18).
# Usage: bench/delivery.sh [sqlite|postgres|postgres2|intake|latency|alerts|alerts-postgres|alerts-postgres2|sources|all]
#        BIN=/path/to/an/older/switchyard bench/delivery.sh sqlite   (measures that build instead)
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${SWITCHYARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
TOKEN=bench-admin-token-0123456789
EVENTS=${EVENTS:-20000}
CONNECTIONS=${CONNECTIONS:-32}

cargo build --release --quiet --bin switchyard --example delivery_bench
BIN=${BIN:-target/release/switchyard}
BENCH=target/release/examples/delivery_bench
WORK=$(mktemp -d)
PIDS=()
# Every PostgreSQL database this run creates starts with this; they are dropped at the end
# (KEEP=1 keeps them, to look at what a run stored).
RUN_PREFIX="switchyard_bench_$RANDOM$RANDOM"
drop_databases() {
    [ "${KEEP:-0}" = 1 ] && return
    for name in $(psql "$PG" -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${RUN_PREFIX}_%'" 2>/dev/null); do
        psql "$PG" -qc "DROP DATABASE \"$name\" WITH (FORCE)" >/dev/null 2>&1 || echo "could not drop $name"
    done
}
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; drop_databases; rm -rf "$WORK"; }
trap cleanup EXIT

# start_server PORT DATABASE_URL
start_server() {
    SWITCHYARD_LISTEN=127.0.0.1:$1 SWITCHYARD_DATABASE_URL=$2 SWITCHYARD_ADMIN_TOKEN=$TOKEN \
    SWITCHYARD_OUTBOUND_ALLOWED_CIDRS=127.0.0.0/8 SWITCHYARD_LOG_LEVEL=warn \
        "$BIN" serve >"$WORK/server-$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.05; done
    echo "server on $1 did not start"; cat "$WORK/server-$1.log"; exit 1
}
stop_servers() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; PIDS=(); }
# PostgreSQL on the same host: TLS would only add encryption to every round trip.
fresh_pg() {
    local name="${RUN_PREFIX}_$RANDOM"
    psql "$PG" -qc "CREATE DATABASE $name" >/dev/null
    echo "${PG%/*}/$name?sslmode=disable"
}

run() { # name, database URL, processes, extra bench arguments
    local name=$1 url=$2 processes=$3; shift 3
    local servers=()
    for n in $(seq 1 "$processes"); do start_server $((18080 + n)) "$url"; servers+=(--server "http://127.0.0.1:$((18080 + n))"); done
    echo "== $name"
    "$BENCH" "${servers[@]}" --token "$TOKEN" "$@"
    stop_servers
}

scenario=${1:-all}
case $scenario in sqlite|all) run "SQLite, one process, $EVENTS events over $CONNECTIONS connections" "sqlite://$WORK/a.db" 1 --events "$EVENTS" --connections "$CONNECTIONS";; esac
case $scenario in postgres|all) run "PostgreSQL, one process, $EVENTS events over $CONNECTIONS connections" "$(fresh_pg)" 1 --events "$EVENTS" --connections "$CONNECTIONS";; esac
case $scenario in postgres2|all) run "PostgreSQL, two processes, $EVENTS events over $CONNECTIONS connections" "$(fresh_pg)" 2 --events "$EVENTS" --connections "$CONNECTIONS";; esac
case $scenario in intake|all)
    run "SQLite intake only (no webhook)" "sqlite://$WORK/b.db" 1 --events "$EVENTS" --connections "$CONNECTIONS" --no-webhook
    run "PostgreSQL intake only (no webhook)" "$(fresh_pg)" 1 --events "$EVENTS" --connections "$CONNECTIONS" --no-webhook;;
esac
case $scenario in alerts|all) run "SQLite alerts, $EVENTS triggers over 1000 keys, one webhook on incident.*" "sqlite://$WORK/d.db" 1 --events "$EVENTS" --connections "$CONNECTIONS" --alerts 1000;; esac
case $scenario in alerts|alerts-postgres|all) run "PostgreSQL alerts, $EVENTS triggers over 1000 keys, one webhook on incident.*" "$(fresh_pg)" 1 --events "$EVENTS" --connections "$CONNECTIONS" --alerts 1000;; esac
case $scenario in alerts|alerts-postgres2|all) run "PostgreSQL alerts, two processes, $EVENTS triggers over 1000 keys, one webhook on incident.*" "$(fresh_pg)" 2 --events "$EVENTS" --connections "$CONNECTIONS" --alerts 1000;; esac
case $scenario in sources|all)
    run "SQLite source: Alertmanager groups of 50 alerts over 1000 fingerprints, one webhook on incident.*" "sqlite://$WORK/e.db" 1 --events "$EVENTS" --connections "$CONNECTIONS" --alerts 1000 --groups 50
    run "PostgreSQL source: Alertmanager groups of 50 alerts over 1000 fingerprints, one webhook on incident.*" "$(fresh_pg)" 1 --events "$EVENTS" --connections "$CONNECTIONS" --alerts 1000 --groups 50;;
esac
case $scenario in latency|all)
    run "SQLite latency at 20 events/s" "sqlite://$WORK/c.db" 1 --events 600 --rate 20
    run "PostgreSQL latency at 20 events/s" "$(fresh_pg)" 1 --events 600 --rate 20;;
esac
