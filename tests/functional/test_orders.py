"""Orders over real HTTP on SQLite and PostgreSQL: create, read, list, replace items, and the
contract's rules for owners, admins, versions and stock."""

import subprocess

import pytest

from orders_env import *  # noqa: F401,F403 — fixtures and helpers
from orders_env import RFC3339_MICROS, UUID_V7, assert_problem, client_for, error_locs, unique


def test_create_order_computes_totals_and_takes_stock(admin, alice):
    beans = admin.make_product(price_cents=1299, stock=40)
    milk = admin.make_product(price_cents=250, stock=5)
    r = alice.post("/orders", {"items": [{"product_id": beans["id"], "quantity": 2},
                                         {"product_id": milk["id"], "quantity": 3}]})
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["Location"] == f"/orders/{order['id']}"
    assert r.headers["ETag"] == '"1"'
    assert UUID_V7.match(order["id"]), order["id"]
    assert order["user_id"] == alice.sub
    assert order["status"] == "pending"
    assert order["currency"] == "USD"
    assert order["version"] == 1
    assert RFC3339_MICROS.match(order["created_at"]) and order["created_at"] == order["updated_at"]
    lines = {i["product_id"]: i for i in order["items"]}
    assert lines[beans["id"]] == {"product_id": beans["id"], "quantity": 2, "unit_price_cents": 1299,
                                  "line_total_cents": 2598}
    assert lines[milk["id"]]["line_total_cents"] == 750
    assert order["total_cents"] == 2598 + 750
    assert admin.product(beans["id"])["stock"] == 38
    assert admin.product(milk["id"])["stock"] == 2
    got = alice.get(f"/orders/{order['id']}")
    assert got.status_code == 200 and got.json() == order and got.headers["ETag"] == '"1"'


def test_client_cannot_set_prices_or_totals(admin, alice):
    p = admin.make_product(price_cents=100)
    order = alice.make_order([{"product_id": p["id"], "quantity": 1, "unit_price_cents": 1}],
                             total_cents=1, status="paid")
    assert order["total_cents"] == 100 and order["items"][0]["unit_price_cents"] == 100
    assert order["status"] == "pending"


def test_unit_price_is_the_price_when_items_were_set(admin, alice):
    p = admin.make_product(price_cents=100)
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    admin.patch(f"/products/{p['id']}", {"price_cents": 999})
    assert alice.get(f"/orders/{order['id']}").json()["items"][0]["unit_price_cents"] == 100


def test_insufficient_stock_is_a_business_error_naming_the_product_and_takes_nothing(admin, alice):
    plenty = admin.make_product(stock=10)
    scarce = admin.make_product(stock=1)
    r = alice.post("/orders", {"items": [{"product_id": plenty["id"], "quantity": 5},
                                         {"product_id": scarce["id"], "quantity": 2}]})
    assert_problem(r, 400, "business_error", scarce["id"])
    assert admin.product(plenty["id"])["stock"] == 10, "all or nothing"
    assert admin.product(scarce["id"])["stock"] == 1
    assert alice.get("/orders").json()["data"] == []


def test_unknown_product_is_a_business_error_naming_it(admin, alice):
    known = admin.make_product(stock=3)
    missing = unique("nope")
    r = alice.post("/orders", {"items": [{"product_id": known["id"], "quantity": 1},
                                         {"product_id": missing, "quantity": 1}]})
    assert_problem(r, 400, "business_error", missing)
    assert admin.product(known["id"])["stock"] == 3


def test_user_id_equal_to_sub_is_ignored(admin, alice):
    p = admin.make_product()
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}], user_id=alice.sub)
    assert order["user_id"] == alice.sub


def test_user_ids_with_hidden_characters_are_refused_in_bodies_queries_and_tokens(orders_server, admin):
    p = admin.make_product(stock=5)
    items = [{"product_id": p["id"], "quantity": 1}]
    for hidden in ("\u0085", "\u2028", "\u202e", "\u2066", "\x7f"):
        assert error_locs(admin.post("/orders", {"user_id": "bob" + hidden, "items": items})) == [("body", "user_id")]
        assert error_locs(admin.get("/orders", params={"user_id": "bob" + hidden})) == [("query", "user_id")]
        r = client_for(orders_server, "bob" + hidden).get("/orders")
        assert_problem(r, 401, "unauthorized")
    assert admin.product(p["id"])["stock"] == 5


