"""Products over real HTTP on SQLite and PostgreSQL: create, get, update, list, and every
error row the contract gives these routes."""

from orders_env import *  # noqa: F401,F403 — fixtures and helpers
from orders_env import RFC3339_MICROS, assert_problem, error_locs, unique


def test_admin_creates_a_product_with_location_and_times(admin):
    product_id = unique("p")
    r = admin.post("/products", {"id": product_id, "name": "Coffee beans 1kg", "price_cents": 1299, "stock": 40})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/products/{product_id}"
    body = r.json()
    assert {k: body[k] for k in ("id", "name", "price_cents", "stock")} == {
        "id": product_id, "name": "Coffee beans 1kg", "price_cents": 1299, "stock": 40}
    assert RFC3339_MICROS.match(body["created_at"]) and RFC3339_MICROS.match(body["updated_at"])
    assert admin.get(f"/products/{product_id}").json() == body


def test_duplicate_product_id_is_409(admin):
    product = admin.make_product()
    r = admin.post("/products", {"id": product["id"], "name": "Other", "price_cents": 1, "stock": 1})
    assert_problem(r, 409, "conflict", product["id"])
    assert admin.product(product["id"])["name"] == product["name"]  # unchanged


def test_users_read_products_but_only_admins_write(admin, alice):
    product = admin.make_product()
    assert alice.get(f"/products/{product['id']}").status_code == 200
    r = alice.post("/products", {"id": unique("p"), "name": "x", "price_cents": 1, "stock": 1})
    assert_problem(r, 403, "forbidden")
    assert_problem(alice.patch(f"/products/{product['id']}", {"stock": 1}), 403, "forbidden")
    assert admin.product(product["id"])["stock"] == product["stock"]


def test_products_need_a_token(alice):
    r = alice.get("/products", token=False)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # Authentication comes before the body is parsed: a broken body still gets 401.
    r = alice.post("/products", data=b"{not json", headers={"Content-Type": "application/json"}, token=False)
    assert_problem(r, 401, "unauthorized")


def test_unknown_product_is_404_also_for_impossible_ids(alice):
    assert_problem(alice.get(f"/products/{unique('missing')}"), 404, "not_found")
    assert_problem(alice.get("/products/" + "x" * 65), 404, "not_found")
    assert_problem(alice.get("/products/a%20b"), 404, "not_found")


def test_patch_changes_only_the_given_fields(admin):
    product = admin.make_product(price_cents=500, stock=3, name="Tea")
    r = admin.patch(f"/products/{product['id']}", {"price_cents": 650})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["price_cents"], body["stock"]) == ("Tea", 650, 3)
    assert body["created_at"] == product["created_at"]
    assert body["updated_at"] >= product["updated_at"]
    r = admin.patch(f"/products/{product['id']}", {"name": "Green tea", "stock": 0})
    assert (r.json()["name"], r.json()["price_cents"], r.json()["stock"]) == ("Green tea", 650, 0)
    # An empty patch changes nothing.
    r = admin.patch(f"/products/{product['id']}", {})
    assert r.status_code == 200 and r.json()["name"] == "Green tea"
    assert_problem(admin.patch(f"/products/{unique('missing')}", {"stock": 1}), 404, "not_found")


def test_create_validation_lists_every_failure_with_loc(admin):
    r = admin.post("/products", {"id": "bad id!", "name": "", "price_cents": -1, "stock": 1_000_000_001})
    assert set(error_locs(r)) == {("body", "id"), ("body", "name"), ("body", "price_cents"), ("body", "stock")}
    for e in r.json()["errors"]:
        assert isinstance(e["msg"], str) and isinstance(e["type"], str)
    r = admin.post("/products", {"name": "x"})
    assert set(error_locs(r)) == {("body", "id"), ("body", "price_cents"), ("body", "stock")}
    assert {e["type"] for e in r.json()["errors"]} == {"missing"}


def test_limits_are_inclusive(admin):
    ok = admin.post("/products", {"id": "a" * 60 + unique("")[-4:], "name": "n" * 200,
                                  "price_cents": 1_000_000_000, "stock": 0})
    assert ok.status_code == 201, ok.text
    too_long = admin.post("/products", {"id": unique("p"), "name": "n" * 201, "price_cents": 0, "stock": 0})
    assert error_locs(too_long) == [("body", "name")]
    too_long_id = admin.post("/products", {"id": "a" * 65, "name": "n", "price_cents": 0, "stock": 0})
    assert error_locs(too_long_id) == [("body", "id")]


