// The domain service over the REAL stores (a temp SQLite file, and the PostgreSQL of
// TEST_DATABASE_URL): roles, the user_id rule, hiding other people's orders, the full
// state-machine table (every action from every status by every kind of caller), item
// replacement rules, idempotency outcomes, and the domain events the metrics count.

#include "orders/service.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "orders/errors.hpp"
#include "support/store_backends.hpp"

namespace svc::orders {
namespace {

using db::store_test::postgres_backend;
using db::store_test::sqlite_backend;

// Counts the service's domain events (what api::domain_metrics turns into counters).
class event_counter final : public service_observer {
public:
    void order_created(const order&) override { created.fetch_add(1); }
    void status_changed(order_status from, order_status to) override {
        transitions[{from, to}] += 1;  // single-threaded use in these tests
    }
    std::atomic<int> created{0};
    std::map<std::pair<order_status, order_status>, int> transitions;
};

template <class T>
boost::asio::awaitable<void> store_into(std::optional<T>& out, boost::asio::awaitable<T> op) {
    out = co_await std::move(op);
}

template <class Backend>
class ServiceOnStore : public ::testing::Test {
protected:
    void SetUp() override {
        REQUIRE_POSTGRES(backend_);
        service_.emplace(backend_.store(), &events_);  // only now: an unavailable backend has no store
    }

    // Runs one service call to completion on the backend's event loops; rethrows its error.
    template <class T>
    T sync(boost::asio::awaitable<T> op) {
        std::optional<T> out;
        backend_.runner().run([&]() { return store_into(out, std::move(op)); });
        return std::move(*out);
    }

    product add_product(const std::string& id, std::int64_t price, std::int64_t stock) {
        return sync(service_->create_product(admin_, {id, "Product " + id, price, stock}));
    }
    order add_order(const actor& who, const std::string& product_id, std::int64_t quantity) {
        auto outcome =
            sync(service_->create_order(who, {std::nullopt, {{product_id, quantity}}, std::nullopt}));
        return std::get<order>(outcome);
    }
    std::int64_t stock_of(const std::string& id) { return sync(service_->get_product(id)).stock; }

    Backend backend_;
    event_counter events_;
    std::optional<service> service_;
    actor admin_{"root", true};
    actor alice_{"alice", false};
    actor bob_{"bob", false};
};

using backends = ::testing::Types<sqlite_backend, postgres_backend>;
// No name generator: CTest's gtest_discover_tests (CMake 3.25) can only name typed cases
// whose gtest names end in the type's index; it shows the type instead, e.g.
// `ServiceOnStore.Case<svc::db::store_test::postgres_backend>`.
TYPED_TEST_SUITE(ServiceOnStore, backends);

TYPED_TEST(ServiceOnStore, OnlyAdminsWriteProductsAndIdsAreUnique) {
    EXPECT_THROW(this->sync(this->service_->create_product(this->alice_, {"p1", "x", 1, 1})), forbidden);
    this->add_product("p1", 100, 5);
    EXPECT_THROW(this->add_product("p1", 100, 5), conflict);
    EXPECT_THROW(
        this->sync(this->service_->update_product(this->alice_, "p1", {std::nullopt, 1, std::nullopt})),
        forbidden
    );
    const auto changed =
        this->sync(this->service_->update_product(this->admin_, "p1", {std::nullopt, 250, std::nullopt}));
    EXPECT_EQ(changed.price_cents, 250);
    EXPECT_EQ(changed.stock, 5);
    EXPECT_THROW(
        this->sync(this->service_->update_product(this->admin_, "nope", {"n", std::nullopt, std::nullopt})),
        not_found
    );
    EXPECT_THROW(this->sync(this->service_->get_product("bad id")), not_found);
    EXPECT_THROW(this->sync(this->service_->get_product("nope")), not_found);
}

TYPED_TEST(ServiceOnStore, UserIdEqualToSubIsIgnoredOtherwiseNeedsAdmin) {
    this->add_product("p1", 100, 10);
    auto same = this->sync(this->service_->create_order(this->alice_, {"alice", {{"p1", 1}}, std::nullopt}));
    EXPECT_EQ(std::get<order>(same).user_id, "alice");
    EXPECT_THROW(
        this->sync(this->service_->create_order(this->alice_, {"bob", {{"p1", 1}}, std::nullopt})), forbidden
    );
    auto for_bob = this->sync(this->service_->create_order(this->admin_, {"bob", {{"p1", 1}}, std::nullopt}));
    EXPECT_EQ(std::get<order>(for_bob).user_id, "bob");
    EXPECT_EQ(this->stock_of("p1"), 8);
    EXPECT_EQ(this->events_.created.load(), 2);
}

TYPED_TEST(ServiceOnStore, StockRefusalsAreBusinessErrorsNamingTheProduct) {
    this->add_product("p1", 100, 1);
    try {
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 2}}, std::nullopt}));
        FAIL() << "no error";
    } catch (const business_error& e) {
        EXPECT_STREQ(e.what(), "Insufficient stock for product p1");
    }
    try {
        this->sync(
            this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 1}, {"zz", 1}}, std::nullopt})
        );
        FAIL() << "no error";
    } catch (const business_error& e) {
        EXPECT_STREQ(e.what(), "Unknown product zz");
    }
    EXPECT_EQ(this->stock_of("p1"), 1);
    EXPECT_EQ(this->events_.created.load(), 0);
}

