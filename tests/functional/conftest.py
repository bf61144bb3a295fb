"""Fixtures for functional tests: the real binary, real HTTP over loopback.

- ``service``: one server per test module. Override ``service_env`` (module scope) in a test
  module to add settings, e.g.::

      @pytest.fixture(scope="module")
      def service_env(pg_url):
          return {"DATABASE_URL": pg_url, "JWT_SECRET": "s3cret"}

- ``base_url``: that server's ``http://127.0.0.1:PORT``.
- ``service_factory``: a function ``start(env=None, args=())`` returning a fresh
  ``harness.Service`` (for tests that stop or signal the server); all are stopped by PID
  at the end of the test.
- ``test_database_url``: $TEST_DATABASE_URL (CTest's ``postgres`` fixture), or the test fails.

The binary comes from $ORDERS_BINARY (CTest sets it), else build/dev/orders-service.
"""
from __future__ import annotations

import os

import pytest

import harness
import openapi_check


def pytest_report_header(config):
    return f"orders-service binary: {harness.binary_path()}"


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    if not harness.binary_path().is_file():
        pytest.exit(f"no binary at {harness.binary_path()} (set ORDERS_BINARY)", returncode=2)


@pytest.fixture(scope="session", autouse=True)
def _responses_match_the_openapi_document(_binary_exists):
    """Every response any test receives through `requests` must be one the binary's own
    OpenAPI document allows (tests/support/openapi_check.py); a lie fails that test."""
    checker = openapi_check.Checker.from_binary(harness.binary_path())
    undo = checker.install_everywhere()
    yield checker
    undo()


@pytest.fixture(scope="module")
def service_env() -> dict:
    """Extra environment for the module's ``service``; override in a test module."""
    return {}


@pytest.fixture(scope="module")
def service(tmp_path_factory, service_env):
    started = harness.start_service(tmp_path_factory.mktemp("service"), env=service_env)
    yield started
    code = started.stop()
    assert code == 0, f"orders-service exited with {code}:\n{started.stderr()[-4000:]}"


@pytest.fixture(scope="module")
def base_url(service) -> str:
    return service.base_url


@pytest.fixture
def service_factory(tmp_path):
    started: list[harness.Service] = []

    def start(env: dict | None = None, args: tuple[str, ...] = (), wait_ready: bool = True) -> harness.Service:
        s = harness.start_service(tmp_path / f"service{len(started)}", env=env, args=args, wait_ready=wait_ready)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def test_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.fail("TEST_DATABASE_URL is not set (the ctest fixture `postgres` sets it)")
    return url
