"""The response checker (tests/support/openapi_check.py) against the real binary's
document: it passes the service's real answers and refuses every kind of lie — so a green
functional suite means the document told the truth."""

import json
import subprocess
import uuid

import pytest
import requests

import harness
import openapi_check
from openapi_check import Violation

JSON = {"Content-Type": "application/json; charset=utf-8", "X-Request-ID": "r1"}
PROBLEM_404 = b'{"detail":"Order not found","type":"not_found"}'


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("openapi-check")
    server = harness.start_service(work_dir, env={
        "DATABASE_URL": "sqlite://" + str(work_dir / "orders.db"),
        "JWT_SECRET": "openapi-test-" + uuid.uuid4().hex,
        "THREADS": "1",
        "LOG_LEVEL": "warn",
    })
    yield server
    server.stop()


@pytest.fixture(scope="module")
def checker(service):
    return openapi_check.Checker.from_server(service.base_url)


@pytest.fixture
def session(checker):
    s = requests.Session()
    checker.install(s)
    return s


def test_the_served_document_is_the_printed_one(service):
    printed = subprocess.run([str(harness.binary_path()), "openapi"], capture_output=True, timeout=30, check=True).stdout
    served = requests.get(service.base_url + "/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.content == printed  # byte for byte: one route table, one document
    assert len(json.loads(printed)["paths"]) >= 14


def test_real_answers_pass(service, checker, session):
    before = checker.checked
    assert session.get(service.base_url + "/health", timeout=10).status_code == 200
    assert session.get(service.base_url + "/openapi.json", timeout=10).status_code == 200
    assert session.get(service.base_url + "/docs/", timeout=10).status_code == 200
    assert session.get(service.base_url + "/docs/swagger-ui.css", timeout=10).status_code == 200
    assert session.get(service.base_url + "/orders", timeout=10).status_code == 401  # no token
    assert session.get(service.base_url + "/no/such/route", timeout=10).status_code == 404
    assert session.delete(service.base_url + "/orders", timeout=10).status_code == 405
    assert checker.checked == before + 7


def test_the_hook_fails_the_request_call(service, checker):
    s = requests.Session()
    lying = openapi_check.Checker(checker.document)
    # A document that forgets 401 on GET /orders: the real answer must now be refused.
    del lying.document["paths"]["/orders"]["get"]["responses"]["401"]
    try:
        lying.install(s)
        with pytest.raises(Violation, match="status not declared"):
            s.get(service.base_url + "/orders", timeout=10)
    finally:
        lying.document["paths"]["/orders"]["get"]["responses"]["401"] = {"$ref": "#/components/responses/Unauthorized"}


def test_install_everywhere_covers_plain_requests_calls(service, checker):
    lying = openapi_check.Checker(json.loads(json.dumps(checker.document)))
    del lying.document["paths"]["/health"]["get"]["responses"]["200"]
    undo = lying.install_everywhere()
    try:
        with pytest.raises(Violation, match="status not declared"):
            requests.get(service.base_url + "/health", timeout=10)
    finally:
        undo()
    assert requests.get(service.base_url + "/health", timeout=10).status_code == 200  # undone


def test_undeclared_status_is_refused(checker):
    with pytest.raises(Violation, match="status not declared"):
        checker.check("GET", "/health", 418, JSON, b"{}")


def test_body_breaking_the_schema_is_refused(checker):
    order = {"id": "0193", "user_id": "alice", "status": "lost", "currency": "USD", "total_cents": "1",
             "version": 1, "items": [], "created_at": "2026-11-24T15:00:00Z", "updated_at": "x"}
    with pytest.raises(Violation) as e:
        checker.check("GET", "/orders/0193", 200, dict(JSON, ETag='"1"'), json.dumps(order).encode())
    message = str(e.value)
    for where in ("status", "total_cents", "created_at", "id"):
        assert f"at {where}" in message, message


def test_error_body_must_have_the_contract_shape(checker):
    with pytest.raises(Violation, match="body breaks"):
        checker.check("GET", "/orders/x", 404, JSON, b'{"error":"not found"}')
    checker.check("GET", "/orders/x/", 404, JSON, PROBLEM_404)  # trailing slash, same route
    with pytest.raises(Violation, match="body breaks"):  # the wrong `type` for the status
        checker.check("GET", "/orders/x", 404, JSON, b'{"detail":"Order not found","type":"conflict"}')


def test_content_type_and_headers_are_checked(checker):
    with pytest.raises(Violation, match="Content-Type"):
        checker.check("GET", "/orders/x", 404, {"Content-Type": "text/html", "X-Request-ID": "r"}, b"<p>")
    with pytest.raises(Violation, match="X-Request-ID"):
        checker.check("GET", "/orders/x", 404, {"Content-Type": "application/json"}, PROBLEM_404)
    with pytest.raises(Violation, match="Retry-After"):
        checker.check("GET", "/orders", 503, dict(JSON, **{"Retry-After": "soon"}),
                      b'{"detail":"Service unavailable","type":"unavailable"}')


def test_unknown_paths_and_methods(checker):
    with pytest.raises(Violation, match="only 404"):
        checker.check("GET", "/nope", 200, JSON, b"{}")
    with pytest.raises(Violation, match="only 405"):
        checker.check("DELETE", "/orders", 200, JSON, b"{}")
    with pytest.raises(Violation, match="Allow"):
        checker.check("DELETE", "/orders", 405, JSON, b'{"detail":"x","type":"method_not_allowed"}')
