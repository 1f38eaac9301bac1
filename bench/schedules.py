#!/usr/bin/env python3
"""Schedules under load (issue 19): N schedules due at the same instant, on SQLite and PostgreSQL.

Measures, per backend:
  - lag from the due time to the `schedule.fired` event being stored (its `occurred_at`, set in
    the transaction that stores it), p50 / p99 / max, and that each schedule fired exactly once;
  - the CPU time `serve` spends idle while holding the N schedules, against a fresh `serve` with
    none, over the same span.
The schedules fire to one webhook. With --deliver it points at an nginx answering 200, so the
deliveries compete for the two cores as they would in use; without, the webhook is paused and the
figure is the scheduler's alone.

Usage: bench/schedules.py [--binary target/release/switchyard] [--postgres postgres://…/test]
                          [--schedules 10000] [--idle 20] [--deliver]
"""
import argparse, concurrent.futures, http.client, json, os, shutil, statistics, subprocess
import tempfile, time, uuid
from datetime import datetime, timezone

TOKEN = "bench-admin-token-0123456789"


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        payload = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closes connections idle beyond its keep-alive: open another.
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


def start_serve(binary, env, cwd):
    port = free_port()
    env = dict(env, SWITCHYARD_LISTEN=f"127.0.0.1:{port}", SWITCHYARD_LOG_LEVEL="warn",
               SWITCHYARD_ADMIN_TOKEN=TOKEN, SWITCHYARD_OUTBOUND_ALLOWED_CIDRS="127.0.0.0/8")
    proc = subprocess.Popen([binary, "serve"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(2000):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit("switchyard exited before becoming ready")
        time.sleep(0.01)
    raise SystemExit("switchyard did not become ready")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(pid, seconds):
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def busy_cpu(pid):
    """CPU seconds the process spends from now until it is idle again (two quiet samples)."""
    start = last = cpu_seconds(pid)
    time.sleep(1.0)
    quiet = 0
    while quiet < 2:
        time.sleep(0.25)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now
    return last - start


def start_nginx(workdir):
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; pid {workdir}/nginx.pid; error_log {workdir}/nginx.log warn;
events {{ worker_connections 4096; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port}; location / {{ return 200 'ok'; }} }} }}
""")
    subprocess.run(["nginx", "-c", conf, "-p", workdir], check=True)
    return port


def create_schedules(port, webhook, count, due_iso):
    def create(chunk):
        api = Api(port)
        for n in chunk:
            api.call("POST", "/api/v1/schedules", {
                "name": f"s{n:05}", "webhook": webhook, "every": "1d", "start_at": due_iso,
                "payload": {"text": "report {{schedule.name}} due {{due_at}}"}})
    chunks = [range(i, count, 8) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(create, chunks))


def fired_events(api, expected, patience):
    deadline = time.time() + patience
    while True:
        events, cursor = [], None
        while True:
            path = "/api/v1/events?type=schedule.fired&limit=500" + (f"&cursor={cursor}" if cursor else "")
            page = api.call("GET", path)
            events += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        if len(events) >= expected or time.time() > deadline:
            return events
        time.sleep(1)


def millis(iso):
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def run(binary, env, cwd, count, idle_seconds, nginx_port):
    baseline, port = start_serve(binary, env, cwd)
    empty_cpu = idle_cpu(baseline.pid, idle_seconds)
    baseline.terminate()
    baseline.wait()

    proc, port = start_serve(binary, env, cwd)
    try:
        api = Api(port)
        url = f"http://127.0.0.1:{nginx_port}/" if nginx_port else "http://127.0.0.1:9/"
        webhook = api.call("POST", "/api/v1/webhooks", {
            "name": "reports", "endpoint": {"url": url}, "events": ["schedule.fired"],
            "active": bool(nginx_port)})["id"]
        due = (int(time.time()) // 60 + 3) * 60
        due_iso = datetime.fromtimestamp(due, timezone.utc).isoformat().replace("+00:00", "Z")
        started = time.time()
        create_schedules(port, webhook, count, due_iso)
        created_in = time.time() - started
        if time.time() + idle_seconds + 5 > due:
            raise SystemExit("creating the schedules took too long to measure idle CPU before they fire")
        time.sleep(1)
        held_cpu = idle_cpu(proc.pid, idle_seconds)
        time.sleep(max(0, due - 0.5 - time.time()))
        firing_cpu = busy_cpu(proc.pid)
        events = fired_events(api, count, patience=120)
    finally:
        proc.terminate()
        proc.wait()
    lags = sorted(millis(e["occurred_at"]) - millis(e["data"]["due_at"]) for e in events)
    distinct = len({e["subject"] for e in events})
    return {
        "created_per_s": count / created_in, "fired": len(events), "distinct": distinct,
        "p50": lags[len(lags) // 2], "p99": lags[int(len(lags) * 0.99) - 1], "max": lags[-1],
        "idle_cpu_empty": empty_cpu, "idle_cpu_held": held_cpu, "firing_cpu": firing_cpu,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/switchyard")
    parser.add_argument("--postgres")
    parser.add_argument("--schedules", type=int, default=10000)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--deliver", action="store_true")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    with tempfile.TemporaryDirectory() as work:
        nginx_port = start_nginx(work) if args.deliver else None
        try:
            for backend in backends:
                env = dict(base_env)
                if backend == "sqlite":
                    env["SWITCHYARD_DATABASE_URL"] = f"sqlite://{work}/{uuid.uuid4().hex}.db"
                else:
                    name = f"switchyard_bench_{uuid.uuid4().hex}"
                    subprocess.run(["psql", args.postgres, "-qc", f"CREATE DATABASE {name}"], check=True,
                                   stdout=subprocess.DEVNULL)
                    env["SWITCHYARD_DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + f"/{name}?sslmode=disable"
                r = run(binary, env, work, args.schedules, args.idle, nginx_port)
                print(f"{backend}: {args.schedules} schedules due at one instant "
                      f"({'delivered to nginx' if nginx_port else 'webhook paused'}): fired {r['fired']} "
                      f"({r['distinct']} distinct); lag due → stored p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
                      f"max {r['max']:.0f} ms; CPU firing {r['firing_cpu']:.2f} s; created {r['created_per_s']:.0f}/s; idle CPU over {args.idle} s: "
                      f"{r['idle_cpu_held']:.2f} s holding them, {r['idle_cpu_empty']:.2f} s with none")
        finally:
            if nginx_port:
                subprocess.run(["nginx", "-c", f"{work}/nginx.conf", "-p", work, "-s", "stop"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
