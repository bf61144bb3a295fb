"""One orders-service process on 127.0.0.1 with an SQLite database in a temporary directory,
for the OpenAPI tests that need the real binary ($ORDERS_BINARY)."""

import contextlib
import os
import socket
import subprocess
import time
import uuid

import pytest
import requests

BINARY = os.environ.get("ORDERS_BINARY", "")
START_TIMEOUT_S = 20
JWT_SECRET = "openapi-test-" + uuid.uuid4().hex


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, port, process, log_path):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log_path = log_path

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]


@contextlib.contextmanager
def started_service(workdir):
    if not BINARY or not os.access(BINARY, os.X_OK):
        pytest.skip("ORDERS_BINARY is not set to the orders-service binary")
    port = _free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), DATA_DIR=str(workdir),
               DATABASE_URL="sqlite://" + os.path.join(str(workdir), "orders.db"),
               JWT_SECRET=JWT_SECRET, THREADS="1", LOG_LEVEL="warn")
    log_path = os.path.join(str(workdir), "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([BINARY, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    server = _Server(port, process, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"orders-service exited with {process.returncode}:\n{server.log()}")
            try:
                if requests.get(server.base_url + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"orders-service did not start within {START_TIMEOUT_S} s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
