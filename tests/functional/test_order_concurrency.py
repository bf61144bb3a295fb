"""The stock invariant under concurrency, on both databases: stock never goes below zero and
units sold + stock left = units stocked, through racing orders, cancels and item
replacements; and keyset pagination stays stable while other clients insert."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from orders_env import *  # noqa: F401,F403 — fixtures and helpers
from orders_env import client_for, unique


def units_sold(admin, product_id, owners):
    """Units of product_id in the non-cancelled orders of `owners`, read through the API."""
    total = 0
    for owner in owners:
        for order in admin.walk("/orders", limit=200, user_id=owner):
            if order["status"] == "cancelled":
                continue
            total += sum(i["quantity"] for i in order["items"] if i["product_id"] == product_id)
    return total


def test_100_concurrent_orders_for_25_units_sell_exactly_25(orders_server, admin):
    stocked = 25
    p = admin.make_product(stock=stocked)
    buyers = [unique("buyer") for _ in range(10)]
    start = threading.Barrier(20)

    def buy(i):
        client = client_for(orders_server, buyers[i % len(buyers)])
        if i < 20:
            start.wait(timeout=10)
        return client.post("/orders", {"items": [{"product_id": p["id"], "quantity": 1}]})

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(buy, range(100)))
    statuses = [r.status_code for r in answers]
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert statuses.count(201) == stocked, sorted(set(statuses))
    assert statuses.count(400) == 100 - stocked
    for r in answers:
        if r.status_code == 400:
            assert r.json()["type"] == "business_error" and p["id"] in r.json()["detail"]
    assert admin.product(p["id"])["stock"] == 0
    assert units_sold(admin, p["id"], buyers) == stocked


def test_invariant_holds_through_random_cancels_and_replacements(orders_server, admin):
    stocked_a, stocked_b = 60, 40
    a = admin.make_product(stock=stocked_a)
    b = admin.make_product(stock=stocked_b)
    owners = [unique("mixer") for _ in range(6)]
    clients = {o: client_for(orders_server, o) for o in owners}
    orders = []
    for i in range(12):
        owner = owners[i % len(owners)]
        orders.append((owner, clients[owner].make_order([{"product_id": a["id"], "quantity": 2},
                                                         {"product_id": b["id"], "quantity": 1}])))
    rng = random.Random(20261201)
    plan = []
    for _ in range(80):
        owner, order = rng.choice(orders)
        roll = rng.random()
        if roll < 0.2:
            plan.append((owner, "cancel", order["id"], None))
        elif roll < 0.75:
            items = [{"product_id": a["id"], "quantity": rng.randint(1, 8)}]
            if rng.random() < 0.6:
                items.append({"product_id": b["id"], "quantity": rng.randint(1, 8)})
            plan.append((owner, "replace", order["id"], items))
        else:
            plan.append((owner, "create", None, [{"product_id": b["id"], "quantity": rng.randint(1, 4)}]))

    def run(step):
        owner, kind, order_id, items = step
        client = client_for(orders_server, owner)
        if kind == "cancel":
            return client.post(f"/orders/{order_id}/cancel")
        if kind == "replace":
            return client.patch(f"/orders/{order_id}", {"items": items})
        return client.post("/orders", {"items": items})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(run, plan))
    statuses = sorted({r.status_code for r in answers})
    assert all(s in (200, 201, 400) for s in statuses), [(r.status_code, r.text) for r in answers
                                                         if r.status_code not in (200, 201, 400)][:3]
    for r in answers:
        if r.status_code == 400:
            assert r.json()["type"] == "business_error"
    stock_a = admin.product(a["id"])["stock"]
    stock_b = admin.product(b["id"])["stock"]
    assert stock_a >= 0 and stock_b >= 0
    assert units_sold(admin, a["id"], owners) + stock_a == stocked_a
    assert units_sold(admin, b["id"], owners) + stock_b == stocked_b


def test_pagination_walk_is_stable_while_others_insert(orders_server, admin):
    p = admin.make_product(stock=100_000)
    owner = unique("pager")
    client = client_for(orders_server, owner)
    existing = [client.make_order([{"product_id": p["id"], "quantity": 1}])["id"] for _ in range(30)]
    stop = threading.Event()
    inserted = []

    def insert():
        writer = client_for(orders_server, owner)
        while not stop.is_set() and len(inserted) < 200:
            inserted.append(writer.make_order([{"product_id": p["id"], "quantity": 1}])["id"])

    writer = threading.Thread(target=insert)
    writer.start()
    try:
        seen, cursor = [], None
        while True:
            params = {"limit": 4}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/orders", params=params).json()
            seen.extend(o["id"] for o in page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(seen) == len(set(seen)), "no order twice"
    assert seen == sorted(seen, reverse=True), "newest first, by time-ordered id"
    assert set(existing) <= set(seen), "every order that existed before the walk is seen"
