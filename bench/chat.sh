#!/usr/bin/env bash
# Chat round trip end to end (issue 5): a Mattermost outgoing-webhook form request answered by a
# fast local service, measured in one run four ways: the service called directly, the service
# behind nginx `proxy_pass` (keepalive upstream), behind Switchyard (`/hooks/outgoing`,
# `mattermost-form`, a synchronous reply), and behind `examples/bare_forwarder.rs` (actix-web and
# hyper-util's client forwarding the body and nothing else: the floor of Switchyard's HTTP
# stack). Throughput under load first, then latency with one connection at a time; each run also
# shows the CPU time every server process spent per request.
# Usage: bench/chat.sh            (DURATION=10s CONNECTIONS=64 THREADS=2 to change the load)
#        BASELINE=/path/to/an/older/switchyard ROUNDS=3 bench/chat.sh
#   also serves the same trigger from the older build and alternates throughput runs between the
#   two, ROUNDS times: a before/after comparison in one sitting.
#        INSTRUCTIONS=1 [BASELINE=…] bench/chat.sh
#   instead counts the instructions a chat request costs in this build, the baseline and the bare
#   forwarder with valgrind's callgrind: runs of 3 s and 13 s under `wrk -t1 -c8`, the difference
#   in instructions divided by the difference in requests, so start-up cancels out. Repeatable to
#   about 1 % however busy the machine is: for changes too small for wall-clock runs to show.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
TOKEN=bench-admin-token-0123456789
CHAT_TOKEN=zmigewsanbbsdf59xnmduzypjc
SERVICE=18101 PROXY=18102 GATEWAY=18103 BARE=18104 OLDER=18105 COUNTED=18106
BASELINE=${BASELINE:-}
ROUNDS=${ROUNDS:-3}
INSTRUCTIONS=${INSTRUCTIONS:-0}

