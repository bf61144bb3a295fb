"""The one launcher of the real orders-service binary, and raw HTTP to talk to it.

Used by tests/functional (conftest.py's fixtures, orders_env.py), the OpenAPI checker's test
and tests/deploy/scale-out (``import harness``, with tests/support on the import path).
Everything runs on 127.0.0.1, every wait is bounded, and only the PID we started is signalled.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / "build" / "dev" / "orders-service"


def binary_path() -> Path:
    """The binary under test: $ORDERS_BINARY, else the dev preset's build."""
    return Path(os.environ.get("ORDERS_BINARY", str(DEFAULT_BINARY)))


def free_port() -> int:
    """A port that was free a moment ago (the kernel picks it; small race, fine on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    """A running orders-service process."""

    process: subprocess.Popen
    port: int
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    env: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return self.base_url + path

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        if self.running():
            os.kill(self.process.pid, sig)

    def wait(self, timeout: float) -> int:
        """Exit code; raises subprocess.TimeoutExpired when still running after `timeout` s."""
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to `timeout` s, then SIGKILL. Returns the exit code."""
        if not self.running():
            return self.process.returncode
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            return self.process.wait(timeout=5)


def run_binary(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 30):
    """Runs the binary once with `args` (a command that exits by itself: version, migrate,
    healthcheck, a refused setting) and returns the completed process, output as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [str(binary_path()), *args],
        env=full_env,
        cwd=str(cwd) if cwd else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_service(
    work_dir: Path,
    env: dict | None = None,
    args: tuple[str, ...] = (),
    ready_timeout: float = 20.0,
    wait_ready: bool = True,
    port: int | None = None,
    binary: Path | None = None,
) -> Service:
    """Starts `binary serve` (default: binary_path()) with PORT (`port`, else a free one),
    HOST=127.0.0.1 and DATA_DIR under `work_dir`, plus `env` (e.g. DATABASE_URL, JWT_SECRET),
    and waits until GET /health answers 200. stdout/stderr go to files in `work_dir` (shown
    when start-up fails)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = work_dir / "data"
    data_dir.mkdir(exist_ok=True)
    if port is None:
        port = free_port()
    full_env = dict(os.environ)
    full_env.update({"HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": str(data_dir)})
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    stdout_path = work_dir / f"stdout.{port}.log"
    stderr_path = work_dir / f"stderr.{port}.log"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            [str(binary or binary_path()), "serve", *args],
            env=full_env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=str(work_dir),
        )
    service = Service(process, port, data_dir, stdout_path, stderr_path, full_env)
    if not wait_ready:
        return service
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if not service.running():
            raise RuntimeError(
                f"orders-service exited with {process.returncode} during start-up:\n{service.stderr()}"
            )
        try:
            if requests.get(service.url("/health"), timeout=1).status_code == 200:
                return service
        except requests.RequestException:
            pass
        time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"orders-service did not answer /health within {ready_timeout} s:\n{service.stderr()}")


# ---- raw HTTP over a socket, for what requests cannot do (pipelining, stalls, limits) ----

def connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


@dataclass
class RawResponse:
    status: int
    headers: dict  # lower-case names
    body: bytes


def read_response(sock: socket.socket, buffer: bytearray | None = None, head: bool = False) -> RawResponse:
    """Reads one HTTP/1.1 response (Content-Length framing) from `sock`. Bytes after it stay
    in `buffer` for the next call (pipelining). Raises ConnectionError on EOF."""
    buf = buffer if buffer is not None else bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a full response header")
        buf += chunk
    header_end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:header_end]).decode("latin-1").split("\r\n")
    del buf[: header_end + 4]
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    if not match:
        raise ValueError(f"bad status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        buf += chunk
    body = bytes(buf[:length])
    del buf[:length]
    return RawResponse(int(match.group(1)), headers, body)


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def get_request(path: str = "/health", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
