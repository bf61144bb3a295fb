// One suite, two real backends: every order_store method and outcome, then the invariants
// under concurrency (stock, idempotency, pagination) and the fixed statement count of
// pages. PostgreSQL cases skip when TEST_DATABASE_URL is unset (scripts/test sets it).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "db/orders/order_stores.hpp"
#include "orders/errors.hpp"
#include "orders/ids.hpp"
#include "orders/service.hpp"
#include "orders/store.hpp"
#include "support/store_backends.hpp"

namespace svc::db::store_test {
namespace {

namespace asio = boost::asio;
using namespace svc::orders;

using task = std::function<asio::awaitable<void>()>;

// A strictly increasing "now": order ids made from it are strictly increasing too.
timestamp next_now() {
    static std::atomic<timestamp> last{1'780'000'000'000'000};
    return last.fetch_add(1000) + 1000;
}

std::vector<item_request> items(std::initializer_list<std::pair<const char*, std::int64_t>> lines) {
    std::vector<item_request> out;
    for (const auto& [id, quantity] : lines) out.push_back({id, quantity});
    std::ranges::sort(out, {}, &item_request::product_id);
    return out;
}

new_order order_for(const std::string& user, std::vector<item_request> lines) {
    const auto now = next_now();
    new_order o;
    o.id = new_order_id(now);
    o.user_id = user;
    o.items = std::move(lines);
    o.now = now;
    return o;
}

idempotency_claim claim_for(
    const std::string& caller, const std::string& key, const std::string& fingerprint
) {
    idempotency_claim claim;
    claim.caller = caller;
    claim.key = key;
    claim.fingerprint = fingerprint;
    claim.render_created = [](const order& o) {
        return "created " + o.id + " v" + std::to_string(o.version);
    };
    claim.render_refused = [](const stock_refusal& r) { return "refused " + r.product_id; };
    return claim;
}

template <typename Backend>
class OrderStore : public ::testing::Test {
protected:
    void SetUp() override { REQUIRE_POSTGRES(backend_); }

    order_store& store() { return backend_.store(); }

    // Runs one coroutine factory to completion on the backend's loops.
    template <typename Make>
    void run(Make make) {
        backend_.runner().run(task(std::move(make)));
    }
    void run_all(std::vector<task> tasks) { backend_.runner().run_all(std::move(tasks)); }

    // Blocking conveniences for set-up and checks (each runs its own coroutine).
    product add_product(const std::string& id, std::int64_t price, std::int64_t stock) {
        std::variant<product, product_exists> created;
        run([&, id, price, stock]() -> asio::awaitable<void> {
            return assign(
                created, store().create_product(new_product{id, "Product " + id, price, stock}, next_now())
            );
        });
        return std::get<product>(created);
    }
    create_order_result create(new_order o) {
        create_order_result result;
        run([&, o]() { return assign(result, store().create_order(o)); });
        return result;
    }
    order create_ok(const std::string& user, std::vector<item_request> lines) {
        auto result = create(order_for(user, std::move(lines)));
        return std::get<order>(result);
    }
    std::optional<order> get(const std::string& id) {
        std::optional<order> found;
        run([&, id]() { return assign(found, store().get_order(id)); });
        return found;
    }
    std::optional<product> get_product(const std::string& id) {
        std::optional<product> found;
        run([&, id]() { return assign(found, store().get_product(id)); });
        return found;
    }
    page<order> list(order_query q) {
        page<order> result;
        run([&, q]() { return assign(result, store().list_orders(q)); });
        return result;
    }
    replace_items_result replace(replace_items_request r) {
        replace_items_result result;
        run([&, r]() { return assign(result, store().replace_items(r)); });
        return result;
    }
    transition_result apply(transition_request r) {
        transition_result result;
        run([&, r]() { return assign(result, store().transition(r)); });
        return result;
    }
    std::int64_t stock_of(const std::string& id) {
        return backend_.query_int("SELECT stock FROM products WHERE id = '" + id + "'");
    }

    // co_awaits `op` and stores its value into `target` (which outlives the run).
    template <typename T, typename U>
    static asio::awaitable<void> assign(T& target, asio::awaitable<U> op) {
        target = co_await std::move(op);
    }

    static transition_request pay(const std::string& id) {
        return {
            id, std::nullopt, std::nullopt, {order_status::pending}, order_status::paid, false, next_now()};
    }
    static transition_request cancel(const std::string& id) {
        return {
            id,
            std::nullopt,
            std::nullopt,
            {order_status::pending, order_status::paid},
            order_status::cancelled,
            true,
            next_now()};
    }

    Backend backend_;
};

using backends = ::testing::Types<postgres_backend, sqlite_backend>;
// No name generator: CTest's gtest_discover_tests (CMake 3.25) can only name typed cases
// whose gtest names end in the type's index; it shows the type instead, e.g.
// `OrderStore.Case<svc::db::store_test::postgres_backend>`.
TYPED_TEST_SUITE(OrderStore, backends);

// ---------------------------------------------------------------- products

TYPED_TEST(OrderStore, CreateGetAndDuplicateProduct) {
    const auto created = this->add_product("p1", 1299, 40);
    EXPECT_EQ(created.id, "p1");
    EXPECT_EQ(created.price_cents, 1299);
    EXPECT_EQ(created.stock, 40);
    EXPECT_EQ(created.created_at, created.updated_at);

    const auto found = this->get_product("p1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->name, "Product p1");
    EXPECT_EQ(found->created_at, created.created_at);  // microseconds survive the round trip
    EXPECT_FALSE(this->get_product("nope"));

    std::variant<product, product_exists> again;
    this->run([&]() {
        return this->assign(again, this->store().create_product({"p1", "Other", 1, 1}, next_now()));
    });
    EXPECT_TRUE(std::holds_alternative<product_exists>(again));
    EXPECT_EQ(this->get_product("p1")->name, "Product p1");  // the first one is untouched
}

TYPED_TEST(OrderStore, UpdateProductChangesOnlyGivenFields) {
    const auto created = this->add_product("p1", 100, 5);
    std::optional<product> updated;
    product_patch patch;
    patch.price_cents = 250;
    const auto when = next_now();
    this->run([&]() { return this->assign(updated, this->store().update_product("p1", patch, when)); });
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->price_cents, 250);
    EXPECT_EQ(updated->stock, 5);
    EXPECT_EQ(updated->name, created.name);
    EXPECT_EQ(updated->updated_at, when);
    EXPECT_EQ(updated->created_at, created.created_at);

    std::optional<product> missing{product{}};
    this->run([&]() { return this->assign(missing, this->store().update_product("nope", patch, next_now())); }
    );
    EXPECT_FALSE(missing);
}

TYPED_TEST(OrderStore, ListProductsWalksKeysetPages) {
    for (const auto* id : {"c", "a", "e", "b", "d"}) this->add_product(id, 1, 1);
    std::vector<std::string> seen;
    std::optional<std::string> after;
    int pages = 0;
    for (;; ++pages) {
        page<product> p;
        this->run([&]() { return this->assign(p, this->store().list_products({after, 2})); });
        for (const auto& product : p.data) seen.push_back(product.id);
        if (!p.has_more) break;
        after = p.data.back().id;
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
    EXPECT_EQ(pages, 2);  // 2 + 2 + 1, the last page says no more
}

// ---------------------------------------------------------------- create and read orders

TYPED_TEST(OrderStore, CreateOrderTakesStockAtCurrentPrices) {
    this->add_product("p1", 1299, 40);
    this->add_product("p7", 500, 3);
    auto request = order_for("alice", items({{"p7", 3}, {"p1", 2}}));
    const auto created = std::get<order>(this->create(request));
    EXPECT_EQ(created.id, request.id);
    EXPECT_EQ(created.user_id, "alice");
    EXPECT_EQ(created.status, order_status::pending);
    EXPECT_EQ(created.version, 1);
    EXPECT_EQ(created.total_cents, 2 * 1299 + 3 * 500);
    ASSERT_EQ(created.items.size(), 2U);
    EXPECT_EQ(created.items[0].product_id, "p1");
    EXPECT_EQ(created.items[0].unit_price_cents, 1299);
    EXPECT_EQ(created.items[0].line_total_cents, 2598);
    EXPECT_EQ(created.items[1].product_id, "p7");
    EXPECT_EQ(created.items[1].quantity, 3);
    EXPECT_EQ(this->stock_of("p1"), 38);
    EXPECT_EQ(this->stock_of("p7"), 0);

    const auto stored = this->get(created.id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->total_cents, created.total_cents);
    EXPECT_EQ(stored->created_at, request.now);
    EXPECT_EQ(stored->updated_at, request.now);
    ASSERT_EQ(stored->items.size(), 2U);
    EXPECT_EQ(stored->items[1].line_total_cents, 1500);
    EXPECT_FALSE(this->get(new_order_id(next_now())));
}

TYPED_TEST(OrderStore, StockRefusalsNameTheFirstProductAndWriteNothing) {
    this->add_product("a", 100, 5);
    this->add_product("c", 100, 1);

    auto unknown = this->create(order_for("alice", items({{"a", 1}, {"b", 1}, {"c", 5}})));
    ASSERT_TRUE(std::holds_alternative<stock_refusal>(unknown));
    EXPECT_EQ(std::get<stock_refusal>(unknown).product_id, "b");
    EXPECT_EQ(std::get<stock_refusal>(unknown).why, stock_refusal::reason::unknown_product);

    auto short_stock = this->create(order_for("alice", items({{"a", 5}, {"c", 2}})));
    ASSERT_TRUE(std::holds_alternative<stock_refusal>(short_stock));
    EXPECT_EQ(std::get<stock_refusal>(short_stock).product_id, "c");
    EXPECT_EQ(std::get<stock_refusal>(short_stock).why, stock_refusal::reason::insufficient_stock);

    EXPECT_EQ(this->stock_of("a"), 5);  // "a" was servable, yet nothing was taken
    EXPECT_EQ(this->stock_of("c"), 1);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM orders"), 0);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM order_items"), 0);

    // Exactly the remaining stock is fine.
    EXPECT_TRUE(std::holds_alternative<order>(this->create(order_for("alice", items({{"a", 5}, {"c", 1}})))));
    EXPECT_EQ(this->stock_of("a"), 0);
}

TYPED_TEST(OrderStore, ListOrdersNewestFirstWithFiltersAndCursor) {
    this->add_product("p", 10, 1000);
    std::vector<std::string> alice_ids;
    std::vector<std::string> bob_ids;
    for (int i = 0; i < 5; ++i) {
        alice_ids.push_back(this->create_ok("alice", items({{"p", 1 + i}})).id);
        bob_ids.push_back(this->create_ok("bob", items({{"p", 1}})).id);
    }
    ASSERT_TRUE(std::holds_alternative<transitioned>(this->apply(this->pay(alice_ids[1]))));

    auto all = this->list({std::nullopt, std::nullopt, std::nullopt, 50});
    ASSERT_EQ(all.data.size(), 10U);
    EXPECT_FALSE(all.has_more);
    EXPECT_EQ(all.data.front().id, bob_ids.back());  // newest first
    EXPECT_TRUE(std::ranges::is_sorted(all.data, std::ranges::greater{}, &order::id));

    auto first = this->list({"alice", std::nullopt, std::nullopt, 2});
    ASSERT_EQ(first.data.size(), 2U);
    EXPECT_TRUE(first.has_more);
    EXPECT_EQ(first.data[0].id, alice_ids[4]);
    EXPECT_EQ(first.data[1].id, alice_ids[3]);
    EXPECT_EQ(first.data[0].items.at(0).quantity, 5);  // items come with the page

    auto rest = this->list({"alice", std::nullopt, first.data.back().id, 10});
    ASSERT_EQ(rest.data.size(), 3U);
    EXPECT_FALSE(rest.has_more);
    EXPECT_EQ(rest.data[0].id, alice_ids[2]);
    EXPECT_EQ(rest.data[2].id, alice_ids[0]);

    auto paid = this->list({std::nullopt, order_status::paid, std::nullopt, 50});
    ASSERT_EQ(paid.data.size(), 1U);
    EXPECT_EQ(paid.data[0].id, alice_ids[1]);
    EXPECT_EQ(paid.data[0].status, order_status::paid);

    auto bob_pending = this->list({"bob", order_status::pending, std::nullopt, 50});
    EXPECT_EQ(bob_pending.data.size(), 5U);
    EXPECT_TRUE(this->list({"carol", std::nullopt, std::nullopt, 50}).data.empty());
}

// ---------------------------------------------------------------- replace items

TYPED_TEST(OrderStore, ReplaceItemsMovesStockByTheNetDelta) {
    this->add_product("a", 100, 10);
    this->add_product("b", 200, 10);
    this->add_product("c", 300, 10);
    const auto created = this->create_ok("alice", items({{"a", 4}, {"b", 2}}));
    // a: 4 → 1 (3 back), b: dropped (2 back), c: new (3 taken); c's price changed meanwhile.
    product_patch patch;
    patch.price_cents = 350;
    std::optional<product> repriced;
    this->run([&]() { return this->assign(repriced, this->store().update_product("c", patch, next_now())); });
    ASSERT_TRUE(repriced);

    const auto when = next_now();
    auto result = this->replace({created.id, "alice", 1, items({{"c", 3}, {"a", 1}}), when});
    ASSERT_TRUE(std::holds_alternative<order>(result));
    const auto& changed = std::get<order>(result);
    EXPECT_EQ(changed.version, 2);
    EXPECT_EQ(changed.updated_at, when);
    EXPECT_EQ(changed.created_at, created.created_at);
    EXPECT_EQ(changed.total_cents, 1 * 100 + 3 * 350);
    ASSERT_EQ(changed.items.size(), 2U);
    EXPECT_EQ(changed.items[0].product_id, "a");
    EXPECT_EQ(changed.items[1].unit_price_cents, 350);
    EXPECT_EQ(this->stock_of("a"), 9);
    EXPECT_EQ(this->stock_of("b"), 10);
    EXPECT_EQ(this->stock_of("c"), 7);
    const auto stored = this->get(created.id);
    EXPECT_EQ(stored->total_cents, changed.total_cents);
    EXPECT_EQ(stored->items.size(), 2U);
}

TYPED_TEST(OrderStore, ReplaceItemsRefusalsAndGuards) {
    this->add_product("a", 100, 5);
    const auto created = this->create_ok("alice", items({{"a", 5}}));

    // The order's own units count as available: 5 held + 0 left → 5 is fine, 6 is not.
    auto too_many = this->replace({created.id, std::nullopt, std::nullopt, items({{"a", 6}}), next_now()});
    ASSERT_TRUE(std::holds_alternative<stock_refusal>(too_many));
    EXPECT_EQ(std::get<stock_refusal>(too_many).why, stock_refusal::reason::insufficient_stock);
    auto unknown =
        this->replace({created.id, std::nullopt, std::nullopt, items({{"a", 1}, {"zz", 1}}), next_now()});
    ASSERT_TRUE(std::holds_alternative<stock_refusal>(unknown));
    EXPECT_EQ(std::get<stock_refusal>(unknown).product_id, "zz");
    EXPECT_EQ(std::get<stock_refusal>(unknown).why, stock_refusal::reason::unknown_product);
    EXPECT_EQ(this->stock_of("a"), 0);
    EXPECT_EQ(this->get(created.id)->version, 1);  // nothing changed

    EXPECT_TRUE(std::holds_alternative<order_not_found>(
        this->replace({new_order_id(next_now()), std::nullopt, std::nullopt, items({{"a", 1}}), next_now()})
    ));
    EXPECT_TRUE(std::holds_alternative<order_not_found>(
        this->replace({created.id, "mallory", std::nullopt, items({{"a", 1}}), next_now()})
    ));
    auto stale = this->replace({created.id, "alice", 7, items({{"a", 1}}), next_now()});
    ASSERT_TRUE(std::holds_alternative<version_mismatch>(stale));
    EXPECT_EQ(std::get<version_mismatch>(stale).current, 1);

    ASSERT_TRUE(std::holds_alternative<transitioned>(this->apply(this->pay(created.id))));
    auto paid = this->replace({created.id, "alice", std::nullopt, items({{"a", 1}}), next_now()});
    ASSERT_TRUE(std::holds_alternative<wrong_status>(paid));
    EXPECT_EQ(std::get<wrong_status>(paid).current, order_status::paid);
    EXPECT_EQ(this->stock_of("a"), 0);
}

// ---------------------------------------------------------------- transitions

TYPED_TEST(OrderStore, TransitionsFollowTheGuards) {
    this->add_product("a", 100, 10);
    const auto created = this->create_ok("alice", items({{"a", 3}}));

    EXPECT_TRUE(std::holds_alternative<order_not_found>(this->apply(this->pay(new_order_id(next_now())))));
    auto foreign = this->pay(created.id);
    foreign.owner = "mallory";
    EXPECT_TRUE(std::holds_alternative<order_not_found>(this->apply(foreign)));
    auto stale = this->pay(created.id);
    stale.expected_version = 2;
    ASSERT_TRUE(std::holds_alternative<version_mismatch>(this->apply(stale)));

    auto paid_request = this->pay(created.id);
    paid_request.owner = "alice";
    paid_request.expected_version = 1;
    auto paid = this->apply(paid_request);
    ASSERT_TRUE(std::holds_alternative<transitioned>(paid));
    EXPECT_EQ(std::get<transitioned>(paid).previous, order_status::pending);
    EXPECT_EQ(std::get<transitioned>(paid).after.status, order_status::paid);
    EXPECT_EQ(std::get<transitioned>(paid).after.version, 2);
    EXPECT_EQ(std::get<transitioned>(paid).after.updated_at, paid_request.now);
    EXPECT_EQ(std::get<transitioned>(paid).after.items.size(), 1U);
    EXPECT_EQ(this->stock_of("a"), 7);  // paying returns nothing

    auto twice = this->apply(this->pay(created.id));
    ASSERT_TRUE(std::holds_alternative<wrong_status>(twice));
    EXPECT_EQ(std::get<wrong_status>(twice).current, order_status::paid);

    auto cancelled = this->apply(this->cancel(created.id));
    ASSERT_TRUE(std::holds_alternative<transitioned>(cancelled));
    EXPECT_EQ(std::get<transitioned>(cancelled).previous, order_status::paid);
    EXPECT_EQ(std::get<transitioned>(cancelled).after.version, 3);
    EXPECT_EQ(this->stock_of("a"), 10);  // cancelling returned the units

    auto again = this->apply(this->cancel(created.id));
    ASSERT_TRUE(std::holds_alternative<wrong_status>(again));
    EXPECT_EQ(this->stock_of("a"), 10);  // and only once
    EXPECT_EQ(this->get(created.id)->status, order_status::cancelled);
}

// ---------------------------------------------------------------- idempotency

TYPED_TEST(OrderStore, IdempotencyReplaysMismatchesAndStoresRefusals) {
    this->add_product("a", 100, 10);
    auto first = order_for("alice", items({{"a", 2}}));
    first.idempotency = claim_for("alice", "key-1", "fp-1");
    const auto created = std::get<order>(this->create(first));

    auto repeat = order_for("alice", items({{"a", 2}}));
    repeat.idempotency = claim_for("alice", "key-1", "fp-1");
    auto replayed = this->create(repeat);
    ASSERT_TRUE(std::holds_alternative<idempotent_replay>(replayed));
    EXPECT_EQ(std::get<idempotent_replay>(replayed).status, 201U);
    EXPECT_EQ(std::get<idempotent_replay>(replayed).body, "created " + created.id + " v1");

    auto other_body = order_for("alice", items({{"a", 3}}));
    other_body.idempotency = claim_for("alice", "key-1", "fp-2");
    EXPECT_TRUE(std::holds_alternative<idempotency_mismatch>(this->create(other_body)));

    // The key space is per caller: bob's "key-1" is a first request.
    auto bobs = order_for("bob", items({{"a", 1}}));
    bobs.idempotency = claim_for("bob", "key-1", "fp-1");
    EXPECT_TRUE(std::holds_alternative<order>(this->create(bobs)));

    EXPECT_EQ(this->stock_of("a"), 7);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM orders"), 2);

    // A refusal is an answer too: stored as 400 and replayed, with nothing else written.
    auto refused = order_for("alice", items({{"a", 100}}));
    refused.idempotency = claim_for("alice", "key-2", "fp-3");
    ASSERT_TRUE(std::holds_alternative<stock_refusal>(this->create(refused)));
    auto refused_again = order_for("alice", items({{"a", 100}}));
    refused_again.idempotency = claim_for("alice", "key-2", "fp-3");
    auto stored_refusal = this->create(refused_again);
    ASSERT_TRUE(std::holds_alternative<idempotent_replay>(stored_refusal));
    EXPECT_EQ(std::get<idempotent_replay>(stored_refusal).status, 400U);
    EXPECT_EQ(std::get<idempotent_replay>(stored_refusal).body, "refused a");
    EXPECT_EQ(this->stock_of("a"), 7);
}

TYPED_TEST(OrderStore, ExpiredKeysAreFirstRequestsAgainAndArePurged) {
    this->add_product("a", 100, 10);
    auto first = order_for("alice", items({{"a", 1}}));
    first.idempotency = claim_for("alice", "old", "fp-1");
    ASSERT_TRUE(std::holds_alternative<order>(this->create(first)));
    auto kept = order_for("alice", items({{"a", 1}}));
    kept.idempotency = claim_for("alice", "young", "fp-1");
    ASSERT_TRUE(std::holds_alternative<order>(this->create(kept)));

    const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(k_idempotency_ttl).count();
    // 24 h later "old" is gone as far as the store is concerned: same key, new body, new order.
    auto later = order_for("alice", items({{"a", 2}}));
    later.now = first.now + ttl + 1;
    later.id = new_order_id(later.now);
    later.idempotency = claim_for("alice", "old", "fp-2");
    ASSERT_TRUE(std::holds_alternative<order>(this->create(later)));
    EXPECT_EQ(this->stock_of("a"), 6);

    // Purge what was created before `kept` (the taken-over "old" entry is newer: it stays).
    std::size_t purged = 99;
    this->run([&]() { return this->assign(purged, this->store().purge_idempotency_keys(kept.now)); });
    EXPECT_EQ(purged, 0U);
    this->run([&]() { return this->assign(purged, this->store().purge_idempotency_keys(kept.now + 1)); });
    EXPECT_EQ(purged, 1U);  // "young"
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys"), 1);
}

TYPED_TEST(OrderStore, PeriodicPurgeDeletesOnlyExpiredKeys) {
    this->add_product("a", 100, 10);
    const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(k_idempotency_ttl).count();
    auto old = order_for("alice", items({{"a", 1}}));
    old.now = system_now() - ttl - 60'000'000;  // a day and a minute ago
    old.id = new_order_id(old.now);
    old.idempotency = claim_for("alice", "old", "fp");
    ASSERT_TRUE(std::holds_alternative<order>(this->create(old)));
    auto fresh = order_for("alice", items({{"a", 1}}));
    fresh.now = system_now();
    fresh.id = new_order_id(fresh.now);
    fresh.idempotency = claim_for("alice", "fresh", "fp");
    ASSERT_TRUE(std::holds_alternative<order>(this->create(fresh)));

    // One tick of the application's purge loop, which the timer then cancels.
    this->run([&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer stop(co_await asio::this_coro::executor, std::chrono::milliseconds(1500));
        co_await (
            purge_idempotency_keys_periodically(this->store(), {std::chrono::seconds(1)}) ||
            stop.async_wait(asio::use_awaitable)
        );
    });
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys WHERE key = 'old'"), 0);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys WHERE key = 'fresh'"), 1);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM orders"), 2);  // orders are kept
}

