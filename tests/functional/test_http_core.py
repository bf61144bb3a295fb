"""The HTTP core against the real binary: framing, limits, errors, ids, timeouts, metrics."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

import harness

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def problem(response) -> dict:
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) >= {"detail", "type"}
    return body


# ---- routes, errors, ids ----

def test_health(base_url):
    r = requests.get(base_url + "/health", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/health/", "/metrics/"])
def test_trailing_slash_is_the_same_route(base_url, path):
    r = requests.get(base_url + path, timeout=5, allow_redirects=False)
    assert r.status_code == 200


def test_unknown_path_is_404_not_found(base_url):
    r = requests.get(base_url + "/no/such/thing", timeout=5)
    assert r.status_code == 404
    assert problem(r)["type"] == "not_found"


def test_known_path_other_method_is_405_with_allow(base_url):
    r = requests.delete(base_url + "/health", timeout=5)
    assert r.status_code == 405
    assert problem(r)["type"] == "method_not_allowed"
    assert [m.strip() for m in r.headers["Allow"].split(",")] == ["GET", "HEAD"]


def test_head_has_length_but_no_body(service):
    with harness.connect(service.port) as s:
        s.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n" + harness.get_request())
        buf = bytearray()
        head = harness.read_response(s, buf, head=True)
        assert head.status == 200 and head.headers["content-length"] == "15" and head.body == b""
        # The next response starts right after the head's headers: no stray body bytes.
        assert harness.read_response(s, buf).body == b'{"status":"ok"}'


def test_request_id_is_generated(base_url):
    r = requests.get(base_url + "/health", timeout=5)
    assert UUID.match(r.headers["X-Request-ID"])
    assert r.headers["X-Request-ID"] != requests.get(base_url + "/health", timeout=5).headers["X-Request-ID"]


def test_sane_request_id_is_echoed_on_success_and_error(base_url):
    for path in ("/health", "/nope"):
        r = requests.get(base_url + path, headers={"X-Request-ID": "client-42.a:b"}, timeout=5)
        assert r.headers["X-Request-ID"] == "client-42.a:b"


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "quote\"", "semi;colon"])
def test_insane_request_id_is_replaced(base_url, bad):
    r = requests.get(base_url + "/health", headers={"X-Request-ID": bad}, timeout=5)
    assert UUID.match(r.headers["X-Request-ID"])


def test_malformed_request_gets_400_json(service):
    with harness.connect(service.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n")
        r = harness.read_response(s)
        assert r.status == 400
        assert json.loads(r.body)["type"] == "bad_request"


def test_bad_percent_escape_is_400(service):
    with harness.connect(service.port) as s:
        s.sendall(harness.get_request("/health%zz"))
        assert harness.read_response(s).status == 400
        s.sendall(harness.get_request("/he%00alth"))
        assert harness.read_response(s).status == 400


@pytest.mark.parametrize("request_head,status", [
    (b"GET /health HTTP/1.1\r\n\r\n", 400),                          # HTTP/1.1 without Host
    (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),     # two Host headers
    (b"GET /health HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),     # two, in HTTP/1.0 too
    (b"GET /health HTTP/1.0\r\n\r\n", 200),                          # HTTP/1.0 needs none
    (b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 200),
])
def test_host_header_is_required_once_in_http_1_1(service, request_head, status):
    with harness.connect(service.port) as s:
        s.sendall(request_head)
        r = harness.read_response(s)
        assert r.status == status
        assert r.headers.get("x-request-id")
        if status == 400:
            assert json.loads(r.body)["type"] == "bad_request"
            assert "Host" in json.loads(r.body)["detail"]


@pytest.mark.parametrize("target", ["http://127.0.0.1/health", "HTTP://example.com:8000/health?x=1",
                                    "https://example.com/health/"])
def test_absolute_form_targets_are_served(service, target):
    with harness.connect(service.port) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
        r = harness.read_response(s)
        assert r.status == 200
        assert json.loads(r.body) == {"status": "ok"}


def test_percent_encoded_path_matches(base_url):
    assert requests.get(base_url + "/h%65alth", timeout=5).status_code == 200


# ---- keep-alive and pipelining ----

def test_keep_alive_serves_many_requests_on_one_connection(service):
    with harness.connect(service.port) as s:
        buf = bytearray()
        for i in range(20):
            s.sendall(harness.get_request(extra=f"X-Request-ID: ka-{i}\r\n"))
            r = harness.read_response(s, buf)
            assert r.status == 200 and r.headers["x-request-id"] == f"ka-{i}"
            assert r.headers.get("connection", "keep-alive").lower() != "close"


def test_pipelined_requests_are_answered_in_order(service):
    requests_bytes = b"".join(
        harness.get_request(path, extra=f"X-Request-ID: p-{i}\r\n")
        for i, path in enumerate(["/health", "/nope", "/health/", "/metrics", "/health"])
    )
    with harness.connect(service.port) as s:
        s.sendall(requests_bytes)  # all at once, before reading anything
        buf = bytearray()
        got = [harness.read_response(s, buf) for _ in range(5)]
    assert [r.headers["x-request-id"] for r in got] == [f"p-{i}" for i in range(5)]
    assert [r.status for r in got] == [200, 404, 200, 200, 200]


def test_connection_close_is_honoured(service):
    with harness.connect(service.port) as s:
        s.sendall(harness.get_request(extra="Connection: close\r\n"))
        r = harness.read_response(s)
        assert r.status == 200 and r.headers["connection"].lower() == "close"
        assert harness.closed_by_peer(s, 2)


def test_http_1_0_without_keep_alive_is_closed(service):
    with harness.connect(service.port) as s:
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        r = harness.read_response(s)
        assert r.status == 200
        assert harness.closed_by_peer(s, 2)


def bytes_until_close(sock: socket.socket, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    rest = bytearray()
    while chunk := sock.recv(65536):
        rest += chunk
    return bytes(rest)


def test_empty_lines_before_a_request_are_ignored(service):
    """RFC 9112 §2.2: old clients send a CRLF after a POST body; up to two empty lines before a
    request line are skipped — after an answered body, after a refused one, at the start."""
    refused = (b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 12\r\n\r\n{\"items\":[]}\r\n")
    answered = b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}\r\n"
    with harness.connect(service.port) as s:
        s.sendall(b"\r\n" + refused + answered + b"\n" + harness.get_request(extra="Connection: close\r\n"))
        buf = bytearray()
        assert [harness.read_response(s, buf).status for _ in range(3)] == [401, 200, 200]
        assert bytes(buf) + bytes_until_close(s) == b""  # no answer to the empty lines themselves


def test_more_than_two_empty_lines_before_a_request_are_400(service):
    with harness.connect(service.port) as s:
        s.sendall(b"\r\n\r\n\r\n" + harness.get_request())
        r = harness.read_response(s)
        assert r.status == 400 and r.headers["connection"].lower() == "close"


@pytest.mark.parametrize("coding", ["gzip", "identity", "chunked, gzip"])
def test_a_transfer_encoding_not_ending_in_chunked_is_400_and_closes(service, coding):
    """RFC 9112 §6.3: such a body has no knowable length. Read as bodiless, the body would be
    served as a request of its own (request smuggling)."""
    with harness.connect(service.port) as s:
        s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: %s\r\n\r\n" % coding.encode()
                  + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = bytearray()
        r = harness.read_response(s, buf)
        assert r.status == 400 and json.loads(r.body)["type"] == "bad_request"
        assert r.headers["connection"].lower() == "close"
        assert bytes(buf) + bytes_until_close(s) == b""  # /smuggled is never answered


# ---- limits ----

@pytest.mark.parametrize("path, length, status, problem_type", [
    ("/health", 2097152, 413, "payload_too_large"),  # a declared oversize body
    ("/orders", 50, 401, "unauthorized"),            # a refusal before the body
])
def test_an_answer_before_the_body_does_not_wait_for_it(service, path, length, status, problem_type):
    with harness.connect(service.port) as s:
        # The body is announced and never sent: the answer must come at once, and close.
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (path.encode(), length))
        started = time.monotonic()
        r = harness.read_response(s)
        assert time.monotonic() - started < 1.0
        assert r.status == status
        assert json.loads(r.body)["type"] == problem_type
        assert r.headers["connection"].lower() == "close"


def test_body_at_the_limit_is_read(service):
    # GET /health ignores its body, but the server must read all of it and stay in sync.
    body = b"x" * (1024 * 1024)
    with harness.connect(service.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        buf = bytearray()
        assert harness.read_response(s, buf).status == 200
        s.sendall(harness.get_request())
        assert harness.read_response(s, buf).status == 200


def test_headers_over_16_kib_are_431(service):
    with harness.connect(service.port) as s:
        s.sendall(harness.get_request(extra="X-Big: " + "a" * (17 * 1024) + "\r\n"))
        r = harness.read_response(s)
        assert r.status == 431
        assert json.loads(r.body)["type"] == "headers_too_large"


def test_headers_under_the_limit_are_fine(service):
    with harness.connect(service.port) as s:
        s.sendall(harness.get_request(extra="X-Big: " + "a" * (14 * 1024) + "\r\n"))
        assert harness.read_response(s).status == 200


def test_header_limit_is_configurable(service_factory):
    svc = service_factory(env={"MAX_HEADER_BYTES": "2048"})
    with harness.connect(svc.port) as s:
        s.sendall(harness.get_request(extra="X-Big: " + "a" * 3000 + "\r\n"))
        assert harness.read_response(s).status == 431


def test_header_limit_counts_the_request_line_and_the_fields_together(service_factory):
    svc = service_factory(env={"MAX_HEADER_BYTES": "2048"})

    def request_of(total: int) -> bytes:
        # A 1,200-byte request line and fields that fill the rest: each part alone is under
        # the limit, so only the sum can refuse it.
        line = b"GET /health?pad=" + b"u" * (1200 - len(b"GET /health?pad= HTTP/1.1\r\n")) + b" HTTP/1.1\r\n"
        fields_without_pad = b"Host: x\r\nX-Pad: \r\n\r\n"
        request = line + b"Host: x\r\nX-Pad: " + b"h" * (total - len(line) - len(fields_without_pad)) + b"\r\n\r\n"
        assert len(line) == 1200 and len(request) == total
        return request

    with harness.connect(svc.port) as s:
        s.sendall(request_of(2048))
        assert harness.read_response(s).status == 200
    with harness.connect(svc.port) as s:
        s.sendall(request_of(2049))
        r = harness.read_response(s)
        assert r.status == 431
        assert json.loads(r.body)["type"] == "headers_too_large"


def test_body_limit_is_configurable(service_factory):
    svc = service_factory(env={"MAX_BODY_BYTES": "10"})
    with harness.connect(svc.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n" + b"x" * 11)
        r = harness.read_response(s)
        # Over the limit is never read, even when it came whole with the header.
        assert r.status == 413 and r.headers["connection"].lower() == "close"
    with harness.connect(svc.port) as s:
        # A chunked body has no declared length: the limit applies while it is read.
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n")
        assert harness.read_response(s).status == 413


def assert_drained_after_the_answer(sock: socket.socket, rest: bytes) -> None:
    """Sends what the client still had to send after the server answered, half-closes, and
    expects the server's orderly close. A server that closes with unread input resets the
    connection instead: the send fails, or the read does — and a client that writes its whole
    request before reading (most do) would have lost the answer to that reset. `rest` is
    larger than the socket buffers, so the reset reaches the sender while it sends."""
    assert len(rest) >= 2 * 1024 * 1024
    sock.sendall(rest)
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(5)
    while chunk := sock.recv(65536):
        assert not chunk, f"unexpected bytes after the answer: {chunk[:80]!r}"


def test_declared_oversize_body_is_drained_after_the_413(service):
    with harness.connect(service.port) as s:
        s.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2097152\r\n\r\n")
        assert harness.read_response(s).status == 413
        assert_drained_after_the_answer(s, b"x" * 2097152)


def test_body_refused_by_auth_is_drained_after_the_401(service_factory):
    svc = service_factory(env={"MAX_BODY_BYTES": "4194304"})
    with harness.connect(svc.port) as s:
        s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Authorization: Bearer not.a.token\r\nContent-Length: 2097152\r\n\r\n")
        r = harness.read_response(s)
        assert r.status == 401
        assert r.headers["connection"].lower() == "close"
        assert_drained_after_the_answer(s, b"x" * 2097152)


def test_chunked_body_over_the_limit_is_drained_after_the_413(service_factory):
    svc = service_factory(env={"MAX_BODY_BYTES": "10"})
    with harness.connect(svc.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"10\r\n0123456789abcdef\r\n")
        assert harness.read_response(s).status == 413
        assert_drained_after_the_answer(s, b"200000\r\n" + b"x" * 0x200000 + b"\r\n0\r\n\r\n")


def test_oversize_headers_are_drained_after_the_431(service):
    with harness.connect(service.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (17 * 1024))
        assert harness.read_response(s).status == 431
        assert_drained_after_the_answer(s, b"a" * 2097152 + b"\r\n\r\n")


def test_a_refused_request_whose_small_body_came_with_it_keeps_the_connection(service):
    """A 401 or 404 whose whole body arrived with its header: the body is consumed, not left
    to corrupt the next request, and the connection serves what follows (here pipelined in the
    same write), as the client's connection pool expects."""
    order = b'{"items": [{"product_id": "p1", "quantity": 1}]}'
    with harness.connect(service.port) as s:
        s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(order), order)
                  + b"PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                  + harness.get_request())
        buf = bytearray()
        refused = harness.read_response(s, buf)
        assert refused.status == 401
        assert refused.headers.get("connection", "keep-alive").lower() != "close"
        not_found = harness.read_response(s, buf)
        assert not_found.status == 404
        assert not_found.headers.get("connection", "keep-alive").lower() != "close"
        assert harness.read_response(s, buf).status == 200