def test_user_id_that_breaks_the_schema_is_422_before_the_admin_rule(orders_server, admin, alice):
    """A number is not a string (no coercion), so the body is refused as invalid — never as
    forbidden, which would tell a non-admin something about a body the service cannot read."""
    p = admin.make_product(stock=5)
    items = [{"product_id": p["id"], "quantity": 1}]
    assert error_locs(alice.post("/orders", {"user_id": 7, "items": items})) == [("body", "user_id")]
    numeric = client_for(orders_server, str(100000 + int(unique("")[-6:], 16)))
    same_as_sub = numeric.post("/orders", {"user_id": int(numeric.sub), "items": items})
    assert error_locs(same_as_sub) == [("body", "user_id")]
    assert error_locs(admin.post("/orders", {"user_id": 7, "items": items})) == [("body", "user_id")]
    assert admin.product(p["id"])["stock"] == 5


def test_ordering_for_someone_else_needs_admin(admin, alice, bob):
    p = admin.make_product()
    r = alice.post("/orders", {"user_id": bob.sub, "items": [{"product_id": p["id"], "quantity": 1}]})
    assert_problem(r, 403, "forbidden")
    assert admin.product(p["id"])["stock"] == 40
    order = admin.make_order([{"product_id": p["id"], "quantity": 1}], user_id=bob.sub)
    assert order["user_id"] == bob.sub
    assert bob.get(f"/orders/{order['id']}").status_code == 200


def test_someone_elses_order_is_the_same_404_as_a_missing_one(admin, alice, bob):
    p = admin.make_product()
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    theirs = bob.get(f"/orders/{order['id']}")
    missing = bob.get("/orders/01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10")
    not_a_uuid = bob.get("/orders/not-a-uuid")
    assert theirs.status_code == missing.status_code == not_a_uuid.status_code == 404
    assert theirs.json() == missing.json() == not_a_uuid.json()
    assert theirs.json()["type"] == "not_found"
    # ... and the same for changes and actions.
    for r in (bob.patch(f"/orders/{order['id']}", {"items": [{"product_id": p["id"], "quantity": 2}]}),
              bob.post(f"/orders/{order['id']}/pay"), bob.post(f"/orders/{order['id']}/cancel")):
        assert r.status_code == 404 and r.json() == missing.json()
    assert admin.get(f"/orders/{order['id']}").status_code == 200
    assert alice.get(f"/orders/{order['id']}").json()["status"] == "pending"


def test_order_ids_are_case_insensitive_uuids(admin, alice):
    p = admin.make_product()
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    assert alice.get(f"/orders/{order['id'].upper()}").json()["id"] == order["id"]


def test_create_validation_reports_every_item_problem(admin, alice):
    p = admin.make_product()
    r = alice.post("/orders", {"items": [{"product_id": p["id"], "quantity": 0},
                                         {"product_id": p["id"], "quantity": 10001},
                                         {"product_id": "bad id", "quantity": "2"},
                                         {"quantity": 1.5}]})
    locs = error_locs(r)
    assert ("body", "items", 0, "quantity") in locs
    assert ("body", "items", 1, "quantity") in locs
    assert ("body", "items", 2, "product_id") in locs
    assert ("body", "items", 2, "quantity") in locs
    assert ("body", "items", 3, "product_id") in locs
    assert ("body", "items", 3, "quantity") in locs
    assert admin.product(p["id"])["stock"] == 40


@pytest.mark.parametrize("body, loc", [
    ({}, ("body", "items")),
    ({"items": []}, ("body", "items")),
    ({"items": "p1"}, ("body", "items")),
    ({"items": [{"product_id": "a", "quantity": True}]}, ("body", "items", 0, "quantity")),
    ({"items": [{"product_id": "a", "quantity": 1.0}]}, ("body", "items", 0, "quantity")),
    ({"items": [{"product_id": "a", "quantity": 1}, {"product_id": "a", "quantity": 1}]},
     ("body", "items", 1, "product_id")),
    ({"user_id": 1.5, "items": [{"product_id": "a", "quantity": 1}]}, ("body", "user_id")),
    ({"user_id": [], "items": [{"product_id": "a", "quantity": 1}]}, ("body", "user_id")),
])
def test_create_validation_rows(alice, body, loc):
    assert error_locs(alice.post("/orders", body)) == [loc]