// A backlog larger than any fixed number of batches (the purge used to stop at 10,000 rows a
// tick): one tick removes every expired entry, one batch per store call, and nothing else.
TYPED_TEST(OrderStore, PurgeRemovesTheWholeExpiredBacklogInBatches) {
    const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(k_idempotency_ttl).count();
    const auto now = system_now();
    const std::string columns =
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, order_id, "
        "created_at, expires_at) ";
    // 12,345 entries created 25 hours ago (expired an hour ago) and one fresh entry; PostgreSQL
    // stores timestamptz, SQLite microseconds since the epoch.
    std::string insert;
    if constexpr (std::is_same_v<TypeParam, postgres_backend>) {
        insert = columns +
                 "SELECT 'bulk', 'k' || g, 'fp', 201, '{}', NULL, now() - interval '25 hours', "
                 "now() - interval '1 hour' FROM generate_series(1, 12345) AS g; " +
                 columns + "VALUES ('bulk', 'fresh', 'fp', 201, '{}', NULL, now(), now() + interval '1 day')";
    } else {
        const auto created = std::to_string(now - ttl - 3'600'000'000);
        const auto expired = std::to_string(now - 3'600'000'000);
        insert = columns +
                 "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 12345) " +
                 "SELECT 'bulk', 'k' || g, 'fp', 201, '{}', NULL, " + created + ", " + expired + " FROM n; " +
                 columns + "VALUES ('bulk', 'fresh', 'fp', 201, '{}', NULL, " + std::to_string(now) + ", " +
                 std::to_string(now + ttl) + ")";
    }
    this->backend_.admin_exec(insert);
    ASSERT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys"), 12346);

    std::size_t one_call = 0;
    this->run([&]() {
        return this->assign(one_call, this->store().purge_idempotency_keys(system_now() - ttl));
    });
    EXPECT_EQ(one_call, k_idempotency_purge_batch);  // one bounded batch per call

    std::size_t purged = 0;
    this->run([&]() {
        return this->assign(purged, purge_expired_idempotency_keys(this->store(), system_now() - ttl));
    });
    EXPECT_EQ(purged, 12345 - k_idempotency_purge_batch);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys"), 1);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys WHERE key = 'fresh'"), 1);
}