def test_draining_is_bounded(service):
    """A client that keeps sending after a refusal is cut off after 4 MiB (or 2 s)."""
    with harness.connect(service.port) as s:
        s.sendall(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
        assert harness.read_response(s).status == 413
        s.settimeout(5)
        sent = 0
        started = time.monotonic()
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            while sent < 100 * 1024 * 1024:
                sent += s.send(b"x" * 65536)
        assert sent < 32 * 1024 * 1024
        assert time.monotonic() - started < 4


# ---- slow and idle clients ----

def test_slowloris_sockets_delay_nobody_and_are_dropped(service_factory):
    svc = service_factory(env={"HEADER_TIMEOUT_SECONDS": "2"})
    stalled = []
    try:
        for i in range(50):
            s = harness.connect(svc.port)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)  # never finished
            stalled.append(s)
        # Everyone else is served at once meanwhile.
        with requests.Session() as http:
            for _ in range(20):
                started = time.monotonic()
                assert http.get(svc.url("/health"), timeout=5).status_code == 200
                assert time.monotonic() - started < 0.25
        # A trickling client does not extend its deadline by sending a byte now and then.
        trickle = harness.connect(svc.port)
        trickle.sendall(b"GET /health HTTP/1.1\r\n")
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            try:
                trickle.sendall(b"X")
            except OSError:
                break
            time.sleep(0.2)
        stalled.append(trickle)
        # Every stalled socket is closed by the server soon after the header timeout.
        for s in stalled:
            assert harness.closed_by_peer(s, 3.0)
    finally:
        for s in stalled:
            s.close()