def test_a_huge_invalid_body_gets_a_small_422(admin, alice):
    """300,000 bad elements in 600 KB used to come back as 300,001 errors in 26 MB."""
    r = alice.post("/orders", {"items": [1] * 300_000})
    assert error_locs(r) == [("body", "items")]
    assert r.json()["errors"][0]["type"] == "too_long"
    assert len(r.content) < 1024
    many = alice.post("/orders", {"items": [1] * 100})  # within the limit: each element is wrong
    body = assert_problem(many, 422, "validation_error", "only the first 20 errors are listed")
    assert [tuple(e["loc"]) for e in body["errors"]] == [("body", "items", i) for i in range(20)]


def test_items_limit_is_100(admin, alice):
    products = [admin.make_product(stock=1) for _ in range(2)]
    too_many = [{"product_id": f"x{i}", "quantity": 1} for i in range(101)]
    assert error_locs(alice.post("/orders", {"items": too_many})) == [("body", "items")]
    ok = alice.post("/orders", {"items": [{"product_id": p["id"], "quantity": 1} for p in products]})
    assert ok.status_code == 201


def test_list_shows_own_orders_newest_first_with_filters(admin, alice, bob):
    p = admin.make_product(stock=100)
    mine = [alice.make_order([{"product_id": p["id"], "quantity": 1}]) for _ in range(5)]
    bob.make_order([{"product_id": p["id"], "quantity": 1}])
    alice.post(f"/orders/{mine[1]['id']}/pay")
    listed = alice.walk("/orders", limit=2)
    assert [o["id"] for o in listed] == [o["id"] for o in reversed(mine)]
    assert all(o["user_id"] == alice.sub for o in listed)
    assert all(o["items"] for o in listed), "a page carries every order's items"
    paid = alice.get("/orders", params={"status": "paid"}).json()["data"]
    assert [o["id"] for o in paid] == [mine[1]["id"]]
    own = alice.get("/orders", params={"user_id": alice.sub}).json()["data"]
    assert len(own) == 5
    assert_problem(alice.get("/orders", params={"user_id": bob.sub}), 403, "forbidden")
    by_admin = admin.walk("/orders", user_id=alice.sub)
    assert [o["id"] for o in by_admin] == [o["id"] for o in reversed(mine)]
    admin_paid = admin.get("/orders", params={"user_id": alice.sub, "status": "paid"}).json()["data"]
    assert [o["id"] for o in admin_paid] == [mine[1]["id"]]


def test_list_query_validation(alice):
    assert error_locs(alice.get("/orders", params={"status": "refunded"})) == [("query", "status")]
    assert error_locs(alice.get("/orders", params={"limit": "x"})) == [("query", "limit")]
    assert error_locs(alice.get("/orders", params={"limit": "0", "status": "nope"})) == [
        ("query", "limit"), ("query", "status")]
    for cursor in ("***", "cDpwMQ", "bzpub3QtYS11dWlk"):  # junk, a products cursor, o:not-a-uuid
        assert_problem(alice.get("/orders", params={"cursor": cursor}), 400, "bad_request")


def test_a_repeated_query_parameter_is_422_not_one_of_its_values(admin, alice):
    """A gateway may act on the last value where the service would act on the first; neither
    guesses."""
    p = admin.make_product(stock=5)
    alice.make_order([{"product_id": p["id"], "quantity": 1}])
    for query in ("status=pending&status=bogus", "status=pending&status=pending", "limit=1&limit=500",
                  f"user_id={alice.sub}&user_id={alice.sub}"):
        r = alice.get(f"/orders?{query}")
        assert error_locs(r) == [("query", query.split("=")[0])], query
        assert r.json()["errors"][0]["type"] == "repeated"


def test_replace_items_adjusts_stock_and_totals_and_bumps_the_version(admin, alice):
    a = admin.make_product(price_cents=100, stock=10)
    b = admin.make_product(price_cents=30, stock=10)
    order = alice.make_order([{"product_id": a["id"], "quantity": 4}])
    r = alice.patch(f"/orders/{order['id']}", {"items": [{"product_id": a["id"], "quantity": 1},
                                                         {"product_id": b["id"], "quantity": 5}]})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert r.headers["ETag"] == '"2"' and changed["version"] == 2
    assert changed["total_cents"] == 100 + 150
    assert changed["created_at"] == order["created_at"]
    assert admin.product(a["id"])["stock"] == 9
    assert admin.product(b["id"])["stock"] == 5
    # Too much stock asked: refused, nothing changes.
    r = alice.patch(f"/orders/{order['id']}", {"items": [{"product_id": b["id"], "quantity": 16}]})
    assert_problem(r, 400, "business_error", b["id"])
    assert admin.product(a["id"])["stock"] == 9 and admin.product(b["id"])["stock"] == 5
    assert alice.get(f"/orders/{order['id']}").json()["version"] == 2


