"""Hostile bytes against the running binary: valid requests of every order and product route,
mutated at random (bytes flipped, inserted, dropped, repeated; JSON values swapped for edge
cases; header lines broken), sent over loopback on both backends.

Whatever arrives, the answer is never a 5xx, always carries X-Request-ID, and every error body
has the contract's shape (`detail` and a known `type`). Afterwards the service still answers,
and no unit of stock was lost or made: the product's stock plus the units in the client's
orders that are not cancelled equals what was stocked. The random generator is seeded (the
seed is in the test name), so a failure replays exactly; the count bounds the run."""
from __future__ import annotations

import json
import random
import socket

import pytest

import harness
from orders_env import admin, alice, orders_server, unique  # noqa: F401  (fixtures)

MUTATED_REQUESTS = 3000
INITIAL_STOCK = 1_000_000
ERROR_TYPES = {
    "business_error", "bad_request", "unauthorized", "forbidden", "not_found", "method_not_allowed",
    "conflict", "precondition_failed", "payload_too_large", "unsupported_media_type",
    "headers_too_large", "validation_error", "rate_limited",
}
EDGE_VALUES = [
    b"0", b"-1", b"1e400", b"-0", b"1.5", b"9223372036854775808", b"-9223372036854775809",
    b"18446744073709551616", b"null", b"true", b"[]", b"{}", b'""', b'"\\u0000"', b'"\\ud800"',
    b'"' + b"x" * 300 + b'"', b"[" * 40 + b"]" * 40, b'"p\xff"', b"10001", b"1000000001",
]


def raw_request(method: str, path: str, token: str, body: object | None = None,
                headers: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n").encode(), payload


def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            data += bytes([rng.randrange(256)])
            continue
        at = rng.randrange(len(data))
        choice = rng.randrange(6)
        if choice == 0:
            data[at] = rng.randrange(256)
        elif choice == 1:
            data[at:at] = bytes([rng.randrange(256)])
        elif choice == 2:
            del data[at:at + rng.randint(1, 8)]
        elif choice == 3:
            span = data[at:at + rng.randint(1, 16)]
            data[at:at] = span * rng.randint(1, 50)
        elif choice == 4:
            # A JSON value (after a colon) swapped for an edge case.
            colon = data.find(b":", at)
            if colon != -1:
                end = colon + 1
                while end < len(data) and data[end] not in b",}]":
                    end += 1
                data[colon + 1:end] = rng.choice(EDGE_VALUES)
        else:
            data[at:at] = rng.choice([b"\r\n", b"\n", b"\x00", b" ", b"%", b"%zz", b"\\", b'"',
                                      b"\r\nTransfer-Encoding: chunked", b"\r\nTransfer-Encoding: gzip",
                                      b"\r\nContent-Length: 0", b"\r\nExpect: 100-continue"])
    return bytes(data)


def send(port: int, head: bytes, body: bytes) -> bytes:
    """One request on its own connection, then a half-close: a request that lost its end
    (a Content-Length now larger than the body) ends at EOF instead of waiting for more."""
    with harness.connect(port) as s:
        s.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        received = bytearray()
        try:
            while chunk := s.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return bytes(received)


def check_answer(answer: bytes, case: str) -> None:
    if not answer:
        return  # no complete request arrived (the mutation broke its framing)
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    assert status_line.startswith("HTTP/1."), (case, status_line)
    status = int(status_line.split(" ")[1])
    assert status < 500, (case, answer[:600])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    assert headers.get("x-request-id"), (case, head)
    if status >= 400 and "json" in headers.get("content-type", ""):
        length = int(headers.get("content-length", "0"))
        problem = json.loads(body[:length])
        assert problem["type"] in ERROR_TYPES and isinstance(problem["detail"], str), (case, problem)


def units_in_open_orders(client, product_id: str) -> int:
    units = 0
    for order in client.walk("/orders", limit=200):
        if order["status"] != "cancelled":
            units += sum(i["quantity"] for i in order["items"] if i["product_id"] == product_id)
    return units


@pytest.mark.parametrize("seed", [20261201])
def test_mutated_requests_get_contract_answers_and_lose_no_stock(orders_server, admin, alice, seed):
    rng = random.Random(seed)
    product = admin.make_product(price_cents=250, stock=INITIAL_STOCK)["id"]
    order = alice.make_order([{"product_id": product, "quantity": 2}])
    order_path = f"/orders/{order['id']}"
    items = {"items": [{"product_id": product, "quantity": 3}]}
    templates = [
        raw_request("POST", "/orders", alice.token, items, {"Idempotency-Key": unique("k")}),
        raw_request("POST", "/orders", alice.token, {"user_id": alice.sub, **items}),
        raw_request("PATCH", order_path, alice.token, items, {"If-Match": '"1"'}),
        raw_request("POST", order_path + "/pay", alice.token),
        raw_request("POST", order_path + "/cancel", alice.token),
        raw_request("GET", order_path, alice.token),
        raw_request("GET", "/orders?limit=3&status=pending&cursor=bzox", alice.token),
        raw_request("GET", f"/products/{product}", alice.token),
        raw_request("GET", "/products?limit=2", alice.token),
        raw_request("POST", "/products", admin.token,
                    {"id": unique("m"), "name": "Mutant", "price_cents": 1, "stock": 1}),
    ]
    for n in range(MUTATED_REQUESTS):
        head, body = rng.choice(templates)
        if rng.random() < 0.3:
            head = mutate(rng, head)
            if not head.endswith(b"\r\n"):
                head += b"\r\n"
        else:
            body = mutate(rng, body)
        case = f"seed {seed}, request {n}: {head[:200]!r} {body[:200]!r}"
        check_answer(send(orders_server.port, head, body), case)

    assert alice.get("/health").status_code == 200
    stock_left = admin.product(product)["stock"]
    assert stock_left + units_in_open_orders(alice, product) == INITIAL_STOCK
