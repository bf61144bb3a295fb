#pragma once
// orders::order_store on PostgreSQL (see orders/store.hpp for the contract every method keeps).
//
// Round trips (docs/DATABASE.md, "Order store"): every method is ONE statement in ONE round
// trip, except create_order with an Idempotency-Key (two: claim + create, then store the
// rendered body + COMMIT) and the rare retries below.
//
// How correctness under concurrency is obtained, in one place:
// - create_order is a single statement of data-modifying CTEs: it locks the requested
//   products in id order (FOR NO KEY UPDATE), decides from the locked (latest) rows whether
//   every item can be served, and only then decrements the stock and inserts the order and
//   its items. Nothing is written on a refusal, so no savepoint is needed.
// - Idempotency-Key: the claim is a row in idempotency_keys inserted INSIDE the order's
//   transaction (a crash or rollback removes it with the order), plus a transaction-scoped
//   advisory lock on hash(caller, key) taken with pg_try_advisory_xact_lock: a duplicate that
//   finds the lock held answers "in flight" at once instead of waiting on the unique index.
// - Order changes (replace_items, transition) lock the order row in a first statement and
//   do the work in a second one of the same pipelined transaction: in READ COMMITTED the
//   second statement's snapshot is taken after the lock, so it sees the order's current
//   items (a single statement would read them from a snapshot older than its lock wait).
// - Lock order, everywhere: an order row before products, products by ascending id. No
//   transaction holding a product lock ever waits for an order row: no deadlock cycle.
//   Deadlocks and serialization failures are retried anyway (k_max_attempts).
//
// Threading: methods run on the calling event loop and use that loop's pool slice; the
// store itself holds no mutable state besides an atomic statement counter.

#include <atomic>
#include <cstdint>

#include "db/pg/pool.hpp"
#include "orders/store.hpp"

namespace svc::db {

class pg_order_store final : public orders::order_store {
public:
    // `pool` must outlive the store.
    explicit pg_order_store(pg::pool& pool) : pool_(pool) {}

    boost::asio::awaitable<std::variant<orders::product, orders::product_exists>> create_product(
        orders::new_product p, orders::timestamp now
    ) override;
    boost::asio::awaitable<std::optional<orders::product>> get_product(std::string id) override;
    boost::asio::awaitable<std::optional<orders::product>> update_product(
        std::string id, orders::product_patch patch, orders::timestamp now
    ) override;
    boost::asio::awaitable<orders::page<orders::product>> list_products(orders::product_query query) override;

    boost::asio::awaitable<orders::create_order_result> create_order(orders::new_order o) override;
    boost::asio::awaitable<std::optional<orders::order>> get_order(std::string id) override;
    boost::asio::awaitable<orders::page<orders::order>> list_orders(orders::order_query query) override;
    boost::asio::awaitable<orders::replace_items_result> replace_items(orders::replace_items_request r
    ) override;
    boost::asio::awaitable<orders::transition_result> transition(orders::transition_request r) override;
    boost::asio::awaitable<std::size_t> purge_idempotency_keys(orders::timestamp created_before) override;

    // SQL statements sent so far by this store (each statement of a pipeline counts once;
    // BEGIN/COMMIT/ROLLBACK count too). For tests that prove a fixed statement count.
    std::uint64_t statements_sent() const { return statements_sent_.load(std::memory_order_relaxed); }

private:
    boost::asio::awaitable<pg::result> execute(pg::lease& lease, std::string_view sql, pg::params args);
    boost::asio::awaitable<std::vector<pg::result>> pipeline(
        pg::lease& lease, std::vector<pg::query> queries
    );
    boost::asio::awaitable<orders::create_order_result> create_order_once(const orders::new_order& o);
    // BEGIN; claim + create; then store the rendered answer and COMMIT — or ROLLBACK on any
    // failure before the commit.
    boost::asio::awaitable<orders::create_order_result> create_order_idempotent(
        pg::lease& lease, const orders::new_order& o
    );
    boost::asio::awaitable<orders::create_order_result> claim_and_create(
        pg::lease& lease, const orders::new_order& o
    );

    pg::pool& pool_;
    std::atomic<std::uint64_t> statements_sent_{0};
};

}  // namespace svc::db
