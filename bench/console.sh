#!/usr/bin/env bash
# Console pages under a large store (issue 22): server time (p50, p99) and HTML weight of
# /ui/deliveries (first page; one webhook with status=failed; page 50), /ui/incidents (first page)
# and one incident's page (with its latest deliveries).
# Usage: bench/console.sh [sqlite|postgres]   (BIN=/path/to/an/older/switchyard measures that build)
#   (run it as `flock /tmp/cargo.lock bench/console.sh` when other builds share the machine).
#
# Seeds (straight into the tables, after the server has created the schema):
#   WEBHOOKS (10) webhooks, made through the API so their configuration is real;
#   DELIVERIES (1,000,000) deliveries, one event each (about an incident: 10 events an
#     incident), over the last 30 days, time-ordered
#     UUIDv7 ids (`evt_…`, `dlv_…`, as src/ids.rs new_id makes them), each for one of the
#     webhooks at random, 1 in FAILED_EVERY (50) failed with a 500, 1 in 100 pending (due in an
#     hour, so the delivery engine stays idle while pages are timed), the rest succeeded;
#   INCIDENTS (100,000) incidents over the same 30 days (`inc_…`, numbers 1…N, counter moved on),
#     severities and statuses mixed (1 in 20 open, 1 in 20 acknowledged), one timeline entry each.
# Measures: signs in (GET /ui/sign-in for the form token and its cookie, POST it with the
# admin token), then requests each page REQUESTS (200) times in sequence after 10 warm-ups, and
# reads the server time from the `request completed` log lines (latency_ms, matched by the
# X-Request-Id the script sends). Bytes are the HTML body's size. Page 50 is reached by following
# the "Older deliveries" link 49 times from the first page.
set -euo pipefail
cd "$(dirname "$0")/.."
WEBHOOKS=${WEBHOOKS:-10}
DELIVERIES=${DELIVERIES:-1000000}
INCIDENTS=${INCIDENTS:-100000}
FAILED_EVERY=${FAILED_EVERY:-50}
REQUESTS=${REQUESTS:-200}
TOKEN=bench-admin-token-0123456789
PORT=18181
BASE=http://127.0.0.1:$PORT
PG=${SWITCHYARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet --bin switchyard
BIN=${BIN:-$TARGET/release/switchyard}
WORK=$(mktemp -d)
NAME=
case ${1:-sqlite} in
    sqlite) URL="sqlite://$WORK/console.db" ;;
    postgres) NAME="switchyard_console_$RANDOM"; psql "$PG" -qc "CREATE DATABASE $NAME"; URL="${PG%/*}/$NAME?sslmode=disable" ;;
    *) echo "usage: bench/console.sh [sqlite|postgres]" >&2; exit 2 ;;
