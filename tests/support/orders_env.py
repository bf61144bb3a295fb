"""The real orders-service binary on each database, for the products and orders suites.

Fixtures (import them into a test module: `from orders_env import *`):
  orders_server  one running server per backend for the session, parametrised "sqlite"
                 and "postgresql" (PostgreSQL needs TEST_DATABASE_URL; the run gets a
                 database of its own), started by harness.start_service
  admin     a client with an admin token
  alice     a client with a user token for a fresh subject (unique per test)
  bob       another fresh user

Tokens are minted here with PyJWT (HS256, the server's JWT_SECRET), never by our code.
conftest.py checks every response against the service's own OpenAPI document.
"""

import os
import re
import subprocess
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import jwt
import pytest
import requests

import harness

SECRET = "functional-secret-" + uuid.uuid4().hex

RFC3339_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
UUID_V7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def unique(prefix="x"):
    """A short id unique to this test run, valid as a product id and as a subject."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def mint(sub, admin=False, **claims):
    now = int(time.time())
    payload = {"sub": sub, "iat": now, "exp": now + 900}
    if admin:
        payload["roles"] = ["admin"]
    payload.update(claims)
    return jwt.encode(payload, SECRET, algorithm="HS256")


def _psql(url, sql):
    subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, timeout=30)


def _with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Client:
    """requests with a bearer token and the server's base URL."""

    def __init__(self, server, sub, admin=False):
        self.server = server
        self.sub = sub
        self.admin = admin
        self.token = mint(sub, admin)
        self.session = requests.Session()  # conftest checks its responses against the OpenAPI document

    def request(self, method, path, json=None, headers=None, token=True, **kwargs):
        all_headers = {}
        if token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        return self.session.request(method, self.server.base_url + path, json=json, headers=all_headers,
                                    timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("PATCH", path, json=json, **kwargs)

    # -- shortcuts used by many tests (they assert success themselves)

    def make_product(self, price_cents=1299, stock=40, name="Coffee beans 1kg", product_id=None):
        product_id = product_id or unique("p")
        r = self.post("/products", {"id": product_id, "name": name, "price_cents": price_cents, "stock": stock})
        assert r.status_code == 201, r.text
        return r.json()

    def make_order(self, items, **extra):
        r = self.post("/orders", {"items": items, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    def product(self, product_id):
        r = self.get(f"/products/{product_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def walk(self, path, limit=50, **params):
        """Every item of a paginated listing, following next_cursor to the end."""
        items, cursor = [], None
        for _ in range(10_000):
            query = dict(params, limit=limit)
            if cursor:
                query["cursor"] = cursor
            r = self.get(path, params=query)
            assert r.status_code == 200, r.text
            page = r.json()
            items.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")


def assert_problem(response, status, type_, detail_contains=None):
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == type_, body
    assert isinstance(body["detail"], str) and body["detail"], body
    if detail_contains is not None:
        assert detail_contains in body["detail"], body
    return body


def error_locs(response):
    """The loc arrays of a 422 body, as tuples."""
    assert response.status_code == 422, f"{response.status_code} {response.text}"
    body = response.json()
    assert body["type"] == "validation_error", body
    return [tuple(e["loc"]) for e in body["errors"]]


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def orders_server(request, tmp_path_factory):
    """One orders-service per backend for the whole session (tests keep apart by using fresh
    product ids and subjects)."""
    work_dir = tmp_path_factory.mktemp(f"orders-{request.param}")
    database = None
    if request.param == "sqlite":
        url = "sqlite://" + str(work_dir / "orders.db")
    else:
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.fail("TEST_DATABASE_URL is not set (the ctest fixture `postgres` sets it)")
        database = "orders_fn_" + uuid.uuid4().hex[:10]
        _psql(base, f"CREATE DATABASE {database}")
        url = _with_database(base, database)
    server = harness.start_service(work_dir, env={"DATABASE_URL": url, "JWT_SECRET": SECRET, "THREADS": "2",
                                                  "LOG_LEVEL": "warn"})
    server.backend = request.param
    yield server
    code = server.stop()
    if database is not None:
        _psql(os.environ["TEST_DATABASE_URL"], f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    assert code == 0, f"orders-service exited with {code}:\n{server.stderr()[-4000:]}"


@pytest.fixture
def admin(orders_server):
    return Client(orders_server, unique("admin"), admin=True)


@pytest.fixture
def alice(orders_server):
    return Client(orders_server, unique("alice"))


@pytest.fixture
def bob(orders_server):
    return Client(orders_server, unique("bob"))


def client_for(server, sub, admin=False):
    return Client(server, sub, admin=admin)


__all__ = ["orders_server", "admin", "alice", "bob", "client_for", "Client", "unique", "mint", "assert_problem",
           "error_locs", "RFC3339_MICROS", "UUID_V7"]