def test_idle_keep_alive_connection_is_closed_after_timeout(service_factory):
    # The idle timeout is long next to the 0.2 s the test watches the connection stay open, so
    # a busy machine pausing the test between the response and that check cannot close it first.
    svc = service_factory(env={"IDLE_TIMEOUT_SECONDS": "2"})
    with harness.connect(svc.port) as s:
        s.sendall(harness.get_request())
        assert harness.read_response(s).status == 200
        assert not harness.closed_by_peer(s, 0.2)
        assert harness.closed_by_peer(s, 5.0)


def _served_connection(port: int, why: str) -> socket.socket:
    """A connection that got a 200. The server frees a slot once it has seen the client's
    close, which under load takes a moment (the startup probe's connection, a closed one), so
    a reset is retried for up to 5 s."""
    deadline = time.monotonic() + 5
    while True:
        s = harness.connect(port)
        try:
            s.sendall(harness.get_request())
            assert harness.read_response(s).status == 200
            return s
        except (ConnectionError, OSError):
            s.close()
            assert time.monotonic() < deadline, why
            time.sleep(0.1)


def test_max_connections(service_factory):
    svc = service_factory(env={"MAX_CONNECTIONS": "3"})
    held = []
    try:
        for _ in range(3):
            held.append(_served_connection(svc.port, "fewer than MAX_CONNECTIONS connections served"))
        extra = harness.connect(svc.port)
        assert harness.closed_by_peer(extra, 2.0)
        extra.close()
        held.pop().close()
        _served_connection(svc.port, "a freed connection slot was never reused").close()
    finally:
        for s in held:
            s.close()


