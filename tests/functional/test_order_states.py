"""The full status state machine over HTTP: every action from every status, by every kind
of caller, on both databases. The expected outcome of each cell is derived from the
contract's text here, independently of the orders_server's own table."""

import pytest

from orders_env import *  # noqa: F401,F403 — fixtures and helpers
from orders_env import assert_problem

STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]
ACTIONS = ["pay", "cancel", "ship", "deliver"]
ROLES = ["owner", "other_user", "admin"]

# The contract: pending → paid → shipped → delivered; pending|paid → cancelled.
TRANSITIONS = {
    ("pending", "pay"): "paid",
    ("paid", "ship"): "shipped",
    ("shipped", "deliver"): "delivered",
    ("pending", "cancel"): "cancelled",
    ("paid", "cancel"): "cancelled",
}
ADMIN_ONLY = {"ship", "deliver"}

# How to bring a fresh (pending) order to each status, with the admin doing admin steps.
PATH_TO = {
    "pending": [],
    "paid": ["pay"],
    "shipped": ["pay", "ship"],
    "delivered": ["pay", "ship", "deliver"],
    "cancelled": ["cancel"],
}


def expected(status, action, role):
    """(http status, error type or None, resulting order status or None)."""
    if role == "other_user":
        # Not theirs: admin-only routes refuse on role first; the others do not leak existence.
        return (403, "forbidden", None) if action in ADMIN_ONLY else (404, "not_found", None)
    if role == "owner" and action in ADMIN_ONLY:
        return (403, "forbidden", None)
    target = TRANSITIONS.get((status, action))
    if target is None:
        return (400, "business_error", None)
    return (200, None, target)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", STATUSES)
def test_state_machine_cell(admin, alice, bob, status, action, role):
    product = admin.make_product(stock=10)
    order = alice.make_order([{"product_id": product["id"], "quantity": 3}])
    for step in PATH_TO[status]:
        actor = admin if step in ADMIN_ONLY else alice
        r = actor.post(f"/orders/{order['id']}/{step}")
        assert r.status_code == 200, r.text
    before = admin.get(f"/orders/{order['id']}").json()
    assert before["status"] == status
    stock_before = admin.product(product["id"])["stock"]

    caller = {"owner": alice, "other_user": bob, "admin": admin}[role]
    r = caller.post(f"/orders/{order['id']}/{action}")
    http_status, error_type, target = expected(status, action, role)

    after = admin.get(f"/orders/{order['id']}").json()
    if http_status == 200:
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == target
        assert body["version"] == before["version"] + 1
        assert r.headers["ETag"] == f'"{body["version"]}"'
        assert body["updated_at"] >= before["updated_at"]
        assert after == body
        returned = 3 if target == "cancelled" else 0
        assert admin.product(product["id"])["stock"] == stock_before + returned
    else:
        assert_problem(r, http_status, error_type)
        if error_type == "business_error":
            assert action in r.json()["detail"] and status in r.json()["detail"], r.json()
        assert after == before, "a refused action changes nothing"
        assert admin.product(product["id"])["stock"] == stock_before


def test_cancel_returns_stock_once(admin, alice):
    product = admin.make_product(stock=5)
    order = alice.make_order([{"product_id": product["id"], "quantity": 5}])
    assert admin.product(product["id"])["stock"] == 0
    assert alice.post(f"/orders/{order['id']}/cancel").status_code == 200
    assert admin.product(product["id"])["stock"] == 5
    assert_problem(alice.post(f"/orders/{order['id']}/cancel"), 400, "business_error")
    assert admin.product(product["id"])["stock"] == 5


def test_cancel_returns_every_unit_even_past_the_input_bound(admin, alice):
    """10^9 bounds the stock a client sets; units coming back are never clamped or refused
    (docs/API.md), so sold + left = stocked holds at the bound too."""
    product = admin.make_product(stock=1_000_000_000)
    order = alice.make_order([{"product_id": product["id"], "quantity": 10}])
    restocked = admin.patch(f"/products/{product['id']}", json={"stock": 1_000_000_000})
    assert restocked.status_code == 200, restocked.text
    assert alice.post(f"/orders/{order['id']}/cancel").status_code == 200
    assert admin.product(product["id"])["stock"] == 1_000_000_010
