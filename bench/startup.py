#!/usr/bin/env python3
"""Time from process start to /readyz answering 200, and idle RSS, for SQLite and PostgreSQL.

Usage: bench/startup.py [--binary target/release/switchyard] [--postgres postgres://…/test] [--runs 10]
Each run uses a fresh SQLite file or a fresh PostgreSQL database.
"""
import argparse, http.client, os, statistics, subprocess, tempfile, time, uuid

def ready_time(binary, env, cwd):
    port = free_port()
    env = dict(env, SWITCHYARD_LISTEN=f"127.0.0.1:{port}", SWITCHYARD_LOG_LEVEL="warn",
               SWITCHYARD_ADMIN_TOKEN="bench-admin-token-0123456789")
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "serve"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    elapsed = time.perf_counter() - start
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit("switchyard exited before becoming ready")
            time.sleep(0.001)
        time.sleep(1.0)
        rss_kib = next(int(line.split()[1]) for line in open(f"/proc/{proc.pid}/status")
                       if line.startswith("VmRSS:"))
        return elapsed * 1000, rss_kib / 1024
    finally:
        proc.terminate()
        proc.wait()

def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def psql(url, sql):
    subprocess.run(["psql", url, "-qc", sql], check=True, stdout=subprocess.DEVNULL)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/switchyard")
    parser.add_argument("--postgres")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    for backend in backends:
        times, rss = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as dir:
                env = dict(base_env)
                name = None
                if backend == "postgres":
                    name = f"switchyard_bench_{uuid.uuid4().hex}"
                    psql(args.postgres, f'CREATE DATABASE "{name}"')
                    env["SWITCHYARD_DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + name
                try:
                    ms, mib = ready_time(binary, env, dir)
                finally:
                    if name:
                        psql(args.postgres, f'DROP DATABASE "{name}" WITH (FORCE)')
                times.append(ms)
                rss.append(mib)
        print(f"{backend:8} ready: median {statistics.median(times):6.1f} ms, "
              f"min {min(times):6.1f}, max {max(times):6.1f} | idle RSS median "
              f"{statistics.median(rss):5.1f} MiB, max {max(rss):5.1f} MiB ({args.runs} fresh starts)")

if __name__ == "__main__":
    main()