def _connect_from(source: str, port: int) -> socket.socket:
    """A connection to the service (127.0.0.1) from another loopback address: another peer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def test_connections_per_peer_are_capped_and_other_peers_still_served(service_factory):
    svc = service_factory(env={"MAX_CONNECTIONS_PER_PEER": "3"})
    held = []
    try:
        for _ in range(3):
            s = _connect_from("127.0.0.2", svc.port)
            held.append(s)
            s.sendall(harness.get_request())
            assert harness.read_response(s).status == 200
        extra = _connect_from("127.0.0.2", svc.port)
        held.append(extra)
        assert harness.closed_by_peer(extra, 2.0)
        # Another address is another peer: served while 127.0.0.2 holds its three.
        with _connect_from("127.0.0.3", svc.port) as other:
            other.sendall(harness.get_request())
            assert harness.read_response(other).status == 200
        # A closed connection gives its slot back to its peer.
        held.pop(0).close()
        deadline = time.monotonic() + 5
        while True:
            again = _connect_from("127.0.0.2", svc.port)
            held.append(again)
            try:
                again.sendall(harness.get_request())
                assert harness.read_response(again).status == 200
                break
            except (ConnectionError, OSError):
                assert time.monotonic() < deadline, "a freed per-peer slot was never reused"
                time.sleep(0.1)
    finally:
        for s in held:
            s.close()


def test_a_new_connection_that_sends_nothing_is_dropped_at_the_first_request_timeout(service_factory):
    svc = service_factory(env={"FIRST_REQUEST_TIMEOUT_SECONDS": "0.5", "IDLE_TIMEOUT_SECONDS": "60"})
    with harness.connect(svc.port) as silent, harness.connect(svc.port) as served:
        served.sendall(harness.get_request())
        assert harness.read_response(served).status == 200
        assert harness.closed_by_peer(silent, 3.0)
        # Once a request was served, the idle timeout (60 s) applies, not the first-request one.
        assert not harness.closed_by_peer(served, 1.0)


def test_the_admin_port_answers_probes_and_metrics_while_the_service_port_is_full(service_factory):
    admin_port = harness.free_port()
    svc = service_factory(env={"MAX_CONNECTIONS": "3", "ADMIN_PORT": str(admin_port)})
    held = []
    try:
        for _ in range(3):
            held.append(_served_connection(svc.port, "fewer than MAX_CONNECTIONS connections served"))
        extra = harness.connect(svc.port)
        held.append(extra)
        assert harness.closed_by_peer(extra, 2.0)
        admin = f"http://127.0.0.1:{admin_port}"
        assert requests.get(admin + "/health", timeout=5).json() == {"status": "ok"}
        assert requests.get(admin + "/ready", timeout=5).status_code == 200
        metrics = requests.get(admin + "/metrics", timeout=5)
        assert metrics.status_code == 200 and "http_connections_rejected_total" in metrics.text
        # Only the system routes live there (raw: the OpenAPI checker knows /orders as the API's).
        with harness.connect(admin_port) as s:
            s.sendall(harness.get_request("/orders"))
            assert harness.read_response(s).status == 404
        # The healthcheck subcommand probes the admin port when there is one.
        check = harness.run_binary("healthcheck", env={"HOST": "127.0.0.1", "PORT": str(svc.port),
                                                       "ADMIN_PORT": str(admin_port)})
        assert check.returncode == 0, check.stderr
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("max_connections,warned", [("10000", True), ("100", False)])
def test_start_warns_when_max_connections_exceeds_the_open_file_limit(tmp_path, max_connections, warned):
    wrapper = tmp_path / "orders-service-512-files"
    wrapper.write_text(f'#!/bin/sh\nexec prlimit --nofile=512:512 {harness.binary_path()} "$@"\n')
    wrapper.chmod(0o755)
    svc = harness.start_service(tmp_path / "svc", env={"MAX_CONNECTIONS": max_connections}, binary=wrapper)
    try:
        assert ("open-file limit is 512" in svc.stderr()) == warned, svc.stderr()
    finally:
        svc.stop()


# ---- graceful shutdown ----

def test_sigterm_exits_0_at_once_despite_idle_keep_alive_connections(service_factory):
    svc = service_factory()
    idle = []
    for _ in range(5):
        s = harness.connect(svc.port)
        s.sendall(harness.get_request())
        harness.read_response(s)
        idle.append(s)
    started = time.monotonic()
    svc.signal()
    assert svc.wait(timeout=5) == 0, svc.stderr()
    assert time.monotonic() - started < 2.0
    for s in idle:
        assert harness.closed_by_peer(s, 1.0)
        s.close()


def wait_until_in_flight(svc, count: int, timeout: float = 10) -> None:
    """Waits until the server has read the headers of `count` requests it has not answered
    (http_requests_in_flight, less the /metrics request asking), instead of sleeping and
    hoping a busy machine got that far."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = requests.get(svc.url("/metrics"), timeout=5).text
        gauge = re.search(r"^http_requests_in_flight (\d+)", metrics, re.MULTILINE)
        if gauge and int(gauge.group(1)) - 1 >= count:
            return
        assert time.monotonic() < deadline, f"fewer than {count} requests in flight after {timeout} s"
        time.sleep(0.05)