TYPED_TEST(OrderStore, KeyHeldByARunningRequestIsInFlightThenReplayed) {
    this->add_product("a", 100, 10);
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    std::atomic<bool> first_rendering{false};

    auto first = order_for("alice", items({{"a", 1}}));
    first.idempotency = claim_for("alice", "k", "fp");
    // The first request's transaction is open while it renders: hold it there.
    first.idempotency->render_created = [&](const order& o) {
        first_rendering = true;
        std::unique_lock lock(m);
        cv.wait_for(lock, std::chrono::seconds(2), [&] { return release; });
        return "created " + o.id;
    };
    create_order_result first_result;
    create_order_result second_result;
    this->run_all({
        [&]() { return this->assign(first_result, this->store().create_order(first)); },
        [&]() -> asio::awaitable<void> {
            // Runs on the other loop; waits (without blocking its loop) until the first holds the key.
            asio::steady_timer timer(co_await asio::this_coro::executor);
            while (!first_rendering) {
                timer.expires_after(std::chrono::milliseconds(5));
                co_await timer.async_wait(asio::use_awaitable);
            }
            auto duplicate = order_for("alice", items({{"a", 1}}));
            duplicate.idempotency = claim_for("alice", "k", "fp");
            second_result = co_await this->store().create_order(duplicate);
            {
                std::lock_guard lock(m);
                release = true;
            }
            cv.notify_all();
        },
    });
    ASSERT_TRUE(std::holds_alternative<order>(first_result));
    if constexpr (TypeParam::k_reports_in_flight) {
        EXPECT_TRUE(std::holds_alternative<idempotency_in_flight>(second_result));
    } else {
        ASSERT_TRUE(std::holds_alternative<idempotent_replay>(second_result));
    }
    auto third = order_for("alice", items({{"a", 1}}));
    third.idempotency = claim_for("alice", "k", "fp");
    auto replay = this->create(third);
    ASSERT_TRUE(std::holds_alternative<idempotent_replay>(replay));
    EXPECT_EQ(std::get<idempotent_replay>(replay).body, "created " + std::get<order>(first_result).id);
    EXPECT_EQ(this->stock_of("a"), 9);
}