def test_if_match_guards_changes(admin, alice):
    p = admin.make_product(stock=10)
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    items = {"items": [{"product_id": p["id"], "quantity": 2}]}
    assert_problem(alice.patch(f"/orders/{order['id']}", items, headers={"If-Match": '"7"'}), 412,
                   "precondition_failed")
    r = alice.patch(f"/orders/{order['id']}", items, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert_problem(alice.post(f"/orders/{order['id']}/pay", headers={"If-Match": '"1"'}), 412,
                   "precondition_failed")
    assert alice.post(f"/orders/{order['id']}/pay", headers={"If-Match": 'W/"2"'}).status_code == 200
    assert alice.post(f"/orders/{order['id']}/cancel", headers={"If-Match": '"1", "3"'}).status_code == 200
    assert_problem(alice.post(f"/orders/{order['id']}/cancel", headers={"If-Match": "garbage"}), 400,
                   "bad_request")
    assert admin.product(p["id"])["stock"] == 10


def test_changing_a_non_pending_order_is_refused(admin, alice):
    p = admin.make_product(stock=10)
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    assert alice.post(f"/orders/{order['id']}/pay").status_code == 200
    assert admin.post(f"/orders/{order['id']}/ship").status_code == 200
    r = alice.patch(f"/orders/{order['id']}", {"items": [{"product_id": p["id"], "quantity": 2}]})
    assert_problem(r, 400, "business_error", "Cannot modify shipped orders")
    assert admin.product(p["id"])["stock"] == 9


def test_replace_items_validation_and_content_type(admin, alice):
    p = admin.make_product()
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    assert error_locs(alice.patch(f"/orders/{order['id']}", {"items": []})) == [("body", "items")]
    assert_problem(alice.patch(f"/orders/{order['id']}", data=b"{", headers={"Content-Type": "application/json"}),
                   400, "bad_request")
    assert_problem(alice.patch(f"/orders/{order['id']}", data=b"x", headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")


def test_orders_need_a_token_before_anything_else(alice):
    r = alice.post("/orders", data=b"{broken", headers={"Content-Type": "application/json"}, token=False)
    assert_problem(r, 401, "unauthorized")
    assert "Bearer" in r.headers["WWW-Authenticate"]
    r = alice.get("/orders", headers={"Authorization": "Bearer not.a.token"}, token=False)
    assert_problem(r, 401, "unauthorized")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_domain_metrics_count_creations_and_transitions(admin, alice):
    def value(name_with_labels):
        text = alice.get("/metrics", token=False).text
        for line in text.splitlines():
            if line.startswith(name_with_labels + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    created = 'orders_created_total'
    paid = 'order_status_transitions_total{from="pending",to="paid"}'
    before_created, before_paid = value(created), value(paid)
    p = admin.make_product()
    order = alice.make_order([{"product_id": p["id"], "quantity": 1}])
    alice.post(f"/orders/{order['id']}/pay")
    assert value(created) == before_created + 1
    assert value(paid) == before_paid + 1


def test_write_admission_gauges_on_postgresql(orders_server, admin, alice):
    # db_write_transactions{state} exists where writes are admitted (PostgreSQL) and settles
    # back to zero active and waiting once the writes are done; SQLite has no such series.
    p = admin.make_product()
    alice.make_order([{"product_id": p["id"], "quantity": 1}])
    text = alice.get("/metrics", token=False).text
    if orders_server.backend == "sqlite":
        assert "db_write_transactions" not in text
        return
    assert 'db_write_transactions{state="active"} 0' in text
    assert 'db_write_transactions{state="waiting"} 0' in text
    check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_hostile_text_in_paths_and_queries_is_never_a_500(admin, alice):
    # (A NUL in the path, "/orders/%00", is refused by the HTTP layer with 400 "Malformed request
    # target" — fine by the contract, but the OpenAPI document does not list 400 for these GET
    # routes yet, so the response checker would fail it; left out until the document says so.)
    for path in ("/orders/%ff%fe", "/orders/%ed%a0%80", "/products/%c0%af", "/products/%ff",
                 "/orders/" + "a" * 5000):
        r = alice.get(path)
        assert r.status_code == 404, (path, r.status_code, r.text)
    for query in ("user_id=%00", "user_id=%ff", "status=%ed%a0%80", "cursor=%00", "limit=%ff"):
        r = admin.get("/orders?" + query)
        assert r.status_code in (400, 422), (query, r.status_code, r.text)
