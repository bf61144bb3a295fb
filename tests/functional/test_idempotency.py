"""Idempotency-Key on POST /orders, on both databases: replays, mismatches, key syntax,
per-user key spaces, and duplicates racing each other."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_env import *  # noqa: F401,F403 — fixtures and helpers
from orders_env import assert_problem, client_for, error_locs, unique


def post_with_key(client, key, body):
    return client.post("/orders", body, headers={"Idempotency-Key": key})


def test_a_repeat_returns_the_stored_answer_and_creates_nothing(admin, alice):
    p = admin.make_product(stock=10)
    body = {"items": [{"product_id": p["id"], "quantity": 2}]}
    key = unique("key")
    first = post_with_key(alice, key, body)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = post_with_key(alice, key, body)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert admin.product(p["id"])["stock"] == 8, "stock taken once"
    assert len(alice.get("/orders").json()["data"]) == 1


def test_the_replay_is_the_first_answer_even_after_the_order_changed(admin, alice):
    p = admin.make_product(stock=10)
    body = {"items": [{"product_id": p["id"], "quantity": 1}]}
    key = unique("key")
    first = post_with_key(alice, key, body).json()
    assert alice.post(f"/orders/{first['id']}/pay").status_code == 200
    again = post_with_key(alice, key, body)
    assert again.json() == first and again.json()["status"] == "pending"


def test_same_items_in_another_order_are_the_same_body(admin, alice):
    a, b = admin.make_product(), admin.make_product()
    key = unique("key")
    first = post_with_key(alice, key, {"items": [{"product_id": a["id"], "quantity": 1},
                                                 {"product_id": b["id"], "quantity": 2}]})
    again = post_with_key(alice, key, {"items": [{"product_id": b["id"], "quantity": 2},
                                                 {"product_id": a["id"], "quantity": 1}]})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()


def test_a_repeat_with_another_body_is_422(admin, alice):
    p = admin.make_product(stock=10)
    key = unique("key")
    assert post_with_key(alice, key, {"items": [{"product_id": p["id"], "quantity": 1}]}).status_code == 201
    r = post_with_key(alice, key, {"items": [{"product_id": p["id"], "quantity": 2}]})
    assert error_locs(r) == [("header", "Idempotency-Key")]
    assert admin.product(p["id"])["stock"] == 9


def test_keys_belong_to_their_user(admin, alice, bob):
    p = admin.make_product(stock=10)
    body = {"items": [{"product_id": p["id"], "quantity": 1}]}
    key = unique("shared")
    mine = post_with_key(alice, key, body)
    theirs = post_with_key(bob, key, body)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert admin.product(p["id"])["stock"] == 8


def test_a_refused_first_request_is_replayed_or_rerun_never_a_500(admin, alice):
    p = admin.make_product(stock=1)
    body = {"items": [{"product_id": p["id"], "quantity": 5}]}
    key = unique("key")
    first = post_with_key(alice, key, body)
    assert_problem(first, 400, "business_error", p["id"])
    again = post_with_key(alice, key, body)
    assert again.status_code == 400 and again.json() == first.json()
    assert admin.product(p["id"])["stock"] == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey", "café", "new\x7fline"])
def test_malformed_keys_are_400(alice, key):
    headers = {"Idempotency-Key": key.encode("utf-8")}
    r = alice.post("/orders", {"items": [{"product_id": "p1", "quantity": 1}]}, headers=headers)
    assert_problem(r, 400, "bad_request")


def test_the_longest_key_and_every_visible_character_are_accepted(admin, alice):
    p = admin.make_product(stock=10)
    body = {"items": [{"product_id": p["id"], "quantity": 1}]}
    longest = ("k" * 255)[:-12] + unique("")[-12:]
    assert post_with_key(alice, longest, body).status_code == 201
    visible = "".join(chr(c) for c in range(0x21, 0x7F))
    assert post_with_key(alice, visible + unique("")[-8:], body).status_code == 201


def test_racing_duplicates_create_exactly_one_order(orders_server, admin):
    p = admin.make_product(stock=1000)
    racer = client_for(orders_server, unique("racer"))
    body = {"items": [{"product_id": p["id"], "quantity": 3}]}
    key = unique("race")
    start = threading.Barrier(16)

    def attempt(_):
        client = client_for(orders_server, racer.sub)
        start.wait(timeout=10)
        return post_with_key(client, key, body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(attempt, range(16)))
    statuses = sorted(r.status_code for r in answers)
    assert all(s in (201, 409) for s in statuses), statuses
    created = [r for r in answers if r.status_code == 201]
    assert len([r for r in created if "Idempotent-Replayed" not in r.headers]) == 1, statuses
    assert len({r.json()["id"] for r in created}) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["type"] == "conflict"
    assert admin.product(p["id"])["stock"] == 997
    assert len(racer.get("/orders").json()["data"]) == 1
    # Once the first committed, a retry is a replay.
    assert post_with_key(racer, key, body).headers["Idempotent-Replayed"] == "true"