tools="wrk nginx curl"
[ "$INSTRUCTIONS" = 0 ] || tools="$tools valgrind"
for tool in $tools; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install wrk nginx curl valgrind)"; exit 1; }
done
cargo build --release --quiet --bin switchyard --example bare_forwarder
WORK=$(mktemp -d)
cleanup() {
    for pid in "$WORK"/*.pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done
    for pid in "${GATEWAY_PID:-}" "${BARE_PID:-}" "${OLDER_PID:-}" "${SERVED_PID:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/logs"
# The service and the proxy are separate nginx processes, so the proxy, like Switchyard, reaches
# the service over loopback in another process.
cat >"$WORK/service.conf" <<CONF
worker_processes 1;
pid $WORK/service.pid;
error_log $WORK/logs/service.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$SERVICE;
        location / { default_type application/json; return 200 '{"text":"build queued"}'; }
    }
}
CONF
cat >"$WORK/proxy.conf" <<CONF
worker_processes auto;
pid $WORK/proxy.pid;
error_log $WORK/logs/proxy.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    upstream service { server 127.0.0.1:$SERVICE; keepalive 128; }
    server {
        listen 127.0.0.1:$PROXY;
        location / {
            proxy_pass http://service;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
nginx -c "$WORK/service.conf" -p "$WORK"
nginx -c "$WORK/proxy.conf" -p "$WORK"

# await_ready PORT NAME: the server there answers (the bare forwarder answers every path).
await_ready() {
    local ready=
    # Under valgrind start-up takes seconds.
    for _ in $(seq 1 600); do
        curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && { ready=1; break; }
        sleep 0.05
    done
    [ -n "$ready" ] || { echo "$2 did not get ready on $1"; cat "$WORK/logs/$2.log"; exit 1; }
}

# serve BINARY PORT NAME [WRAPPER…]: a Switchyard (run by the wrapper command, if one is given)
# with its own database and the benchmark's trigger; its pid in SERVED_PID.
serve() {
    local binary=$1 port=$2 name=$3
    shift 3
    SWITCHYARD_LISTEN=127.0.0.1:$port SWITCHYARD_DATABASE_URL="sqlite://$WORK/$name.db" \
    SWITCHYARD_ADMIN_TOKEN=$TOKEN SWITCHYARD_OUTBOUND_ALLOWED_CIDRS=127.0.0.0/8 SWITCHYARD_LOG_LEVEL=warn \
        "$@" "$binary" serve >"$WORK/logs/$name.log" 2>&1 &
    SERVED_PID=$!
    await_ready "$port" "$name"
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        "http://127.0.0.1:$port/api/v1/triggers" -d @- <<JSON
{"name": "build", "tokens": ["$CHAT_TOKEN"], "trigger_words": ["#build"],
 "services": [{"endpoint": {"url": "http://127.0.0.1:$SERVICE/chat"}, "format": "mattermost-form"}]}
JSON
}

# serve_bare PORT NAME [WRAPPER…]: the bare forwarder in front of the service; its pid in
# SERVED_PID.
serve_bare() {
    local port=$1 name=$2
    shift 2
    "$@" target/release/examples/bare_forwarder "127.0.0.1:$port" "http://127.0.0.1:$SERVICE/chat" \
        >"$WORK/logs/$name.log" 2>&1 &
    SERVED_PID=$!
    await_ready "$port" "$name"
}

# Mattermost's form for `#build now`, as Mattermost encodes it.
BODY="channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-square&file_ids=&post_id=axdygg1957njfe5pu38saikdho&team_domain=someteam&team_id=kwoknj9nwpypzgzy78wkw516qe&text=%23build+now&timestamp=1445532266&token=$CHAT_TOKEN&trigger_word=%23build&user_id=rnina9994bde8mua79zqcg5hmo&user_name=somename"
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$BODY"
LUA

# expect_reply PORT: the server there answers the benchmark's request as it should.
expect_reply() {
    local answer
    answer=$(curl -s -H 'Content-Type: application/x-www-form-urlencoded' -d "$BODY" "http://127.0.0.1:$1/hooks/outgoing")
    [ "$answer" = '{"text":"build queued"}' ] || { echo "unexpected answer from Switchyard on $1: $answer"; cat "$WORK"/logs/*.log; exit 1; }
}

# instructions NAME START…: the instructions one chat request costs the server that `START… PORT
# NAME WRAPPER…` starts (see the top).
instructions() {
    local name=$1 seconds out total counts=()
    shift
    for seconds in 3 13; do
        "$@" "$COUNTED" "$name-$seconds" valgrind --tool=callgrind --callgrind-out-file="$WORK/$name-$seconds.callgrind"
        expect_reply "$COUNTED"
        out=$(wrk -t1 -c8 -d"${seconds}s" -s "$WORK/post.lua" "http://127.0.0.1:$COUNTED/hooks/outgoing")
        if grep -q -e "Non-2xx" -e "Socket errors" <<<"$out"; then echo "$name: errors"; echo "$out"; exit 1; fi
        kill -TERM "$SERVED_PID"
        wait "$SERVED_PID" || true
        total=$(awk '/^(summary|totals):/ {print $2; exit}' "$WORK/$name-$seconds.callgrind")
        [ -n "$total" ] || { echo "$name: callgrind wrote no totals"; exit 1; }
        counts+=("$(awk '/requests in/ {print $1}' <<<"$out")" "$total")
    done
    awk -v name="$name" -v r1="${counts[0]}" -v i1="${counts[1]}" -v r2="${counts[2]}" -v i2="${counts[3]}" \
        'BEGIN {printf "%-12s %.0f instructions a chat request (%d and %d requests)\n", name, (i2 - i1) / (r2 - r1), r1, r2}'
}
if [ "$INSTRUCTIONS" != 0 ]; then
    instructions this-build serve target/release/switchyard
    if [ -n "$BASELINE" ]; then instructions baseline serve "$BASELINE"; fi
    instructions bare serve_bare
    exit 0
fi

serve target/release/switchyard "$GATEWAY" switchyard
GATEWAY_PID=$SERVED_PID
if [ -n "$BASELINE" ]; then
    serve "$BASELINE" "$OLDER" baseline
    OLDER_PID=$SERVED_PID
fi
serve_bare "$BARE" bare
BARE_PID=$SERVED_PID

for port in "$GATEWAY" ${OLDER_PID:+"$OLDER"}; do expect_reply "$port"; done

# CPU time (user + system, in clock ticks) the given processes have used so far.
ticks() { local total=0 pid; for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }
SERVICE_PIDS=$(pgrep -P "$(cat "$WORK/service.pid")" | xargs)
PROXY_PIDS=$(pgrep -P "$(cat "$WORK/proxy.pid")" | xargs)
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# run NAME URL THREADS CONNECTIONS: prints requests/s, the latency percentiles and the CPU time
# each server process spent per request (where the two cores went; "Switchyard" counts both builds
# when there is a baseline, only the one under load is busy).
run() {
    local out before after requests
    before=($(ticks $SERVICE_PIDS) $(ticks $PROXY_PIDS) $(ticks $GATEWAY_PID ${OLDER_PID:-}) $(ticks $BARE_PID))
    out=$(wrk -t"$3" -c"$4" -d"$DURATION" --latency -s "$WORK/post.lua" "$2")
    after=($(ticks $SERVICE_PIDS) $(ticks $PROXY_PIDS) $(ticks $GATEWAY_PID ${OLDER_PID:-}) $(ticks $BARE_PID))
    if grep -q "Non-2xx" <<<"$out"; then echo "$1: errors"; echo "$out"; exit 1; fi
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    per_request() { awk -v t="$1" -v us="$TICK_US" -v n="$requests" 'BEGIN {printf "%.1f", t * us / n}'; }
    printf '%-26s %10s req/s   p50 %8s   p90 %8s   p99 %8s   CPU/request µs: service %s, nginx proxy %s, Switchyard %s, bare forwarder %s\n' "$1" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
        "$(awk '$1 == "90%" {print $2}' <<<"$out")" \
        "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
        "$(per_request $((after[0] - before[0])))" \
        "$(per_request $((after[1] - before[1])))" \
        "$(per_request $((after[2] - before[2])))" \
        "$(per_request $((after[3] - before[3])))"
}

echo "== throughput: $THREADS threads, $CONNECTIONS connections, $DURATION each"
run "service directly" "http://127.0.0.1:$SERVICE/chat" "$THREADS" "$CONNECTIONS"
run "behind nginx proxy_pass" "http://127.0.0.1:$PROXY/chat" "$THREADS" "$CONNECTIONS"
run "behind Switchyard" "http://127.0.0.1:$GATEWAY/hooks/outgoing" "$THREADS" "$CONNECTIONS"
run "bare actix+hyper-util" "http://127.0.0.1:$BARE/hooks/outgoing" "$THREADS" "$CONNECTIONS"
if [ -n "$BASELINE" ]; then
    echo "== before/after: $ROUNDS rounds alternating the baseline ($BASELINE) and this build"
    for round in $(seq 1 "$ROUNDS"); do
        run "round $round: baseline" "http://127.0.0.1:$OLDER/hooks/outgoing" "$THREADS" "$CONNECTIONS"
        run "round $round: this build" "http://127.0.0.1:$GATEWAY/hooks/outgoing" "$THREADS" "$CONNECTIONS"
    done
fi
echo "== latency: one connection, $DURATION each"
run "service directly" "http://127.0.0.1:$SERVICE/chat" 1 1
run "behind nginx proxy_pass" "http://127.0.0.1:$PROXY/chat" 1 1
run "behind Switchyard" "http://127.0.0.1:$GATEWAY/hooks/outgoing" 1 1
run "bare actix+hyper-util" "http://127.0.0.1:$BARE/hooks/outgoing" 1 1
events=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$GATEWAY/metrics" | awk '/^switchyard_http_requests_total.*hooks\/outgoing.*200/ {print $2}')
echo "Switchyard answered $events chat requests with 200"