TYPED_TEST(OrderStore, KeyIsNotStuckWhenTheRequestHoldingItDies) {
    this->add_product("a", 100, 10);
    auto doomed = order_for("alice", items({{"a", 1}}));
    doomed.idempotency = claim_for("alice", "k", "fp");
    doomed.idempotency->render_created = [](const order&) -> std::string {
        throw std::runtime_error("the replica died while answering");
    };
    EXPECT_THROW(this->create(doomed), std::runtime_error);
    EXPECT_EQ(this->stock_of("a"), 10);  // the order's transaction rolled back, claim included
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM idempotency_keys"), 0);

    auto retry = order_for("alice", items({{"a", 1}}));
    retry.idempotency = claim_for("alice", "k", "fp");
    EXPECT_TRUE(std::holds_alternative<order>(this->create(retry)));
    EXPECT_EQ(this->stock_of("a"), 9);
}

// PostgreSQL only: the connection holding the claim is killed (as when its replica dies)
// after the order and claim were written but before COMMIT. The server rolls both back; the
// store reports the outage as `unavailable`, and a retry with the same key is a first request.
TEST(OrderStorePostgres, KeyIsNotStuckWhenTheConnectionHoldingItIsKilled) {
    postgres_backend backend;
    REQUIRE_POSTGRES(backend);
    auto& store = backend.store();
    backend.runner().run([&]() -> asio::awaitable<void> {
        // Named, not a braced temporary: GCC 12 miscompiles class temporaries inside co_await.
        new_product a{"a", "A", 100, 10};
        co_await store.create_product(std::move(a), next_now());
    });
    auto doomed = order_for("alice", items({{"a", 1}}));
    doomed.idempotency = claim_for("alice", "k", "fp");
    doomed.idempotency->render_created = [&](const order& o) {
        // Our transaction is open and idle now; its last statement wrote the claim.
        backend.admin_exec(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction' "
            "AND datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%idempotency_keys%'"
        );
        return "created " + o.id;
    };
    bool unavailable_reported = false;
    backend.runner().run([&]() -> asio::awaitable<void> {
        try {
            (void)co_await store.create_order(doomed);
        } catch (const unavailable&) {
            unavailable_reported = true;
        }
    });
    EXPECT_TRUE(unavailable_reported);
    EXPECT_EQ(backend.query_int("SELECT count(*) FROM orders"), 0);
    EXPECT_EQ(backend.query_int("SELECT count(*) FROM idempotency_keys"), 0);
    EXPECT_EQ(backend.query_int("SELECT stock FROM products WHERE id = 'a'"), 10);

    auto retry = order_for("alice", items({{"a", 1}}));
    retry.idempotency = claim_for("alice", "k", "fp");
    create_order_result result;
    backend.runner().run([&]() -> asio::awaitable<void> { result = co_await store.create_order(retry); });
    ASSERT_TRUE(std::holds_alternative<order>(result));
    EXPECT_EQ(backend.query_int("SELECT count(*) FROM orders"), 1);
    EXPECT_EQ(backend.query_int("SELECT stock FROM products WHERE id = 'a'"), 9);
}