TYPED_TEST(ServiceOnStore, OtherPeoplesOrdersLookMissing) {
    this->add_product("p1", 100, 10);
    const auto mine = this->add_order(this->alice_, "p1", 1);
    std::string missing_message, theirs_message, malformed_message;
    try {
        this->sync(this->service_->get_order(this->bob_, mine.id));
    } catch (const not_found& e) {
        theirs_message = e.what();
    }
    try {
        this->sync(this->service_->get_order(this->bob_, "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10"));
    } catch (const not_found& e) {
        missing_message = e.what();
    }
    try {
        this->sync(this->service_->get_order(this->bob_, "not-a-uuid"));
    } catch (const not_found& e) {
        malformed_message = e.what();
    }
    EXPECT_FALSE(theirs_message.empty());
    EXPECT_EQ(theirs_message, missing_message);
    EXPECT_EQ(theirs_message, malformed_message);
    EXPECT_THROW(
        this->sync(this->service_->apply(this->bob_, mine.id, order_action::pay, std::nullopt)), not_found
    );
    EXPECT_THROW(
        this->sync(this->service_->replace_items(this->bob_, mine.id, {{"p1", 2}}, std::nullopt)), not_found
    );
    EXPECT_EQ(this->sync(this->service_->get_order(this->admin_, mine.id)).id, mine.id);
    EXPECT_EQ(this->sync(this->service_->get_order(this->alice_, mine.id)).status, order_status::pending);
}

TYPED_TEST(ServiceOnStore, ListingIsOwnOrdersUnlessAdmin) {
    this->add_product("p1", 100, 10);
    this->add_order(this->alice_, "p1", 1);
    this->add_order(this->bob_, "p1", 1);
    const auto own = this->sync(this->service_->list_orders(this->alice_, {}));
    ASSERT_EQ(own.data.size(), 1U);
    EXPECT_EQ(own.data[0].user_id, "alice");
    order_query other;
    other.user_id = "bob";
    EXPECT_THROW(this->sync(this->service_->list_orders(this->alice_, other)), forbidden);
    EXPECT_EQ(this->sync(this->service_->list_orders(this->admin_, other)).data.size(), 1U);
    EXPECT_EQ(this->sync(this->service_->list_orders(this->admin_, {})).data.size(), 2U);
}

// Every action from every status by owner, another user and an admin. Expected cells come
// from the contract's sentences, not from k_actions.
TYPED_TEST(ServiceOnStore, FullStateMachineTableByRole) {
    const std::map<std::pair<order_status, order_action>, order_status> allowed = {
        {{order_status::pending, order_action::pay}, order_status::paid},
        {{order_status::paid, order_action::ship}, order_status::shipped},
        {{order_status::shipped, order_action::deliver}, order_status::delivered},
        {{order_status::pending, order_action::cancel}, order_status::cancelled},
        {{order_status::paid, order_action::cancel}, order_status::cancelled},
    };
    const std::map<order_status, std::vector<order_action>> path_to = {
        {order_status::pending, {}},
        {order_status::paid, {order_action::pay}},
        {order_status::shipped, {order_action::pay, order_action::ship}},
        {order_status::delivered, {order_action::pay, order_action::ship, order_action::deliver}},
        {order_status::cancelled, {order_action::cancel}},
    };
    const auto admin_only = [](order_action a) {
        return a == order_action::ship || a == order_action::deliver;
    };
    this->add_product("p1", 100, 1000);
    int cell = 0;
    for (const auto& [status, steps] : path_to) {
        for (const auto action :
             {order_action::pay, order_action::cancel, order_action::ship, order_action::deliver}) {
            for (const auto* who : {&this->alice_, &this->bob_, &this->admin_}) {
                ++cell;
                const auto o = this->add_order(this->alice_, "p1", 2);
                for (const auto step : steps)
                    this->sync(this->service_->apply(this->admin_, o.id, step, std::nullopt));
                const auto before = this->sync(this->service_->get_order(this->admin_, o.id));
                ASSERT_EQ(before.status, status);
                const auto stock_before = this->stock_of("p1");
                const auto transitions_before = this->events_.transitions;
                const std::string where = "cell " + std::to_string(cell) + ": " +
                                          std::string(to_string(status)) + " " +
                                          std::string(rule_for(action).name) + " by " + who->subject;

                const bool is_owner = who == &this->alice_;
                const auto target = allowed.find({status, action});
                if (!who->is_admin && admin_only(action)) {
                    EXPECT_THROW(
                        this->sync(this->service_->apply(*who, o.id, action, std::nullopt)), forbidden
                    ) << where;
                } else if (!who->is_admin && !is_owner) {
                    EXPECT_THROW(
                        this->sync(this->service_->apply(*who, o.id, action, std::nullopt)), not_found
                    ) << where;
                } else if (target == allowed.end()) {
                    EXPECT_THROW(
                        this->sync(this->service_->apply(*who, o.id, action, std::nullopt)), business_error
                    ) << where;
                } else {
                    const auto after = this->sync(this->service_->apply(*who, o.id, action, std::nullopt));
                    EXPECT_EQ(after.status, target->second) << where;
                    EXPECT_EQ(after.version, before.version + 1) << where;
                    const std::pair<order_status, order_status> edge{status, target->second};
                    const int counted_before =
                        transitions_before.contains(edge) ? transitions_before.at(edge) : 0;
                    EXPECT_EQ(this->events_.transitions[edge], counted_before + 1) << where;
                    const auto returned = target->second == order_status::cancelled ? 2 : 0;
                    EXPECT_EQ(this->stock_of("p1"), stock_before + returned) << where;
                    continue;
                }
                // Refused: nothing changed.
                const auto unchanged = this->sync(this->service_->get_order(this->admin_, o.id));
                EXPECT_EQ(unchanged.status, before.status) << where;
                EXPECT_EQ(unchanged.version, before.version) << where;
                EXPECT_EQ(this->stock_of("p1"), stock_before) << where;
                EXPECT_EQ(this->events_.transitions, transitions_before) << where;
            }
        }
    }
    EXPECT_EQ(cell, 5 * 4 * 3);
}