def test_no_type_coercion(admin):
    base = {"id": unique("p"), "name": "x", "price_cents": 1, "stock": 1}
    for field, value in [("price_cents", "2"), ("price_cents", 1.5), ("stock", True), ("stock", None),
                         ("name", 5), ("id", 7), ("price_cents", 2.0)]:
        r = admin.post("/products", dict(base, **{field: value}))
        assert error_locs(r) == [("body", field)], (field, value, r.text)
    product = admin.make_product()
    r = admin.patch(f"/products/{product['id']}", {"stock": "5"})
    assert error_locs(r) == [("body", "stock")]


def test_unknown_fields_are_ignored(admin):
    product_id = unique("p")
    r = admin.post("/products", {"id": product_id, "name": "x", "price_cents": 1, "stock": 1, "colour": "red"})
    assert r.status_code == 201, r.text
    assert "colour" not in r.json()


def test_text_is_stored_exactly_or_refused(admin):
    product_id = unique("p")
    name = "Café ☕ \U0001F600 \"quoted\" \\ back"
    r = admin.post("/products", {"id": product_id, "name": name, "price_cents": 1, "stock": 1})
    assert r.status_code == 201, r.text
    assert admin.product(product_id)["name"] == name
    headers = {"Content-Type": "application/json"}
    nul = admin.post("/products", data=b'{"id":"%s","name":"a\\u0000b","price_cents":1,"stock":1}'
                     % unique("p").encode(), headers=headers)
    assert nul.status_code in (400, 422), nul.text
    for raw in (b'{"id":"p","name":"\\ud800","price_cents":1,"stock":1}',
                b'{"id":"p","name":"\\udc00","price_cents":1,"stock":1}',
                b'{"id":"p","name":"\xff\xfe","price_cents":1,"stock":1}',
                b'{"id":"p","name":"\xc0\xaf","price_cents":1,"stock":1}'):
        r = admin.post("/products", data=raw, headers=headers)
        assert r.status_code in (400, 422), (raw, r.status_code, r.text)


def test_malformed_json_is_400_and_non_json_is_415(admin):
    headers = {"Content-Type": "application/json"}
    for raw in (b"{", b"", b"[1,]", b'{"id": "p1",}', b"nul", b'{"a":1} {"b":2}'):
        assert_problem(admin.post("/products", data=raw, headers=headers), 400, "bad_request")
    assert_problem(admin.post("/products", data=b"[" * 10_000 + b"]" * 10_000, headers=headers), 400, "bad_request")
    assert_problem(admin.post("/products", data=b"id=p1", headers={"Content-Type": "application/x-www-form-urlencoded"}),
                   415, "unsupported_media_type")
    assert_problem(admin.post("/products", data=b'{"id":"p1"}', headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")
    r = admin.post("/products", data=b'{"id":"%s","name":"x","price_cents":1,"stock":1}' % unique("p").encode(),
                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    # A JSON body that is not an object is a schema error, not a syntax error.
    assert error_locs(admin.post("/products", json=[1, 2])) == [("body",)]


def test_list_is_by_id_with_keyset_cursor(admin, alice):
    prefix = unique("list")
    ids = sorted(f"{prefix}-{i:02d}" for i in range(7))
    for product_id in reversed(ids):
        admin.make_product(product_id=product_id)
    everything = alice.walk("/products", limit=3)
    seen = [p["id"] for p in everything]
    assert seen == sorted(seen), "products are listed by id"
    assert len(seen) == len(set(seen)), "no product twice"
    assert [i for i in seen if i.startswith(prefix)] == ids
    first = alice.get("/products", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and isinstance(first["next_cursor"], str)


def test_list_query_validation(alice):
    for value in ("0", "201", "abc", "1.5", "-1", ""):
        r = alice.get("/products", params={"limit": value})
        assert error_locs(r) == [("query", "limit")], (value, r.text)
    assert alice.get("/products", params={"limit": "200"}).status_code == 200
    assert error_locs(alice.get("/products?limit=1&limit=500")) == [("query", "limit")]
    for cursor in ("%%%", "not-a-cursor!", "AAAA", "bzpzb21ldGhpbmc"):  # the last: an orders cursor
        assert_problem(alice.get("/products", params={"cursor": cursor}), 400, "bad_request")


def test_trailing_slash_is_the_same_route(admin):
    product = admin.make_product()
    assert admin.get("/products/").status_code == 200
    assert admin.get(f"/products/{product['id']}/").json()["id"] == product["id"]


def test_wrong_method_is_405_with_allow(alice):
    r = alice.request("DELETE", "/products")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]


def test_error_bodies_carry_no_internals(alice):
    r = alice.get("/products/" + unique("p"))
    body = r.json()
    assert set(body) == {"detail", "type"}
    assert "SELECT" not in r.text and "sqlite" not in r.text.lower()