// PostgreSQL only: write transactions and a user's pages reuse one generic plan per statement
// and connection (DB_GENERIC_PLANS), read off the server's own per-session counters; with the
// setting off, PostgreSQL's default plans them per execution, which this test can tell apart.
TEST(OrderStorePostgres, WritesAndUserPagesUseGenericPlansWhenEnabled) {
    for (const bool generic : {true, false}) {
        // 2 connections over 2 loops, and every task below runs on loop 0: one connection.
        postgres_backend backend(2, generic);
        REQUIRE_POSTGRES(backend);
        auto& store = backend.store();
        std::int64_t custom_plans = -1;
        std::int64_t generic_plans = -1;
        backend.runner().run([&]() -> asio::awaitable<void> {
            new_product a{"a", "A", 100, 1'000};
            co_await store.create_product(std::move(a), next_now());
            for (int i = 0; i < 8; ++i) {
                auto plain = order_for("alice", items({{"a", 1}}));
                auto created = co_await store.create_order(std::move(plain));
                replace_items_request replace{
                    std::get<order>(created).id, std::nullopt, std::nullopt, items({{"a", 2}}), next_now()};
                co_await store.replace_items(std::move(replace));
                auto keyed = order_for("alice", items({{"a", 1}}));
                keyed.idempotency = claim_for("alice", "k" + std::to_string(i), "fp");
                co_await store.create_order(std::move(keyed));
                order_query page{"alice", std::nullopt, std::nullopt, 5};
                co_await store.list_orders(std::move(page));
            }
            auto lease = co_await backend.pool().acquire();
            auto counts = co_await lease.execute(
                "SELECT coalesce(sum(custom_plans), -1)::int8, coalesce(sum(generic_plans), -1)::int8 "
                "FROM pg_prepared_statements "
                "WHERE statement LIKE '%INSERT INTO orders%' OR statement LIKE '%UPDATE orders%' "
                "OR statement LIKE '%o.user_id <= $4%'"
            );
            custom_plans = counts[0].int64(0);
            generic_plans = counts[0].int64(1);
        });
        if (generic) {
            EXPECT_EQ(custom_plans, 0);
            EXPECT_GE(generic_plans, 32);  // 8 plain creates, keyed creates, replacements, pages
        } else {
            EXPECT_GE(custom_plans, 20);  // at least the first 5 executions of each statement
        }
    }
}

// PostgreSQL only: every transaction that locks rows goes through the pool's write admission
// (pool_options::max_writers), reads do not. With the one write slot of loop 0 held by the
// test, each write waits — and completes once the slot is free — while a read goes through.
TEST(OrderStorePostgres, WriteTransactionsWaitForAWriteSlotAndReadsDoNot) {
    // 2 writers over 2 loops: one on loop 0, where everything below runs.
    postgres_backend backend(8, true, 2);
    REQUIRE_POSTGRES(backend);
    auto& store = backend.store();
    backend.runner().run([&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        new_product a{"a", "A", 100, 1'000};
        co_await store.create_product(std::move(a), next_now());
        auto request = order_for("alice", items({{"a", 1}}));
        auto first = co_await store.create_order(std::move(request));
        const auto order_id = std::get<order>(first).id;

        std::vector<std::pair<const char*, std::function<asio::awaitable<void>()>>> writes;
        writes.emplace_back("create_order", [&]() -> asio::awaitable<void> {
            auto another = order_for("alice", items({{"a", 1}}));
            co_await store.create_order(std::move(another));
        });
        writes.emplace_back("replace_items", [&]() -> asio::awaitable<void> {
            replace_items_request replace{
                order_id, std::nullopt, std::nullopt, items({{"a", 2}}), next_now()};
            co_await store.replace_items(std::move(replace));
        });
        writes.emplace_back("update_product", [&]() -> asio::awaitable<void> {
            product_patch patch;
            patch.stock = 500;
            co_await store.update_product("a", std::move(patch), next_now());
        });
        writes.emplace_back("transition", [&]() -> asio::awaitable<void> {
            transition_request cancel{
                order_id,
                std::nullopt,
                std::nullopt,
                {order_status::pending},
                order_status::cancelled,
                true,
                next_now()};
            co_await store.transition(std::move(cancel));
        });
        for (auto& entry : writes) {
            const char* const name = entry.first;
            auto slot = std::make_unique<pg::lease>(co_await backend.pool().acquire_for_writes());
            std::atomic<bool> done{false};
            asio::co_spawn(executor, entry.second(), [&](std::exception_ptr e) {
                if (e) ADD_FAILURE() << name << " failed";
                done = true;
            });
            asio::steady_timer pause(executor, std::chrono::milliseconds(150));
            co_await pause.async_wait(asio::use_awaitable);
            EXPECT_FALSE(done) << name << " ran without a write slot";
            const auto read = co_await store.get_order(order_id);
            EXPECT_TRUE(read.has_value()) << "a read waited for a write slot";
            slot.reset();
            for (int i = 0; i < 200 && !done; ++i) {
                pause.expires_after(std::chrono::milliseconds(5));
                co_await pause.async_wait(asio::use_awaitable);
            }
            EXPECT_TRUE(done) << name << " did not run once the slot was free";
        }
    });
    // Each write did its work: 1000 - 1 - 1 (creates) - 1 (1 → 2 units), set to 500, + 2 (cancel).
    EXPECT_EQ(backend.query_int("SELECT count(*) FROM orders"), 2);
    EXPECT_EQ(backend.query_int("SELECT stock FROM products WHERE id = 'a'"), 502);
}

// ---------------------------------------------------------------- concurrency

TYPED_TEST(OrderStore, HundredConcurrentOrdersSellExactlyTheStock) {
    this->add_product("hot", 100, 25);
    this->add_product("cold", 50, 1'000);
    std::atomic<int> created{0};
    std::atomic<int> refused{0};
    std::vector<task> tasks;
    for (int i = 0; i < 100; ++i) {
        tasks.push_back([&, i]() -> asio::awaitable<void> {
            // Half the orders also take "cold": multi-product orders locking in id order.
            auto lines = i % 2 == 0 ? items({{"hot", 1}, {"cold", 1}}) : items({{"hot", 1}});
            auto request = order_for("user" + std::to_string(i % 7), lines);
            auto result = co_await this->store().create_order(std::move(request));
            if (std::holds_alternative<order>(result)) ++created;
            if (std::holds_alternative<stock_refusal>(result)) ++refused;
        });
    }
    this->run_all(std::move(tasks));
    EXPECT_EQ(created, 25);
    EXPECT_EQ(refused, 75);
    EXPECT_EQ(this->stock_of("hot"), 0);
    const auto sold_hot =
        this->backend_.query_int("SELECT sum(quantity) FROM order_items WHERE product_id = 'hot'");
    EXPECT_EQ(sold_hot, 25);
    const auto sold_cold =
        this->backend_.query_int("SELECT count(*) FROM order_items WHERE product_id = 'cold'");
    EXPECT_EQ(sold_cold + this->stock_of("cold"), 1'000);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM orders"), 25);
}

TYPED_TEST(OrderStore, StockIsConservedUnderConcurrentCreatesCancelsAndReplacements) {
    const std::vector<std::string> products{"p1", "p2", "p3", "p4"};
    for (const auto& id : products) this->add_product(id, 100, 25);
    // Units sold = Σ quantities of live (not cancelled) orders; sold + stock = 100 always.
    const std::string sold_sql =
        "SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id "
        "WHERE o.status <> 'cancelled'";
    std::vector<std::string> live;
    for (int i = 0; i < 12; ++i) live.push_back(this->create_ok("u", items({{"p1", 1}, {"p2", 1}})).id);

    std::atomic<int> outcomes{0};
    std::vector<task> tasks;
    for (int i = 0; i < 90; ++i) {
        tasks.push_back([&, i]() -> asio::awaitable<void> {
            std::mt19937 random(static_cast<unsigned>(i));
            const auto& target = live[static_cast<std::size_t>(i) % live.size()];
            auto pick = [&] { return products[random() % products.size()]; };
            std::map<std::string, std::int64_t> lines;  // unique product ids, sorted
            lines[pick()] = 1 + random() % 4;
            lines[pick()] = 1 + random() % 4;
            std::vector<item_request> request;
            for (const auto& [id, quantity] : lines) request.push_back({id, quantity});
            if (i % 3 == 0) {
                auto creation = order_for("u", request);
                (void)co_await this->store().create_order(std::move(creation));
            } else if (i % 3 == 1) {
                auto cancellation = this->cancel(target);
                (void)co_await this->store().transition(std::move(cancellation));
            } else {
                replace_items_request replacement{target, std::nullopt, std::nullopt, request, next_now()};
                (void)co_await this->store().replace_items(std::move(replacement));
            }
            ++outcomes;
        });
    }
    this->run_all(std::move(tasks));
    EXPECT_EQ(outcomes, 90);  // every operation finished with a typed outcome, none threw
    std::int64_t stock = 0;
    for (const auto& id : products) {
        const auto left = this->stock_of(id);
        EXPECT_GE(left, 0);
        stock += left;
    }
    EXPECT_EQ(this->backend_.query_int(sold_sql) + stock, 100);
    // Per product, too.
    for (const auto& id : products) {
        const auto sold = this->backend_.query_int(
            "SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id "
            "WHERE o.status <> 'cancelled' AND i.product_id = '" +
            id + "'"
        );
        EXPECT_EQ(sold + this->stock_of(id), 25) << id;
    }
    // Totals agree with their items.
    EXPECT_EQ(
        this->backend_.query_int(
            "SELECT count(*) FROM orders o WHERE total_cents <> "
            "(SELECT coalesce(sum(line_total_cents), 0) FROM order_items i WHERE i.order_id = o.id)"
        ),
        0
    );
}

TYPED_TEST(OrderStore, RacingIdempotentRetriesCreateOneOrder) {
    this->add_product("a", 100, 1'000);
    std::atomic<int> created{0};
    std::atomic<int> replayed{0};
    std::atomic<int> in_flight{0};
    std::vector<task> tasks;
    for (int i = 0; i < 30; ++i) {
        tasks.push_back([&]() -> asio::awaitable<void> {
            auto request = order_for("alice", items({{"a", 2}}));
            request.idempotency = claim_for("alice", "same-key", "fp");
            auto result = co_await this->store().create_order(request);
            if (std::holds_alternative<order>(result)) ++created;
            if (std::holds_alternative<idempotent_replay>(result)) ++replayed;
            if (std::holds_alternative<idempotency_in_flight>(result)) ++in_flight;
        });
    }
    this->run_all(std::move(tasks));
    EXPECT_EQ(created, 1);
    EXPECT_EQ(created + replayed + in_flight, 30);
    EXPECT_EQ(this->backend_.query_int("SELECT count(*) FROM orders"), 1);
    EXPECT_EQ(this->stock_of("a"), 998);
}

TYPED_TEST(OrderStore, PaginationWalkIsStableWhileOthersInsert) {
    this->add_product("p", 1, 100'000);
    std::set<std::string> existing;
    for (int i = 0; i < 45; ++i) existing.insert(this->create_ok("walker", items({{"p", 1}})).id);

    std::vector<std::string> walked;
    std::vector<task> tasks;
    tasks.push_back([&]() -> asio::awaitable<void> {
        std::optional<std::string> cursor;
        for (;;) {
            const order_query query{"walker", std::nullopt, cursor, 4};
            auto p = co_await this->store().list_orders(query);
            for (const auto& o : p.data) walked.push_back(o.id);
            if (!p.has_more) break;
            cursor = p.data.back().id;
        }
    });
    for (int i = 0; i < 30; ++i) {
        tasks.push_back([&]() -> asio::awaitable<void> {
            auto request = order_for("walker", items({{"p", 1}}));
            (void)co_await this->store().create_order(std::move(request));
        });
    }
    this->run_all(std::move(tasks));
    const std::set<std::string> unique(walked.begin(), walked.end());
    EXPECT_EQ(unique.size(), walked.size()) << "a row appeared twice";
    for (const auto& id : existing) EXPECT_TRUE(unique.contains(id)) << "skipped " << id;
    EXPECT_TRUE(std::ranges::is_sorted(walked, std::ranges::greater{}));
}

// ---------------------------------------------------------------- statement counts

TYPED_TEST(OrderStore, PagesLoadItemsWithAFixedNumberOfStatements) {
    for (const auto* id : {"a", "b", "c"}) this->add_product(id, 10, 1'000);
    for (int i = 0; i < 40; ++i) this->create_ok("u", items({{"a", 1}, {"b", 2}, {"c", 3}}));

    auto statements_for = [&](std::size_t limit) {
        const auto before = this->backend_.statements_sent();
        auto p = this->list({"u", std::nullopt, std::nullopt, limit});
        EXPECT_EQ(p.data.size(), limit);
        for (const auto& o : p.data) EXPECT_EQ(o.items.size(), 3U);
        return this->backend_.statements_sent() - before;
    };
    const auto small = statements_for(2);
    const auto large = statements_for(40);
    EXPECT_EQ(small, large);
    // The page and all its items: one statement (on PostgreSQL inside its plan-mode transaction).
    EXPECT_EQ(large, TypeParam::k_statements_per_user_page);

    const auto before = this->backend_.statements_sent();
    (void)this->get(this->list({"u", std::nullopt, std::nullopt, 1}).data.at(0).id);
    EXPECT_EQ(this->backend_.statements_sent() - before, TypeParam::k_statements_per_user_page + 1);
}

}  // namespace
}  // namespace svc::db::store_test