esac
PID=
start() {
    SWITCHYARD_LISTEN=127.0.0.1:$PORT SWITCHYARD_DATABASE_URL=$URL SWITCHYARD_ADMIN_TOKEN=$TOKEN \
    SWITCHYARD_OUTBOUND_ALLOW_PRIVATE_NETWORKS=true SWITCHYARD_LOG_LEVEL=info SWITCHYARD_LOG_FORMAT=json \
        "$BIN" serve >"$WORK/server.log" 2>&1 &
    PID=$!
    until curl -sf $BASE/readyz >/dev/null; do sleep 0.05; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
cleanup() {
    [ -z "$PID" ] || stop
    [ -z "$NAME" ] || [ -n "${KEEP:-}" ] || psql "$PG" -qc "DROP DATABASE $NAME"
    if [ -n "${KEEP:-}" ]; then echo "kept $WORK ($URL)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start
for i in $(seq 1 "$WEBHOOKS"); do
    curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' $BASE/api/v1/webhooks \
        -d "{\"name\": \"bench-$i\", \"endpoint\": {\"url\": \"http://127.0.0.1:9/hook-$i\"}, \"events\": [\"x.bench\"]}" >/dev/null
done
stop

echo "seeding $DELIVERIES deliveries and $INCIDENTS incidents…"
SEED_START=$(date +%s)
python3 - "$URL" "$DELIVERIES" "$INCIDENTS" "$FAILED_EVERY" "$WORK" <<'EOF'
import os, random, sys, time, subprocess
url, deliveries, incidents, failed_every, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
random.seed(22)
now = int(time.time() * 1000)
span = 30 * 24 * 3600 * 1000
def uid(prefix, ms):  # UUIDv7 in simple form, as uuid::Uuid::now_v7().simple()
    r = random.getrandbits(74)
    return "%s_%012x7%03x%x%015x" % (prefix, ms, r >> 62, 8 | ((r >> 60) & 3), r & ((1 << 60) - 1))
def times(n):
    return sorted(now - span + random.randrange(span) for _ in range(n))
sqlite = url.startswith("sqlite://")
if sqlite:
    import sqlite3
    db = sqlite3.connect(url[len("sqlite://"):])
    hooks = [r[0] for r in db.execute("select id from webhooks order by id")]
else:
    db = None
    dsn = url.split("?")[0]
    hooks = subprocess.run(["psql", dsn, "-tAc", "select id from webhooks order by id"], capture_output=True, text=True, check=True).stdout.split()
def rows():
    for n, ms in enumerate(times(deliveries)):
        evt, dlv = uid("evt", ms), uid("dlv", ms)
        x = random.random()
        if x < 1 / failed_every:
            status, attempts, code, err = "failed", 8, 500, "receiver answered 500"
        elif x < 1 / failed_every + 0.01:
            status, attempts, code, err = "pending", 1, 503, "receiver answered 503"
        else:
            status, attempts, code, err = "succeeded", 1, 200, None
        yield (evt, ms, dlv, random.choice(hooks), status, attempts, code, err, subjects[n * 7919 % len(subjects)])
def incident_rows():
    sev = ["critical", "warning", "minor", "info"]
    for n, ms in enumerate(times(incidents), start=1):
        status = "open" if n % 20 == 0 else "acknowledged" if n % 20 == 1 else "resolved"
        inc = uid("inc", ms)
        yield (inc, n, "Disk usage above 90%% on db-%d.prod.example.com" % (n % 500), sev[n % 4], status,
               ("disk-db-%d-%d" % (n % 500, n)) if status != "resolved" else None, "bench", ms,
               ms + 60000 if status != "open" else None, ms + 600000 if status == "resolved" else None, uid("itl", ms))
random.seed(23); inc = list(incident_rows()); subjects = [r[0] for r in inc]
if sqlite:
    db.execute("pragma journal_mode=wal"); db.execute("pragma synchronous=off")
    random.seed(22)
    db.executemany("insert into events (id, event_type, subject, occurred_at, payload) values (?, 'x.bench', ?, ?, '{\"host\":\"host-1\",\"value\":1}')", ((r[0], r[8], r[1]) for r in rows()))
    random.seed(22); data = rows()  # the same rows again
    db.executemany("insert into deliveries (id, event_id, webhook_id, status, attempts, max_attempts, next_attempt_at, lease_owner, initiated_by, last_status_code, last_error, created_at, updated_at) values (?, ?, ?, ?, ?, 8, ?, null, 'event', ?, ?, ?, ?)",
                   ((r[2], r[0], r[3], r[4], r[5], now + 3600000 if r[4] == "pending" else r[1], r[6], r[7], r[1], r[1]) for r in data))
    db.executemany("insert into incidents (id, number, title, description, severity, status, dedup_key, source, attributes, forwarded_to, occurrences, created_at, updated_at, acknowledged_at, resolved_at) values (?, ?, ?, '', ?, ?, ?, ?, '[{\"name\":\"host\",\"value\":\"db\"}]', '[]', 1, ?, ?, ?, ?)",
                   ((r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[9] or r[8] or r[7], r[8], r[9]) for r in inc))
    db.executemany("insert into incident_timeline (id, incident_id, at, intent, message, actor, changes) values (?, ?, ?, 'trigger', 'opened', 'source:bench', '[]')",
                   ((r[10], r[0], r[7]) for r in inc))
    db.execute("update counters set value = ? where name = 'incident_number'", (incidents,))
    db.commit(); db.execute("analyze"); db.commit()
else:
    random.seed(22); data = list(rows())
    def q(v): return "\\N" if v is None else str(v)
    with open(work + "/events.tsv", "w") as f:
        for r in data: f.write("%s\tx.bench\t%s\t%d\t{\"host\":\"host-1\",\"value\":1}\n" % (r[0], r[8], r[1]))
    with open(work + "/deliveries.tsv", "w") as f:
        for r in data: f.write("\t".join(map(q, (r[2], r[0], r[3], r[4], r[5], 8, now + 3600000 if r[4] == "pending" else r[1], None, "event", r[6], r[7], r[1], r[1]))) + "\n")
    with open(work + "/incidents.tsv", "w") as f:
        for r in inc: f.write("\t".join(map(q, (r[0], r[1], r[2], "", r[3], r[4], r[5], r[6], '[{"name":"host","value":"db"}]', "[]", 1, r[7], r[9] or r[8] or r[7], r[8], r[9]))) + "\n")
    with open(work + "/timeline.tsv", "w") as f:
        for r in inc: f.write("%s\t%s\t%d\ttrigger\topened\tsource:bench\t[]\n" % (r[10], r[0], r[7]))
    sql = "\n".join([
        "\\copy events (id, event_type, subject, occurred_at, payload) from '%s/events.tsv'" % work,
        "\\copy deliveries (id, event_id, webhook_id, status, attempts, max_attempts, next_attempt_at, lease_owner, initiated_by, last_status_code, last_error, created_at, updated_at) from '%s/deliveries.tsv'" % work,
        "\\copy incidents (id, number, title, description, severity, status, dedup_key, source, attributes, forwarded_to, occurrences, created_at, updated_at, acknowledged_at, resolved_at) from '%s/incidents.tsv'" % work,
        "\\copy incident_timeline (id, incident_id, at, intent, message, actor, changes) from '%s/timeline.tsv'" % work,
        "update counters set value = %d where name = 'incident_number';" % incidents,
        "vacuum analyze;"])
    subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-q"], input=sql, text=True, check=True)
EOF
echo "seeded in $(( $(date +%s) - SEED_START )) s"

start
JAR=$WORK/cookies
FORM=$(curl -sf -c "$JAR" $BASE/ui/sign-in | python3 -c 'import html,re,sys; print(html.unescape(re.search(r"name=\"csrf\" value=\"([^\"]*)\"", sys.stdin.read()).group(1)))')
curl -sf -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$FORM" --data-urlencode "token=$TOKEN" $BASE/ui/sign-in
grep -q sy_session "$JAR" || { echo "sign-in failed" >&2; exit 1; }

older() { python3 -c 'import html,re,sys; print(html.unescape(re.search(r"<a href=\"([^\"]*)\" rel=\"next\">Older deliveries", open(sys.argv[1]).read()).group(1)))' "$1"; }
HOOK=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/webhooks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
PAGE50=/ui/deliveries
for _ in $(seq 1 49); do
    curl -sf -b "$JAR" -o "$WORK/page.html" "$BASE$PAGE50"
    PAGE50=$(older "$WORK/page.html")
done

measure() { # name path
    local name=$1 path=$2
    for i in $(seq 1 10); do curl -sf -b "$JAR" -o /dev/null "$BASE$path"; done
    for i in $(seq 1 "$REQUESTS"); do
        curl -sf -b "$JAR" -H "X-Request-Id: bench-$name-$i" -o "$WORK/$name.html" "$BASE$path"
    done
    local bytes rows
    bytes=$(wc -c <"$WORK/$name.html")
    rows=$(grep -c '<tr' "$WORK/$name.html" || true)
    sleep 0.2
    python3 - "$WORK/server.log" "$name" "$bytes" "$rows" "$path" <<'EOF'
import json, sys
log, name, size, rows, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ms = []
for line in open(log):
    if "request completed" not in line or ("bench-%s-" % name) not in line: continue
    rec = json.loads(line)
    flat = dict(rec); [flat.update(v) for v in rec.values() if isinstance(v, dict)]
    for span in rec.get("spans", []): flat.update(span)
    ms.append(float(flat["latency_ms"]))
ms.sort()
pick = lambda q: ms[min(len(ms) - 1, int(round(q * len(ms) + 0.5)) - 1)]
print("%-22s n=%d p50=%7.2f ms p99=%7.2f ms max=%7.2f ms html=%7d B (%.1f KB) rows=%s  %s" % (name, len(ms), pick(.5), pick(.99), ms[-1], size, size / 1024, rows, path[:90]))
EOF
}
echo "${1:-sqlite}: $DELIVERIES deliveries, $INCIDENTS incidents, $REQUESTS requests a page"
measure deliveries-first /ui/deliveries
measure deliveries-failed "/ui/deliveries?webhook=$HOOK&status=failed"
measure deliveries-page50 "$PAGE50"
measure incidents-first /ui/incidents
measure incident-page "/ui/incidents/$((INCIDENTS / 2))"
