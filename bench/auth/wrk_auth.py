#!/usr/bin/python3
"""What authentication costs a real request, under wrk, on 127.0.0.1.

For HS256, RS256 and ES256, with the verified-token cache on (JWT_CACHE_ENTRIES=1024) and off
(0), starts the release binary (one event loop, SQLite in a temp dir, access log off), creates
one product and one order, then runs wrk against GET /orders/{id} with a bearer token — and
once against GET /health (public, no token, no database) as the unauthenticated baseline.
The route and data are the same in every run, so the differences are the verification.

Usage: bench/auth/wrk_auth.py [BINARY] [--seconds N] [--connections N]
(default binary build/release/orders-service). Keys come from `openssl genpkey`, tokens from
PyJWT. Only processes this script started are signalled, by PID.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, work, env):
    port = free_port()
    full = dict(os.environ)
    full.update({"HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": str(work), "THREADS": "1",
                 "ACCESS_LOG": "false", "LOG_LEVEL": "warn", "JWT_SECRET": ""})
    full.update(env)
    log = open(work / f"server.{port}.log", "wb")
    process = subprocess.Popen([str(binary), "serve"], env=full, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode}; see {log.name}")
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            time.sleep(0.05)
    process.kill()
    sys.exit("server did not become healthy")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def cpu_seconds(pid):
    """utime + stime of every thread of `pid` so far (from /proc, clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, token, seconds, connections, pid):
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    cpu_before = cpu_seconds(pid)
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    cpu_used = cpu_seconds(pid) - cpu_before
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, cpu_used / requests_done * 1e6


def keys(work):
    made = {}
    for name, args in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                       ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])):
        private, public = work / f"{name}.pem", work / f"{name}.pub"
        subprocess.run(["openssl", "genpkey", *args, "-out", str(private)], check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True,
                       capture_output=True)
        made[name] = (private.read_bytes(), public)
    return made


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default=str(ROOT / "build/release/orders-service"))
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    a = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wrk-auth-") as tmp:
        tmp = Path(tmp)
        k = keys(tmp)
        secret = uuid.uuid4().hex * 2
        configs = {
            "HS256": ({"JWT_SECRET": secret}, secret),
            "RS256": ({"JWT_ALGORITHMS": "RS256", "JWT_PUBLIC_KEY_FILE": str(k["rsa"][1])}, k["rsa"][0]),
            "ES256": ({"JWT_ALGORITHMS": "ES256", "JWT_PUBLIC_KEY_FILE": str(k["ec"][1])}, k["ec"][0]),
        }
        print(f"wrk -t1 -c{a.connections} -d{a.seconds}s, server THREADS=1, SQLite, access log off")
        # Server CPU per request is the robust figure on a busy machine; req/s and latency
        # move with whatever else runs.
        print(f"{'request':<34} {'CPU us/req':>10} {'req/s':>9} {'p50':>9} {'p99':>9}")
        baseline_done = False
        for alg, (env, signing_key) in configs.items():
            now = int(time.time())
            user = jwt.encode({"sub": "bench-user", "iat": now, "exp": now + 3600, "roles": ["user"],
                               "scope": "orders:read orders:write"}, signing_key, algorithm=alg)
            admin = jwt.encode({"sub": "bench-admin", "iat": now, "exp": now + 3600, "roles": ["admin"]},
                               signing_key, algorithm=alg)
            for cache in ("1024", "0"):
                work = tmp / f"{alg}-{cache}"
                work.mkdir()
                process, base = start(a.binary, work, {**env, "JWT_CACHE_ENTRIES": cache})
                try:
                    product = "bench-" + uuid.uuid4().hex[:8]
                    r = requests.post(base + "/products", json={"id": product, "name": "Bench", "price_cents": 100,
                                                                  "stock": 1000}, timeout=5,
                                      headers={"Authorization": f"Bearer {admin}"})
                    assert r.status_code == 201, r.text
                    r = requests.post(base + "/orders", json={"items": [{"product_id": product, "quantity": 1}]},
                                      headers={"Authorization": f"Bearer {user}"}, timeout=5)
                    assert r.status_code == 201, r.text
                    order_url = base + "/orders/" + r.json()["id"]
                    if not baseline_done:
                        rps, p50, p99, bad, cpu = wrk(base + "/health", None, a.seconds, a.connections, process.pid)
                        print(f"{'GET /health (public)':<34} {cpu:>10.1f} {rps:>9.0f} {p50:>9} {p99:>9}"
                              + (f"  {bad} non-2xx" if bad else ""))
                        baseline_done = True
                    rps, p50, p99, bad, cpu = wrk(order_url, user, a.seconds, a.connections, process.pid)
                    label = f"GET /orders/{{id}} {alg} cache {'on' if cache != '0' else 'off'}"
                    print(f"{label:<34} {cpu:>10.1f} {rps:>9.0f} {p50:>9} {p99:>9}"
                          + (f"  {bad} non-2xx" if bad else ""))
                finally:
                    stop(process)


if __name__ == "__main__":
    main()