TYPED_TEST(ServiceOnStore, ReplaceItemsOnlyWhilePendingAndAtTheExpectedVersion) {
    this->add_product("p1", 100, 10);
    this->add_product("p2", 30, 10);
    const auto o = this->add_order(this->alice_, "p1", 4);
    EXPECT_THROW(
        this->sync(this->service_->replace_items(this->alice_, o.id, {{"p2", 1}}, 7)), precondition_failed
    );
    const auto replaced =
        this->sync(this->service_->replace_items(this->alice_, o.id, {{"p2", 5}, {"p1", 1}}, 1));
    EXPECT_EQ(replaced.version, 2);
    EXPECT_EQ(replaced.total_cents, 100 + 150);
    ASSERT_EQ(replaced.items.size(), 2U);
    EXPECT_EQ(replaced.items[0].product_id, "p1");  // items come back sorted by product
    EXPECT_EQ(this->stock_of("p1"), 9);
    EXPECT_EQ(this->stock_of("p2"), 5);
    this->sync(this->service_->apply(this->alice_, o.id, order_action::pay, std::nullopt));
    this->sync(this->service_->apply(this->admin_, o.id, order_action::ship, std::nullopt));
    try {
        this->sync(this->service_->replace_items(this->alice_, o.id, {{"p1", 1}}, std::nullopt));
        FAIL() << "no error";
    } catch (const business_error& e) {
        EXPECT_STREQ(e.what(), "Cannot modify shipped orders");
    }
    EXPECT_THROW(
        this->sync(this->service_->apply(this->alice_, o.id, order_action::cancel, 1)), precondition_failed
    );
}

TYPED_TEST(ServiceOnStore, IdempotencyReplaysMismatchesAndStoredRefusals) {
    this->add_product("p1", 100, 3);
    const auto claim = [](std::string key, std::string fingerprint) {
        return idempotency_claim{
            .caller = "ignored: the service sets it",
            .key = std::move(key),
            .fingerprint = std::move(fingerprint),
            .render_created = [](const order& o) { return "created " + o.id; },
            .render_refused = [](const stock_refusal& r) { return "refused " + r.product_id; },
        };
    };
    auto first =
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 1}}, claim("k1", "f1")})
        );
    const auto created = std::get<order>(first);
    auto again =
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 1}}, claim("k1", "f1")})
        );
    ASSERT_TRUE(std::holds_alternative<idempotent_replay>(again));
    EXPECT_EQ(std::get<idempotent_replay>(again).status, 201U);
    EXPECT_EQ(std::get<idempotent_replay>(again).body, "created " + created.id);
    EXPECT_THROW(
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 2}}, claim("k1", "f2")})
        ),
        idempotency_key_reused
    );
    // The key space is the caller's: bob's k1 is a new request.
    auto bobs =
        this->sync(this->service_->create_order(this->bob_, {std::nullopt, {{"p1", 1}}, claim("k1", "f1")}));
    EXPECT_TRUE(std::holds_alternative<order>(bobs));
    EXPECT_EQ(this->stock_of("p1"), 1);
    // A refused first request: the refusal is the stored answer.
    EXPECT_THROW(
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 5}}, claim("k2", "f3")})
        ),
        business_error
    );
    auto replayed =
        this->sync(this->service_->create_order(this->alice_, {std::nullopt, {{"p1", 5}}, claim("k2", "f3")})
        );
    ASSERT_TRUE(std::holds_alternative<idempotent_replay>(replayed));
    EXPECT_EQ(std::get<idempotent_replay>(replayed).status, 400U);
    EXPECT_EQ(std::get<idempotent_replay>(replayed).body, "refused p1");
    EXPECT_EQ(this->stock_of("p1"), 1);
    EXPECT_EQ(this->events_.created.load(), 2);
}

}  // namespace
}  // namespace svc::orders