def test_request_in_flight_at_sigterm_gets_its_full_response(service_factory):
    svc = service_factory()
    with harness.connect(svc.port) as s:
        # Headers complete, body half sent: the request is in flight when the signal arrives.
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nX-Request-ID: inflight\r\n\r\n12345")
        wait_until_in_flight(svc, 1)
        svc.signal()
        time.sleep(1.0)
        assert svc.running(), "exited before the request in flight was answered"
        # New connections are refused while draining.
        with pytest.raises(ConnectionRefusedError):
            harness.connect(svc.port, timeout=1).close()
        s.sendall(b"67890")
        r = harness.read_response(s)
        assert r.status == 200 and r.body == b'{"status":"ok"}'
        assert r.headers["x-request-id"] == "inflight"
        assert r.headers["connection"].lower() == "close"
    assert svc.wait(timeout=5) == 0, svc.stderr()


def test_grace_period_bounds_the_shutdown(service_factory):
    svc = service_factory(env={"SHUTDOWN_GRACE_SECONDS": "1"})
    with harness.connect(svc.port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n123")  # never finished
        wait_until_in_flight(svc, 1)
        started = time.monotonic()
        svc.signal(harness.signal.SIGINT)
        assert svc.wait(timeout=5) == 0, svc.stderr()
        assert 0.8 < time.monotonic() - started < 3.0


def test_ready_is_200_until_shutdown(base_url):
    r = requests.get(base_url + "/ready", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ready"}


# ---- metrics and access log ----

def test_metrics_pass_promtool_and_carry_the_http_series(service):
    with requests.Session() as http:
        http.get(service.url("/health"), timeout=5)
        http.get(service.url("/orders/123/nope"), timeout=5)
        http.post(service.url("/health"), timeout=5)
        r = http.get(service.url("/metrics"), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing (Debian package prometheus)"
    check = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    assert re.search(r'^http_requests_total\{method="GET",route="/health",status="200"\} [1-9]', text, re.M)
    assert re.search(r'^http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]', text, re.M)
    assert re.search(r'^http_requests_total\{method="POST",route="unmatched",status="405"\} [1-9]', text, re.M)
    assert "/orders/123/nope" not in text  # raw paths never become labels
    assert re.search(r'^http_request_duration_seconds_bucket\{method="GET",route="/health",le="\+Inf"\} ', text, re.M)
    assert re.search(r'^http_request_duration_seconds_count\{method="GET",route="/health"\} ', text, re.M)
    # The scrape itself is in flight while the exposition is written.
    assert re.search(r"^http_requests_in_flight 1$", text, re.M)
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                 "process_start_time_seconds"):
        value = re.search(rf"^{name} (\S+)$", text, re.M)
        assert value and float(value.group(1)) > 0, name


def test_access_log_has_one_json_line_per_request(service_factory):
    svc = service_factory()
    requests.get(svc.url("/health"), headers={"X-Request-ID": "log-me"}, timeout=5)
    requests.get(svc.url("/nope"), headers={"X-Request-ID": "log-404"}, timeout=5)
    assert svc.stop() == 0  # flushes the log buffer
    lines = [json.loads(line) for line in svc.stdout().splitlines() if line.strip()]
    by_id = {line.get("request_id"): line for line in lines}
    ok = by_id["log-me"]
    assert (ok["method"], ok["route"], ok["status"]) == ("GET", "/health", 200)
    assert isinstance(ok["duration_ms"], (int, float)) and ok["duration_ms"] >= 0
    assert by_id["log-404"]["route"] == "unmatched" and by_id["log-404"]["status"] == 404
    ids = [line["request_id"] for line in lines if line.get("msg") == "request"]
    assert ids.count("log-me") == 1


def test_text_log_format(service_factory):
    svc = service_factory(env={"LOG_FORMAT": "text"})
    requests.get(svc.url("/health"), headers={"X-Request-ID": "txt"}, timeout=5)
    assert svc.stop() == 0
    line = next(l for l in svc.stdout().splitlines() if "request_id=txt" in l)
    assert "GET /health" in line and "status=200" in line
    assert not svc.stderr().lstrip().startswith("{")


# ---- command line ----

@pytest.mark.parametrize("command", [(), ("serve",), ("migrate",)])
def test_help_lists_every_setting_with_env_and_default(command):
    # The settings are the top-level app's (they may come before or after the subcommand);
    # a subcommand's --help lists them too, as the README promises for `serve --help`.
    out = harness.run_binary(*command, "--help")
    assert out.returncode == 0
    for env, default in [("HOST", "127.0.0.1"), ("PORT", "8000"), ("DATA_DIR", "."), ("THREADS", None),
                         ("MAX_HEADER_BYTES", "16384"), ("MAX_BODY_BYTES", "1048576"),
                         ("HEADER_TIMEOUT_SECONDS", "10"), ("IDLE_TIMEOUT_SECONDS", "60"),
                         ("MAX_CONNECTIONS", "10000"), ("SHUTDOWN_GRACE_SECONDS", "10"),
                         ("LOG_LEVEL", "info"), ("LOG_FORMAT", "json"),
                         ("DATABASE_URL", None), ("DB_STATEMENT_TIMEOUT_MS", "5000")]:
        line = next((l for l in out.stdout.splitlines() if f"(Env:{env})" in l), None)
        assert line, env
        if default is not None:
            assert f"={default} " in line, line
    # The negatable flag reads as two names, not `--no-migrate{false}` (which looks like a default).
    migrate = next(l for l in out.stdout.splitlines() if "(Env:MIGRATE)" in l)
    assert "--migrate,--no-migrate" in migrate and "{" not in migrate, migrate


@pytest.mark.parametrize("env,args", [
    ({"PORT": "99999"}, ()),
    ({"PORT": "abc"}, ()),
    ({}, ("--threads", "0")),
    ({"LOG_FORMAT": "xml"}, ()),
    ({"LOG_LEVEL": "loud"}, ()),
    ({"HOST": "not-an-ip"}, ()),
    ({"SHUTDOWN_GRACE_SECONDS": "-1"}, ()),
    ({"ADMIN_PORT": "70000"}, ()),
    ({"MAX_CONNECTIONS_PER_PEER": "-1"}, ()),
    ({"FIRST_REQUEST_TIMEOUT_SECONDS": "0"}, ()),
    ({}, ("--no-such-flag",)),
])
def test_bad_setting_is_one_line_and_exit_2(env, args):
    out = harness.run_binary("serve", *args, env=env)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("orders-service: "), out.stderr


def test_flag_overrides_environment(service_factory, tmp_path):
    port = harness.free_port()
    svc = service_factory(env={"PORT": "1"}, args=("--port", str(port)), wait_ready=False)
    svc.port = port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if requests.get(svc.url("/health"), timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.05)
    else:
        pytest.fail("not listening on the --port given")


def test_version():
    out = harness.run_binary("version")
    assert out.returncode == 0 and re.match(r"^orders-service \d+\.\d+\.\d+\n$", out.stdout)


def test_healthcheck_subcommand(service):
    ok = harness.run_binary("healthcheck", env={"HOST": "127.0.0.1", "PORT": str(service.port)})
    assert ok.returncode == 0, ok.stderr
    started = time.monotonic()
    down = harness.run_binary("healthcheck", env={"HOST": "127.0.0.1", "PORT": str(harness.free_port())})
    assert down.returncode == 1
    assert time.monotonic() - started < 5


def test_a_second_instance_on_the_same_port_exits_1_and_the_first_keeps_serving(service, tmp_path):
    """The listeners use SO_REUSEPORT, which would let a second process of the same user share
    the port and silently take part of the traffic; it must refuse to start instead."""
    second = harness.start_service(tmp_path / "second", env={"PORT": str(service.port)}, wait_ready=False)
    try:
        assert second.wait(10) == 1
        assert "Address already in use" in second.stderr()
    finally:
        if second.running():
            second.stop()
    with requests.Session() as http:
        for _ in range(20):
            assert http.get(service.url("/health"), timeout=5).status_code == 200


def test_healthcheck_gives_up_after_2_seconds_on_a_silent_server():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts at kernel level, never answers
        started = time.monotonic()
        out = harness.run_binary("healthcheck", env={"HOST": "127.0.0.1", "PORT": str(listener.getsockname()[1])})
        elapsed = time.monotonic() - started
    assert out.returncode == 1
    assert 1.5 < elapsed < 4.0


def test_default_threads_follow_the_cpu_affinity(service_factory, monkeypatch):
    # THREADS unset: one event loop per CPU the process may run on (not per host CPU), so
    # `taskset`, a cpuset or a container CPU limit also bounds the loops and the pool slices.
    monkeypatch.delenv("THREADS", raising=False)
    own = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(own)})  # inherited by the child at fork
    try:
        svc = service_factory()
    finally:
        os.sched_setaffinity(0, own)
    assert os.sched_getaffinity(svc.pid) == {min(own)}
    deadline = time.monotonic() + 5
    while "event loop(s)" not in svc.stdout() + svc.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = svc.stdout() + svc.stderr()
    assert "with 1 event loop(s)" in log, log
